// What `npzguard run` does with its flags, as one library call: check the hand-off flags (paths
// npzguard must pass on unchanged, the GPU pool, the trainer template and settings, the Slurm
// flags), build the executor (local GPU pool or Slurm array), run the study (run-study.ts) and,
// with --emit-script, write the batch script instead of submitting it. The CLI (cli/run.ts)
// parses argv into RunFlags, calls runCommand() and prints what it returns.
import { statSync } from "node:fs";
import { resolve } from "node:path";
import { loadStudyDesign } from "../study/design.js";
import type { JobFilters } from "../study/matrix.js";
import type { Backend } from "../study/types.js";
import type { ScanMode } from "../contract/types.js";
import { VERSION } from "../version.js";
import type { Executor } from "./executor.js";
import { toHandoffJob } from "./handoff.js";
import { LocalExecutor } from "./local-executor.js";
import { runStudy, type RunStudyOutcome } from "./run-study.js";
import { SlurmExecutor } from "./slurm-executor.js";
import { checkSbatchValue, checkSlurmPaths, writeSubmission, type SlurmScriptOptions } from "./slurm-script.js";
import { TRAINER_N_GROUPS, TRAINER_NEIGHBOR_COUNT, templatePlaceholders, validateTemplate } from "./trainer-command.js";

/** A flag value npzguard refuses before anything runs (the CLI prints it as a usage error, exit 2). */
export class RunOptionError extends Error {
  override readonly name = "RunOptionError";
}

/** The Slurm flags as given (undefined: not given). */
export interface SlurmFlags {
  partition?: string;
  account?: string;
  time?: string;
  mem?: string;
  qos?: string;
  constraint?: string;
  sbatchArgs?: string[];
  gpusPerTask?: string;
  arrayLimit?: string;
  emitScript?: boolean;
  detach?: boolean;
  pollInterval?: string;
}

/** `npzguard run`'s flags: the study options parsed, the hand-off flags as given (undefined: not given). */
export interface RunFlags {
  phaseCRoot: string;
  phaseDRoot: string;
  artifactRoot: string;
  /** --design FILE (loaded after the flags are checked). */
  design?: string;
  filters: JobFilters;
  strict: boolean;
  verify: boolean;
  backend: Backend;
  mode: ScanMode;
  nGroups: number;
  neighborCount: number;
  cache: boolean;
  /** --threads N: CPU threads for verification (undefined: automatic). */
  threads?: number;
  /** --json: no "N job(s) selected" progress line. */
  quiet: boolean;
  python?: string;
  workdir?: string;
  trainerCmd?: string;
  gpus?: string;
  executor?: string;
  skipBlocked: boolean;
  force: boolean;
  dryRun: boolean;
  waitLock: boolean;
  maxFailures?: string;
  slurm: SlurmFlags;
}

export interface RunCommandResult {
  /** The artifact root, resolved against the cwd. */
  artifactRoot: string;
  outcome: RunStudyOutcome;
  /** Slurm executor: the array submitted (null: none); undefined for the local executor. */
  submission?: { jobId: string; script: string } | null;
  detach: boolean;
  /** --emit-script: the batch script written, or why none was. */
  emitted?: { script: string; tasks: { task: number; id: string; command: string; log: string }[] } | { script: null; reason: string };
}

/** Slurm-only flags in the order their misuse is reported. */
const SLURM_ONLY: readonly [keyof SlurmFlags, string][] = [
  ["partition", "slurm-partition"],
  ["account", "slurm-account"],
  ["time", "slurm-time"],
  ["mem", "slurm-mem"],
  ["qos", "slurm-qos"],
  ["constraint", "slurm-constraint"],
  ["sbatchArgs", "sbatch-arg"],
  ["gpusPerTask", "gpus-per-task"],
  ["arrayLimit", "array-limit"],
  ["emitScript", "emit-script"],
  ["detach", "detach"],
  ["pollInterval", "poll-interval"],
];

/** Refuses a path npzguard cannot hand on exactly: control characters, or bytes that were not UTF-8. */
export function checkHandoffPath(flag: string, p: string): void {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(p)) {
    throw new RunOptionError(`Expected a path without control characters (newline, tab, ...) for ${flag}, got ${JSON.stringify(p)}`);
  }
  if (p.includes("\ufffd")) {
    throw new RunOptionError(`Expected a path that is valid UTF-8 for ${flag}, got ${JSON.stringify(p)} (npzguard could not pass it on unchanged)`);
  }
}

