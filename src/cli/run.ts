// `npzguard run`: plan + verify the study's Phase E jobs, then hand the verified ones to the
// trainer (study spec §10.3). Argument handling, the executor's construction and printing only;
// the run itself is src/handoff/run-study.ts (lock, record, Slurm probe, plan + verify, trainer
// import check) and src/handoff/handoff.ts (gate, resume, drift, executor,
// evidence, record). Over 400 lines only because of the help text, the Slurm flags and the
// human / JSON printing.
import { statSync } from "node:fs";
import { resolve } from "node:path";
import { EXIT, UsageError, errorLine, intOption, jsonText, printUsageError } from "./common.js";
import { STUDY_OPTIONS_HELP, parseStudyArgs, studyFilters } from "./study-options.js";
import { isStudyError, loadStudyDesign } from "../study/design.js";
import { isNpzError } from "../errors.js";
import type { Executor } from "../handoff/executor.js";
import { toHandoffJob, type HandoffOptions, type HandoffResult } from "../handoff/handoff.js";
import { runStudy } from "../handoff/run-study.js";
import type { BlockedRecord, CheckSettings } from "../handoff/run-record.js";
import { isHandoffError } from "../handoff/errors.js";
import { LocalExecutor } from "../handoff/local-executor.js";
import { isSlurmError } from "../handoff/slurm.js";
import { SlurmExecutor } from "../handoff/slurm-executor.js";
import { checkSbatchValue, checkSlurmPaths, writeSubmission, type SlurmScriptOptions } from "../handoff/slurm-script.js";
import { VERSION } from "../version.js";
import { TemplateError, TRAINER_N_GROUPS, TRAINER_NEIGHBOR_COUNT, templatePlaceholders, validateTemplate } from "../handoff/trainer-command.js";
import { pyExp0 } from "../python/repr.js";
import type { VerifiedJob } from "../study/types.js";

const RUN_SPECS = {
  python: { type: "string" },
  workdir: { type: "string" },
  "trainer-cmd": { type: "string" },
  gpus: { type: "string" },
  "skip-blocked": { type: "boolean" },
  force: { type: "boolean" },
  "dry-run": { type: "boolean" },
  executor: { type: "string" },
  "slurm-partition": { type: "string" },
  "slurm-account": { type: "string" },
  "slurm-time": { type: "string" },
  "slurm-mem": { type: "string" },
  "slurm-qos": { type: "string" },
  "slurm-constraint": { type: "string" },
  "sbatch-arg": { type: "string", multiple: true },
  "gpus-per-task": { type: "string" },
  "array-limit": { type: "string" },
  "emit-script": { type: "boolean" },
  detach: { type: "boolean" },
  "poll-interval": { type: "string" },
  "wait-lock": { type: "boolean" },
  "max-failures": { type: "string" },
} as const;

const SLURM_ONLY = [
  "slurm-partition",
  "slurm-account",
  "slurm-time",
  "slurm-mem",
  "slurm-qos",
  "slurm-constraint",
  "sbatch-arg",
  "gpus-per-task",
  "array-limit",
  "emit-script",
  "detach",
  "poll-interval",
] as const;

/** Refuses a path npzguard cannot hand on exactly: control characters, or bytes that were not UTF-8. */
export function checkHandoffPath(flag: string, p: string): void {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(p)) {
    throw new UsageError(`Expected a path without control characters (newline, tab, ...) for ${flag}, got ${JSON.stringify(p)}`);
  }
  if (p.includes("\ufffd")) {
    throw new UsageError(`Expected a path that is valid UTF-8 for ${flag}, got ${JSON.stringify(p)} (npzguard could not pass it on unchanged)`);
  }
}

