// `npzguard run` as a library call: the whole life of one run over an artifact root, in order —
// take the run lock, refuse a damaged record, (Slurm) make sure this machine can submit and no
// earlier array is still active, plan and verify the jobs, check once that the trainer module
// imports, then hand the verified jobs to the executor (handoff.ts). The CLI (cli/run.ts) only
// parses, builds the executor, calls this and prints.
import { spawnSync } from "node:child_process";
import type { VerifyOptions } from "../gate/preflight.js";
import { planStudy, type PlanStudyResult } from "../gate/preflight.js";
import type { FileStamp } from "../gate/cache.js";
import type { StudyDesign } from "../study/design.js";
import { requireDirectory, type JobFilters } from "../study/matrix.js";
import type { VerifiedJob } from "../study/types.js";
import { HandoffError } from "./errors.js";
import type { Executor } from "./executor.js";
import { blockedRecords, runHandoff, type HandoffOptions, type HandoffResult } from "./handoff.js";
import { identityFromReport, type InputIdentity } from "./inputs.js";
import { RunLock } from "./lock.js";
import { readRunRecord, type BlockedRecord, type CheckSettings, type RunRecordEntry } from "./run-record.js";
import { checkSlurm } from "./slurm.js";
import { refreshSlurmRecord } from "./slurm-executor.js";
import { TRAINER_MODULE } from "./trainer-command.js";
import type { Backend } from "../study/types.js";
import type { ScanMode } from "../contract/types.js";

export interface RunStudyOptions {
  /** Absolute roots (the CLI resolves them against its cwd first). */
  phaseCRoot: string;
  phaseDRoot: string;
  artifactRoot: string;
  design?: StudyDesign;
  filters?: JobFilters;
  allowMissingPhaseD: boolean;
  /** false: --no-verify (existence checks only; jobs are handed off as planned). */
  verify: boolean;
  backend: Backend;
  mode: ScanMode;
  nGroups: number;
  neighborCount: number;
  cache: boolean;
  /** CPU threads for verification (VerifyOptions.threads); undefined: automatic. */
  threads?: number;
  python: string;
  workdir: string;
  trainerCmd?: string;
  skipBlocked: boolean;
  force: boolean;
  dryRun: boolean;
  waitLock: boolean;
  maxFailures?: number;
  executor: Executor;
  signal?: AbortSignal;
  progress?: (line: string) => void;
  /** Quiet the "N job(s) selected" line (JSON output). */
  quiet?: boolean;
}

export type RunStudyOutcome =
  | {
      kind: "handed-off";
      result: HandoffResult;
      plan: PlanStudyResult;
      /** The selected jobs as handed to runHandoff (verified ones launchable). */
      jobs: VerifiedJob[];
      settings: CheckSettings;
      blockedFiles: BlockedRecord[];
      /** Jobs of the matrix under the filters, skipped views included ("8 of 9 jobs"). */
      matrixJobs: number;
      handoffOptions: HandoffOptions;
    }
  | { kind: "no-jobs"; plan: PlanStudyResult }
  | { kind: "slurm-busy"; active: RunRecordEntry[]; arrayIds: string[] };

/** Runs `<python> -c "import <trainer module>"` in the workdir once; throws ERR_TRAINER_IMPORT with the error's last line. */
export function checkTrainerImports(python: string, workdir: string): void {
  const r = spawnSync(python, ["-c", `import ${TRAINER_MODULE}`], { cwd: workdir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 300_000 });
  if (r.error) {
    throw new HandoffError("ERR_TRAINER_IMPORT", `cannot run --python ${python}: ${r.error.message}`);
  }
  if (r.status !== 0) {
    const last =
      (r.stderr ?? "")
        .trim()
        .split("\n")
        .filter((l) => l.trim())
        .pop() ?? `exit status ${r.status ?? r.signal}`;
    throw new HandoffError(
      "ERR_TRAINER_IMPORT",
      `${python} cannot import ${TRAINER_MODULE} in ${workdir}: ${last.trim()} (check --workdir and --python); nothing was launched`,
    );
  }
}