/** Parses `--gpus 0,1` into distinct ids; throws RunOptionError. */
export function parseGpus(text: string): string[] {
  const ids = text.split(",").map((s) => s.trim());
  if (ids.length === 0 || ids.some((s) => !/^[A-Za-z0-9_-]+$/.test(s))) {
    throw new RunOptionError(`Expected a comma-separated list of GPU ids for --gpus, got '${text}'`);
  }
  if (new Set(ids).size !== ids.length) throw new RunOptionError(`Duplicate GPU id in --gpus '${text}'`);
  return ids;
}

function intFlag(name: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[0-9]+$/.test(value) || Number(value) < min) throw new RunOptionError(`Expected an integer >= ${min} for --${name}, got '${value}'`);
  return Number(value);
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

interface SlurmSettings {
  script: SlurmScriptOptions;
  detach: boolean;
  emitScript: boolean;
  pollIntervalMs: number;
}

/** Checks the Slurm flags; throws RunOptionError. */
function slurmSettings(f: SlurmFlags): SlurmSettings {
  const text = (flag: string, v: string | undefined): string | undefined => {
    if (v === undefined) return undefined;
    const bad = checkSbatchValue(`--${flag}`, v);
    if (bad) throw new RunOptionError(bad);
    return v;
  };
  const script: SlurmScriptOptions = {};
  for (const [key, flag] of [
    ["partition", "slurm-partition"],
    ["account", "slurm-account"],
    ["time", "slurm-time"],
    ["mem", "slurm-mem"],
    ["qos", "slurm-qos"],
    ["constraint", "slurm-constraint"],
  ] as const) {
    const v = text(flag, f[key]);
    if (v !== undefined) script[key] = v;
  }
  const extra = f.sbatchArgs ?? [];
  for (const a of extra) {
    const bad = checkSbatchValue("--sbatch-arg", a);
    if (bad) throw new RunOptionError(bad);
    if (!a.startsWith("-")) throw new RunOptionError(`Expected an sbatch option (starting with -) for --sbatch-arg, got '${a}'`);
  }
  if (extra.length > 0) script.sbatchArgs = extra;
  const gpt = intFlag("gpus-per-task", text("gpus-per-task", f.gpusPerTask), 0);
  if (gpt !== undefined) script.gpusPerTask = gpt;
  const limit = intFlag("array-limit", text("array-limit", f.arrayLimit), 1);
  if (limit !== undefined) script.arrayLimit = limit;
  let pollIntervalMs = 5000;
  const poll = text("poll-interval", f.pollInterval);
  if (poll !== undefined) {
    const sec = Number(poll);
    if (!/^[0-9]*\.?[0-9]+$/.test(poll) || !(sec >= 0.1) || sec > 3600) {
      throw new RunOptionError(`Expected seconds between 0.1 and 3600 for --poll-interval, got '${poll}'`);
    }
    pollIntervalMs = Math.round(sec * 1000);
  }
  if (f.emitScript === true && f.detach === true) throw new RunOptionError("--emit-script and --detach are mutually exclusive");
  return { script, detach: f.detach === true, emitScript: f.emitScript === true, pollIntervalMs };
}

interface Prepared {
  roots: { phaseCRoot: string; phaseDRoot: string; artifactRoot: string };
  workdir: string;
  executor: Executor;
  slurm: SlurmSettings | null;
  maxFailures: number | undefined;
}