export const RUN_HELP = `Usage: npzguard run --phase-c-root C --phase-d-root D --artifact-root A [options]

Verifies every selected job's datasets, then runs one trainer process per verified job:
  <python> -m studies.fly64_dose_overlap.training --phase-c-root C --phase-d-root D
      --artifact-root A --dose <d> --view <v> --gridsize <g> --backend <b>
Success is judged from evidence (manifest or train.log, bundle size and SHA-256), never from
the exit code alone. Progress goes to stderr; per-job logs to A/logs/phase_e_<view>_gs<g>_dose<int>.log;
the resumable record to A/npzguard_runs.json (a re-run skips jobs that already succeeded with
the same inputs, check settings and trainer command). Roots are resolved to absolute paths
first. One run per artifact root at a time (lock A/.npzguard.lock). Each trainer runs in its own
process group: Ctrl-C / SIGTERM stop it and record the job as interrupted (exit 130 / 143).
The checks use the trainer's own settings (n_groups 512, K 4); other --n-groups /
--neighbor-count values are refused unless --trainer-cmd passes them on ({n_groups},
{neighbor_count}).

Run options:
  --python PATH          interpreter for the study CLI (default python3)
  --workdir DIR          PtychoPINN checkout, the trainer's working directory (default: cwd)
  --trainer-cmd TEMPLATE custom command run through /bin/sh; placeholders (quoted for where
                         they stand; not allowed inside $(...) or backticks):
                         {python} {dose} {view} {gridsize} {backend} {phase_c_root}
                         {phase_d_root} {artifact_root} {artifact_dir} {train} {test} {log}
                         {n_groups} {neighbor_count}
  --gpus 0,1             GPU pool: at most one job per GPU at once, CUDA_VISIBLE_DEVICES per job
                         (default: one job at a time, environment unchanged)
  --skip-blocked         run the verified jobs even if some selected jobs are blocked (exit 1)
  --force                redo jobs the record says already succeeded
  --dry-run              verify and print the exact commands; launch nothing
  --wait-lock            wait while another run holds the artifact root's lock (default: exit 1)
  --max-failures N       stop launching new jobs after N failed jobs (local executor)
  --executor local|slurm where trainers run: this machine's GPU pool (default) or one Slurm
                         job array (one task per job, submitted with sbatch)

Slurm options (--executor slurm):
  --slurm-partition P    --partition      --slurm-account A   --account
  --slurm-time T         --time           --slurm-mem M       --mem
  --slurm-qos Q          --qos            --slurm-constraint C --constraint
  --sbatch-arg ARG       any other #SBATCH argument, one argument each (repeatable), e.g. --sbatch-arg=--exclusive
  --gpus-per-task N      --gpus-per-task=N instead of the default --gres=gpu:1 (0: no GPU request)
  --array-limit N        at most N tasks at once (--array=0-<n-1>%N)
  --emit-script          write the batch script to A/slurm/ and print its path; submit nothing
  --detach               submit, print the job id and exit; follow with \`npzguard status\`
  --poll-interval S      seconds between squeue/scontrol polls (default 5)
  Ctrl-C while monitoring cancels the array (scancel). Exit 3 when Slurm is not reachable.

${STUDY_OPTIONS_HELP}

Exit status: 0 all selected jobs succeeded, 1 a job was blocked or failed, no job was selected
or another run holds the lock, 2 usage error (incl. a trainer module that does not import),
3 unreadable root, design or record, 130/143 interrupted by SIGINT/SIGTERM.`;