/** One `npzguard run` (see the header). Throws HandoffError / StudyError / SlurmError / NpzError. */
export async function runStudy(o: RunStudyOptions): Promise<RunStudyOutcome> {
  const say = o.progress ?? (() => undefined);
  const lock = o.dryRun
    ? null
    : await RunLock.acquire(o.artifactRoot, {
        wait: o.waitLock,
        onWait: (h) =>
          say(
            `${o.artifactRoot} is in use by ${h?.pid ? `npzguard pid ${h.pid}${h.host ? ` on ${h.host}` : ""}` : "another npzguard"}; waiting for it (--wait-lock)`,
          ),
        ...(o.signal ? { signal: o.signal } : {}),
      });
  try {
    // A damaged record stops the run before any verification work (ERR_RUN_RECORD).
    if (!o.dryRun) await readRunRecord(o.artifactRoot);
    if (o.executor.name === "slurm" && !o.dryRun) {
      // Fail fast, before any verification work, when this machine cannot submit.
      await checkSlurm();
      const earlier = await refreshSlurmRecord(o.artifactRoot);
      for (const n of earlier.notes) say(n);
      if (earlier.active.length > 0) {
        return { kind: "slurm-busy", active: earlier.active, arrayIds: [...new Set(earlier.active.map((j) => (j.external_id ?? "").split("_")[0] ?? ""))] };
      }
    }
    requireDirectory(o.phaseCRoot, "Phase C");
    const verify: false | Omit<VerifyOptions, "artifactRoot"> = o.verify
      ? {
          backend: o.backend,
          neighborCount: o.neighborCount,
          nGroups: o.nGroups,
          mode: o.mode,
          cache: o.cache,
          ...(o.threads !== undefined ? { threads: o.threads } : {}),
          ...(o.signal ? { signal: o.signal } : {}),
        }
      : false;
    const plan = await planStudy({
      phaseCRoot: o.phaseCRoot,
      phaseDRoot: o.phaseDRoot,
      artifactRoot: o.artifactRoot,
      ...(o.design ? { design: o.design } : {}),
      ...(o.filters ? { filters: o.filters } : {}),
      allowMissingPhaseD: o.allowMissingPhaseD,
      verify,
    });
    for (const w of plan.cacheWarnings) say(`warning: ${w}`);
    if (plan.jobs.length === 0) return { kind: "no-jobs", plan };
    if (!plan.verifiedRun) say("--no-verify: datasets were not verified (existence checks only)");
    // Without verification the gate has nothing to hold on: planned jobs are handed off as is.
    const jobs: VerifiedJob[] = plan.verifiedRun ? plan.jobs : plan.jobs.map((j) => ({ ...j, verified: true }));
    const stamps = new Map<string, FileStamp>();
    const inputs = new Map<string, InputIdentity | null>();
    for (const [p, rep] of Object.entries(plan.reports)) {
      if (!rep.readError) stamps.set(p, { size: rep.digest.size, mtimeMs: rep.digest.mtimeMs, inode: rep.digest.inode });
      inputs.set(p, identityFromReport(p, rep));
    }
    const settings: CheckSettings = { backend: o.backend, mode: plan.verifiedRun ? o.mode : "none", n_groups: o.nGroups, neighbor_count: o.neighborCount };
    if (!o.dryRun && o.executor.name === "local" && o.trainerCmd === undefined && jobs.some((j) => j.verified)) {
      checkTrainerImports(o.python, o.workdir);
    }
    if (!o.quiet) say(`${jobs.length} job(s) selected, ${jobs.filter((j) => !j.verified).length} blocked; executor ${o.executor.name}`);
    const handoffOptions: HandoffOptions = {
      phaseCRoot: o.phaseCRoot,
      phaseDRoot: o.phaseDRoot,
      artifactRoot: o.artifactRoot,
      backend: o.backend,
      python: o.python,
      workdir: o.workdir,
      ...(o.trainerCmd !== undefined ? { trainerCmd: o.trainerCmd } : {}),
      skipBlocked: o.skipBlocked,
      force: o.force,
      dryRun: o.dryRun,
      executor: o.executor,
      ...(o.signal ? { signal: o.signal } : {}),
      progress: say,
      checkSettings: settings,
      ...(o.maxFailures !== undefined ? { maxFailures: o.maxFailures } : {}),
      ...(lock ? { lock } : {}),
    };
    const result = await runHandoff({ jobs, skipped: plan.skipped, stamps, inputs, blockedFiles: plan.blocked }, handoffOptions);
    return {
      kind: "handed-off",
      result,
      plan,
      jobs,
      settings,
      blockedFiles: blockedRecords(jobs, plan.blocked),
      matrixJobs: plan.jobs.length + plan.skipped.length,
      handoffOptions,
    };
  } finally {
    lock?.release();
  }
}