/** Checks every hand-off flag and builds the executor; throws RunOptionError or TemplateError. */
function prepare(f: RunFlags, progress: (line: string) => void): Prepared {
  // Roots are resolved once, against the invoking cwd: the trainer runs in --workdir, and every
  // path that leaves npzguard (command, log header, script, record) must name the verified file.
  const roots = { phaseCRoot: f.phaseCRoot, phaseDRoot: f.phaseDRoot, artifactRoot: f.artifactRoot };
  for (const [flag, key] of [
    ["--phase-c-root", "phaseCRoot"],
    ["--phase-d-root", "phaseDRoot"],
    ["--artifact-root", "artifactRoot"],
  ] as const) {
    checkHandoffPath(flag, roots[key]);
    roots[key] = resolve(roots[key]);
    checkHandoffPath(flag, roots[key]);
  }
  const workdir = resolve(f.workdir ?? process.cwd());
  checkHandoffPath("--workdir", workdir);
  const name = f.executor ?? "local";
  if (name !== "local" && name !== "slurm") throw new RunOptionError(`Expected local or slurm for --executor, got '${name}'`);
  const gpus = f.gpus === undefined ? [] : parseGpus(f.gpus);
  if (f.trainerCmd !== undefined) validateTemplate(f.trainerCmd);
  const placeholders = f.trainerCmd !== undefined ? templatePlaceholders(f.trainerCmd) : new Set<string>();
  if (f.nGroups !== TRAINER_N_GROUPS && !placeholders.has("n_groups")) {
    throw new RunOptionError(
      `--n-groups ${f.nGroups} is not what the trainer uses (n_groups = ${TRAINER_N_GROUPS}): jobs would be verified under other rules than they train with. ` +
        "Use `npzguard plan` to explore other settings, or pass the value on with --trainer-cmd '... {n_groups} ...'",
    );
  }
  if (f.neighborCount !== TRAINER_NEIGHBOR_COUNT && !placeholders.has("neighbor_count")) {
    throw new RunOptionError(
      `--neighbor-count ${f.neighborCount} is not what the trainer uses (K = ${TRAINER_NEIGHBOR_COUNT}): jobs would be verified under other rules than they train with. ` +
        "Use `npzguard plan` to explore other settings, or pass the value on with --trainer-cmd '... {neighbor_count} ...'",
    );
  }
  const maxFailures = intFlag("max-failures", f.maxFailures, 1);
  if (!isDirectory(workdir)) throw new RunOptionError(`--workdir ${workdir} is not a directory`);
  if (name === "slurm") {
    if (f.gpus !== undefined) throw new RunOptionError("--gpus is for the local executor; Slurm assigns GPUs (see --gpus-per-task)");
    if (maxFailures !== undefined) throw new RunOptionError("--max-failures is for the local executor (a Slurm array is submitted at once)");
    const bad = checkSlurmPaths(roots.artifactRoot, workdir);
    if (bad) throw new RunOptionError(bad);
    const slurm = slurmSettings(f.slurm);
    const executor = new SlurmExecutor({
      ...slurm.script,
      artifactRoot: roots.artifactRoot,
      workdir,
      detach: slurm.detach,
      pollIntervalMs: slurm.pollIntervalMs,
      progress,
      generatedBy: `npzguard ${VERSION}`,
    });
    return { roots, workdir, executor, slurm, maxFailures };
  }
  const used = SLURM_ONLY.find(([k]) => f.slurm[k] !== undefined);
  if (used) throw new RunOptionError(`--${used[1]} needs --executor slurm`);
  return { roots, workdir, executor: new LocalExecutor({ gpus }), slurm: null, maxFailures };
}

/**
 * One `npzguard run`. Throws RunOptionError / TemplateError (bad flags, before anything runs),
 * then what runStudy() throws (HandoffError, StudyError, SlurmError, NpzError, fs errors).
 */
export async function runCommand(f: RunFlags, ctx: { signal?: AbortSignal; progress?: (line: string) => void } = {}): Promise<RunCommandResult> {
  const progress = ctx.progress ?? (() => undefined);
  const p = prepare(f, progress);
  const design = f.design !== undefined ? loadStudyDesign(f.design) : undefined;
  const outcome = await runStudy({
    ...p.roots,
    ...(design ? { design } : {}),
    filters: f.filters,
    allowMissingPhaseD: !f.strict,
    verify: f.verify,
    backend: f.backend,
    mode: f.mode,
    nGroups: f.nGroups,
    neighborCount: f.neighborCount,
    cache: f.cache,
    ...(f.threads !== undefined ? { threads: f.threads } : {}),
    python: f.python ?? "python3",
    workdir: p.workdir,
    ...(f.trainerCmd !== undefined ? { trainerCmd: f.trainerCmd } : {}),
    skipBlocked: f.skipBlocked,
    force: f.force,
    dryRun: f.dryRun || p.slurm?.emitScript === true,
    waitLock: f.waitLock,
    ...(p.maxFailures !== undefined ? { maxFailures: p.maxFailures } : {}),
    executor: p.executor,
    ...(ctx.signal ? { signal: ctx.signal } : {}),
    progress,
    quiet: f.quiet,
  });
  const res: RunCommandResult = { artifactRoot: p.roots.artifactRoot, outcome, detach: p.slurm?.detach === true };
  if (p.executor instanceof SlurmExecutor) {
    const s = p.executor.submission;
    res.submission = s ? { jobId: s.jobId, script: s.script } : null;
  }
  if (outcome.kind === "handed-off" && p.slurm?.emitScript) {
    // The gate as for a dry run, then the batch script of the verified jobs; nothing is submitted.
    const opts = outcome.handoffOptions;
    const verified = outcome.jobs.filter((j) => j.verified).map((j) => toHandoffJob(j, opts));
    if (outcome.result.gated || verified.length === 0) {
      res.emitted = { script: null, reason: outcome.result.gated ? "a selected job is blocked" : "no verified job" };
    } else {
      const paths = await writeSubmission(verified, opts.artifactRoot, opts.workdir ?? process.cwd(), p.slurm.script, undefined, `npzguard ${VERSION}`);
      res.emitted = {
        script: paths.script,
        tasks: verified.map((h, i) => ({ task: i, id: h.id, command: h.command.display, log: h.cliLogPath })),
      };
    }
  }
  return res;
}