/** Parses `--gpus 0,1` into distinct ids; throws UsageError. */
export function parseGpus(text: string): string[] {
  const ids = text.split(",").map((s) => s.trim());
  if (ids.length === 0 || ids.some((s) => !/^[A-Za-z0-9_-]+$/.test(s))) {
    throw new UsageError(`Expected a comma-separated list of GPU ids for --gpus, got '${text}'`);
  }
  if (new Set(ids).size !== ids.length) throw new UsageError(`Duplicate GPU id in --gpus '${text}'`);
  return ids;
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function jsonResult(r: HandoffResult, noVerify: boolean, extra: RunFacts): unknown {
  return {
    executor: r.executor,
    dry_run: r.dryRun,
    verified: !noVerify,
    gated: r.gated,
    exit_code: r.exitCode,
    record: r.recordPath,
    commands: r.commands,
    jobs: r.jobs.map((j) => ({
      id: j.id,
      dose: j.job.dose,
      view: j.job.view,
      gridsize: j.job.gridsize,
      status: j.status,
      reasons: j.reasons,
      exit_status: j.outcome?.exit?.exitCode ?? null,
      gpu: j.outcome?.exit?.gpu ?? null,
      evidence_source: j.outcome?.evidence?.source ?? null,
      result_status: j.outcome?.evidence?.resultStatus ?? null,
      bundle_path: j.outcome?.evidence?.bundlePath ?? null,
      bundle_sha256: j.outcome?.evidence?.bundleSha256 ?? null,
      bundle_size_bytes: j.outcome?.evidence?.bundleSizeBytes ?? null,
    })),
    skipped_views: r.skipped,
    blocked_files: extra.blockedFiles,
    resume: r.resume,
    interrupted: r.interrupted,
    check_settings: extra.settings,
    matrix_jobs: extra.matrixJobs,
  };
}

interface RunFacts {
  settings: CheckSettings;
  blockedFiles: BlockedRecord[];
  /** Jobs of the matrix under the filters, skipped views included ("8 of 9 jobs"). */
  matrixJobs: number;
}

function printHuman(r: HandoffResult, facts: RunFacts): void {
  const out: string[] = [];
  if (r.dryRun) {
    out.push(`Dry run (${r.executor} executor): ${r.commands.length} job(s) would be launched${r.gated ? " (but blocked jobs stop the run)" : ""}`);
    for (const c of r.commands) out.push("", `# ${c.id}  (cwd ${c.cwd}, log ${c.log})`, c.command);
  }
  for (const s of r.skipped) out.push(`skipped ${s.view} (dose=${pyExp0(s.dose)}): ${s.reason}`);
  const counts = new Map<string, number>();
  if (r.jobs.length > 0) out.push("");
  for (const j of r.jobs) {
    counts.set(j.status, (counts.get(j.status) ?? 0) + 1);
    const detail =
      j.status === "resumed"
        ? "already succeeded with the same inputs, settings and command (bundle unchanged)"
        : j.status === "adopted"
          ? "success of the trainer an earlier, killed run left running"
          : j.reasons.join("; ");
    out.push(`${j.status.padEnd(11)} ${j.id}${detail ? `  ${detail}` : ""}`);
    if (j.status === "blocked") {
      for (const b of facts.blockedFiles.filter((x) => x.id === j.id)) {
        for (const v of b.violations) out.push(`${"".padEnd(11)}   ${b.file} ${b.path}: ${v.rule}: ${v.message}`);
      }
    }
  }
  const summary = [...counts.entries()].map(([k, n]) => `${n} ${k}`).join(", ");
  const ofAll = r.skipped.length > 0 ? `${r.jobs.length} of ${facts.matrixJobs} jobs (${r.skipped.length} view(s) skipped): ` : `${r.jobs.length} job(s): `;
  out.push("", `${r.jobs.length > 0 ? ofAll : ""}${summary || "no jobs selected"}${r.recordPath ? `; record ${r.recordPath}` : ""}`);
  process.stdout.write(out.join("\n") + "\n");
}

export async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseStudyArgs(argv, RUN_SPECS);
  } catch (e) {
    if (e instanceof UsageError) {
      printUsageError(e, "Run `npzguard run --help` for the options.");
      return EXIT.USAGE;
    }
    throw e;
  }
  const o = parsed.options;
  if (o.help) {
    process.stdout.write(RUN_HELP + "\n");
    return EXIT.OK;
  }
  const x = parsed.extra;
  const str = (k: string): string | undefined => (typeof x[k] === "string" ? (x[k] as string) : undefined);
  let executor: Executor;
  let trainerCmd: string | undefined;
  let slurm: SlurmCli | null = null;
  let workdir = "";
  let maxFailures: number | undefined;
  const say = (line: string): void => {
    process.stderr.write(`npzguard run: ${line}\n`);
  };
  try {
    // Roots are resolved once, against the invoking cwd: the trainer runs in --workdir, and every
    // path that leaves npzguard (command, log header, script, record) must name the verified file.
    for (const [flag, key] of [
      ["--phase-c-root", "phaseCRoot"],
      ["--phase-d-root", "phaseDRoot"],
      ["--artifact-root", "artifactRoot"],
    ] as const) {
      checkHandoffPath(flag, o[key]);
      o[key] = resolve(o[key]);
      checkHandoffPath(flag, o[key]);
    }
    workdir = resolve(str("workdir") ?? process.cwd());
    checkHandoffPath("--workdir", workdir);
    const name = str("executor") ?? "local";
    if (name !== "local" && name !== "slurm") throw new UsageError(`Expected local or slurm for --executor, got '${name}'`);
    const gpusText = str("gpus");
    const gpus = gpusText === undefined ? [] : parseGpus(gpusText);
    trainerCmd = str("trainer-cmd");
    if (trainerCmd !== undefined) validateTemplate(trainerCmd);
    const placeholders = trainerCmd !== undefined ? templatePlaceholders(trainerCmd) : new Set<string>();
    if (o.nGroups !== TRAINER_N_GROUPS && !placeholders.has("n_groups")) {
      throw new UsageError(
        `--n-groups ${o.nGroups} is not what the trainer uses (n_groups = ${TRAINER_N_GROUPS}): jobs would be verified under other rules than they train with. ` +
          "Use `npzguard plan` to explore other settings, or pass the value on with --trainer-cmd '... {n_groups} ...'",
      );
    }
    if (o.neighborCount !== TRAINER_NEIGHBOR_COUNT && !placeholders.has("neighbor_count")) {
      throw new UsageError(
        `--neighbor-count ${o.neighborCount} is not what the trainer uses (K = ${TRAINER_NEIGHBOR_COUNT}): jobs would be verified under other rules than they train with. ` +
          "Use `npzguard plan` to explore other settings, or pass the value on with --trainer-cmd '... {neighbor_count} ...'",
      );
    }
    maxFailures = intOption("max-failures", str("max-failures"), 1);
    if (!isDirectory(workdir)) throw new UsageError(`--workdir ${workdir} is not a directory`);
    if (name === "slurm") {
      if (gpusText !== undefined) throw new UsageError("--gpus is for the local executor; Slurm assigns GPUs (see --gpus-per-task)");
      if (maxFailures !== undefined) throw new UsageError("--max-failures is for the local executor (a Slurm array is submitted at once)");
      const bad = checkSlurmPaths(o.artifactRoot, workdir);
      if (bad) throw new UsageError(bad);
      slurm = parseSlurmOptions(x);
      executor = new SlurmExecutor({
        ...slurm.script,
        artifactRoot: o.artifactRoot,
        workdir,
        detach: slurm.detach,
        pollIntervalMs: slurm.pollIntervalMs,
        progress: say,
        generatedBy: `npzguard ${VERSION}`,
      });
    } else {
      const used = SLURM_ONLY.filter((k) => x[k] !== undefined);
      if (used.length > 0) throw new UsageError(`--${used[0]} needs --executor slurm`);
      executor = new LocalExecutor({ gpus });
    }
  } catch (e) {
    if (e instanceof UsageError) {
      printUsageError(e);
      return EXIT.USAGE;
    }
    if (e instanceof TemplateError) {
      printUsageError(new UsageError(e.message));
      return EXIT.USAGE;
    }
    throw e;
  }

  const controller = new AbortController();
  let interruptedBy: NodeJS.Signals | null = null;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (interruptedBy !== null) return;
    interruptedBy = sig;
    say(`${sig} received: ${slurm ? "cancelling the Slurm job array" : "stopping running trainers (their whole process groups)"}`);
    controller.abort(sig);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const dryRun = x["dry-run"] === true || slurm?.emitScript === true;
  try {
    const design = o.design !== undefined ? loadStudyDesign(o.design) : undefined;
    const outcome = await runStudy({
      phaseCRoot: o.phaseCRoot,
      phaseDRoot: o.phaseDRoot,
      artifactRoot: o.artifactRoot,
      ...(design ? { design } : {}),
      filters: studyFilters(o),
      allowMissingPhaseD: !o.strict,
      verify: o.verify,
      backend: o.backend,
      mode: o.mode,
      nGroups: o.nGroups,
      neighborCount: o.neighborCount,
      cache: o.cache,
      ...(o.threads !== undefined ? { threads: o.threads } : {}),
      python: str("python") ?? "python3",
      workdir,
      ...(trainerCmd !== undefined ? { trainerCmd } : {}),
      skipBlocked: x["skip-blocked"] === true,
      force: x.force === true,
      dryRun,
      waitLock: x["wait-lock"] === true,
      ...(maxFailures !== undefined ? { maxFailures } : {}),
      executor,
      signal: controller.signal,
      progress: say,
      quiet: o.json,
    });
    if (outcome.kind === "slurm-busy") {
      const ids = outcome.arrayIds.join(", ");
      process.stderr.write(
        `npzguard run: ${outcome.active.length} job(s) of an earlier submission are still pending or running in Slurm (job ${ids}); ` +
          `follow them with \`npzguard status --artifact-root ${o.artifactRoot}\` or cancel them with \`scancel ${ids}\`\n`,
      );
      return EXIT.VIOLATIONS;
    }
    if (outcome.kind === "no-jobs") {
      const skipped = outcome.plan.skipped;
      const skippedNote =
        skipped.length > 0 ? ` (${skipped.length} view(s) skipped: ${skipped.map((s) => `${s.view} dose=${pyExp0(s.dose)}`).join(", ")})` : "";
      process.stderr.write(`npzguard run: no job matches the filters${skippedNote}; nothing to run\n`);
      return EXIT.VIOLATIONS;
    }
    const { result, plan, jobs, handoffOptions } = outcome;
    const facts: RunFacts = { settings: outcome.settings, blockedFiles: outcome.blockedFiles, matrixJobs: outcome.matrixJobs };
    if (slurm?.emitScript) return await emitScript(result, jobs, handoffOptions, slurm.script, o.json, facts);
    if (o.json) {
      const doc = jsonResult(result, !plan.verifiedRun, facts) as Record<string, unknown>;
      if (executor instanceof SlurmExecutor) doc.slurm = executor.submission ? { job_id: executor.submission.jobId, script: executor.submission.script } : null;
      process.stdout.write(jsonText(doc));
    } else {
      printHuman(result, facts);
      if (executor instanceof SlurmExecutor && executor.submission && slurm?.detach) {
        process.stdout.write(`Submitted Slurm job array ${executor.submission.jobId}; follow it with: npzguard status --artifact-root ${o.artifactRoot}\n`);
      }
    }
    if (interruptedBy !== null) return interruptedBy === "SIGINT" ? 130 : 143;
    return result.exitCode;
  } catch (e) {
    if (interruptedBy !== null && controller.signal.aborted && !isHandoffError(e)) {
      process.stderr.write(`npzguard run: interrupted by ${interruptedBy}\n`);
      return interruptedBy === "SIGINT" ? 130 : 143;
    }
    if (isSlurmError(e)) {
      process.stderr.write(e.toLine() + "\n");
      return e.code === "ERR_SLURM_UNAVAILABLE" ? EXIT.UNREADABLE : EXIT.VIOLATIONS;
    }
    if (isHandoffError(e)) {
      process.stderr.write(`npzguard run: ${e.toLine()}\n`);
      if (e.code === "ERR_RUN_RECORD" || e.code === "ERR_RUN_LOCK") return EXIT.UNREADABLE;
      if (e.code === "ERR_TRAINER_IMPORT") return EXIT.USAGE;
      return EXIT.VIOLATIONS;
    }
    process.stderr.write((isStudyError(e) ? e.toLine() : errorLine(e, o.debug)) + "\n");
    if (isStudyError(e, "ERR_STUDY_ROOT", "ERR_STUDY_DESIGN") || isNpzError(e)) return EXIT.UNREADABLE;
    if (isStudyError(e)) return EXIT.VIOLATIONS;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EACCES" || code === "ENOENT" || code === "ENOTDIR" || code === "EROFS") return EXIT.UNREADABLE;
    throw e;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

interface SlurmCli {
  script: SlurmScriptOptions;
  detach: boolean;
  emitScript: boolean;
  pollIntervalMs: number;
}

/** Reads and checks the Slurm flags; throws UsageError. */
function parseSlurmOptions(x: Record<string, unknown>): SlurmCli {
  const text = (k: string): string | undefined => {
    const v = x[k];
    if (typeof v !== "string") return undefined;
    const bad = checkSbatchValue(`--${k}`, v);
    if (bad) throw new UsageError(bad);
    return v;
  };
  const script: SlurmScriptOptions = {};
  const map = [
    ["slurm-partition", "partition"],
    ["slurm-account", "account"],
    ["slurm-time", "time"],
    ["slurm-mem", "mem"],
    ["slurm-qos", "qos"],
    ["slurm-constraint", "constraint"],
  ] as const;
  for (const [flag, key] of map) {
    const v = text(flag);
    if (v !== undefined) script[key] = v;
  }
  const extra = Array.isArray(x["sbatch-arg"]) ? (x["sbatch-arg"] as unknown[]).map(String) : [];
  for (const a of extra) {
    const bad = checkSbatchValue("--sbatch-arg", a);
    if (bad) throw new UsageError(bad);
    if (!a.startsWith("-")) throw new UsageError(`Expected an sbatch option (starting with -) for --sbatch-arg, got '${a}'`);
  }
  if (extra.length > 0) script.sbatchArgs = extra;
  const gpt = intOption("gpus-per-task", text("gpus-per-task"), 0);
  if (gpt !== undefined) script.gpusPerTask = gpt;
  const limit = intOption("array-limit", text("array-limit"), 1);
  if (limit !== undefined) script.arrayLimit = limit;
  let pollIntervalMs = 5000;
  const poll = text("poll-interval");
  if (poll !== undefined) {
    const sec = Number(poll);
    if (!/^[0-9]*\.?[0-9]+$/.test(poll) || !(sec >= 0.1) || sec > 3600) {
      throw new UsageError(`Expected seconds between 0.1 and 3600 for --poll-interval, got '${poll}'`);
    }
    pollIntervalMs = Math.round(sec * 1000);
  }
  if (x["emit-script"] === true && x.detach === true) throw new UsageError("--emit-script and --detach are mutually exclusive");
  return { script, detach: x.detach === true, emitScript: x["emit-script"] === true, pollIntervalMs };
}

/** --emit-script: the gate as for a dry run, then the batch script of the verified jobs; nothing is submitted. */
async function emitScript(
  result: HandoffResult,
  jobs: VerifiedJob[],
  opts: HandoffOptions,
  script: SlurmScriptOptions,
  json: boolean,
  facts: RunFacts,
): Promise<number> {
  const verified = jobs.filter((j) => j.verified).map((j) => toHandoffJob(j, opts));
  if (result.gated || verified.length === 0) {
    printHuman(result, facts);
    process.stderr.write(`npzguard run: no batch script written (${result.gated ? "a selected job is blocked" : "no verified job"})\n`);
    return EXIT.VIOLATIONS;
  }
  const paths = await writeSubmission(verified, opts.artifactRoot, opts.workdir ?? process.cwd(), script, undefined, `npzguard ${VERSION}`);
  if (json) {
    process.stdout.write(
      jsonText({
        executor: "slurm",
        script: paths.script,
        tasks: verified.map((h, i) => ({ task: i, id: h.id, command: h.command.display, log: h.cliLogPath })),
      }),
    );
  } else {
    process.stdout.write(`${paths.script}\n`);
    process.stderr.write(`npzguard run: wrote the batch script for ${verified.length} job(s); submit it with: sbatch ${paths.script}\n`);
  }
  return result.exitCode;
}
