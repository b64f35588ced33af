// Phase E hand-off orchestration (study spec §10.3), independent of where trainers run:
//   pre-flight verdicts (given) -> gate (fail-closed: nothing runs while a selected job is
//   blocked, unless skipBlocked) -> resume (skip jobs whose recorded success still matches the
//   bundle on disk, unless force) -> executor, with a drift re-stat of both inputs right before
//   each launch -> success evidence -> run record rewritten atomically after every state change.
import { stat } from "node:fs/promises";
import type { FileStamp } from "./cache.js";
import { collectEvidence, type Evidence } from "./evidence.js";
import type { ExecutionContext, Executor, ExitInfo, HandoffJob, JobOutcome, LaunchGate, LaunchInfo, SubmitInfo } from "./executor.js";
import {
  alreadySucceeded,
  RunRecordStore,
  writeTextAtomic,
  type ExecutorName,
  type RunRecordEntry,
} from "./run-record.js";
import { buildTrainerCommand, cliLogPath, jobId, joinPath } from "./trainer-command.js";
import type { Backend, SkippedView, TrainingJob, VerifiedJob } from "./types.js";

export interface HandoffPlan {
  /** Every selected job with its pre-flight verdict (verified or not). */
  jobs: VerifiedJob[];
  skipped: SkippedView[];
  /** Input stamps taken when the files were verified, by path (the drift baseline). Inputs
   * without one are stamped when the hand-off starts. */
  stamps?: ReadonlyMap<string, FileStamp>;
}

export interface HandoffOptions {
  phaseCRoot: string;
  phaseDRoot: string;
  artifactRoot: string;
  backend: Backend;
  /** Interpreter for the reference CLI (default python3). */
  python?: string;
  /** cwd of the trainer: the PtychoPINN checkout (default: the current directory). */
  workdir?: string;
  /** --trainer-cmd template (see trainer-command.ts). */
  trainerCmd?: string;
  skipBlocked?: boolean;
  force?: boolean;
  dryRun?: boolean;
  executor: Executor;
  signal?: AbortSignal;
  /** Live progress lines (the CLI writes them to stderr). */
  progress?: (line: string) => void;
}

export interface PlannedCommand {
  id: string;
  command: string;
  cwd: string;
  log: string;
}

export type HandoffJobStatus = OutcomeLike | "resumed" | "planned";
type OutcomeLike = JobOutcome["status"];

export interface HandoffJobResult {
  id: string;
  job: TrainingJob;
  status: HandoffJobStatus;
  reasons: string[];
  outcome: JobOutcome | null;
}

export interface HandoffResult {
  dryRun: boolean;
  /** True when the gate stopped everything because a selected job was blocked. */
  gated: boolean;
  executor: ExecutorName;
  commands: PlannedCommand[];
  jobs: HandoffJobResult[];
  skipped: SkippedView[];
  recordPath: string | null;
  /** 0 when every selected job succeeded (or was already done), else 1. */
  exitCode: 0 | 1;
}

function errorReasons(job: VerifiedJob): string[] {
  const errors = job.violations.filter((v) => v.severity === "error");
  const list = errors.length > 0 ? errors : job.violations;
  const reasons = list.map((v) => `${v.rule}: ${v.message}`);
  return reasons.length > 0 ? reasons : ["pre-flight verification did not pass"];
}

function baseEntry(h: { id: string; job: TrainingJob }, executor: ExecutorName, prev: RunRecordEntry | undefined): RunRecordEntry {
  return {
    id: h.id,
    dose: h.job.dose,
    view: h.job.view,
    gridsize: h.job.gridsize,
    status: "running",
    executor,
    command: null,
    cwd: null,
    gpu: null,
    start: null,
    end: null,
    exit_status: null,
    signal: null,
    result_status: null,
    evidence_source: null,
    bundle_path: null,
    bundle_sha256: null,
    bundle_size_bytes: null,
    log_path: null,
    train_log_path: h.job.logPath,
    artifact_dir: h.job.artifactDir,
    reasons: [],
    attempts: prev?.attempts ?? 0,
    owner_pid: null,
    external_id: null,
  };
}

async function stampNow(path: string): Promise<FileStamp | null> {
  try {
    const st = await stat(path);
    return st.isFile() ? { size: st.size, mtimeMs: st.mtimeMs, inode: st.ino } : null;
  } catch {
    return null;
  }
}

function describeDrift(path: string, was: FileStamp | null, now: FileStamp | null): string | null {
  if (was === null && now === null) return `input ${path} is missing`;
  if (was === null) return null;
  if (now === null) return `input ${path} disappeared after verification`;
  const diffs: string[] = [];
  if (was.size !== now.size) diffs.push(`size ${was.size} -> ${now.size}`);
  if (was.mtimeMs !== now.mtimeMs) diffs.push("mtime changed");
  if (was.inode !== now.inode) diffs.push("inode changed (replaced)");
  return diffs.length > 0 ? `input ${path} changed after verification (${diffs.join(", ")})` : null;
}

/** How one attempt ended, as far as the evidence check needs it. */
export interface AttemptEnd {
  /** Wall clock at launch (ms); the manifest must not predate it. */
  startMs: number;
  end: string;
  gpu: string | null;
  exitCode: number | null;
  signal: string | null;
  spawnError: string | null;
}

/**
 * Judges a finished attempt from its evidence and writes the entry (status, exit, bundle facts,
 * archived manifest). Shared by the executors' live path (onExit) and `npzguard status`, which
 * settles Slurm tasks that finished while no npzguard was watching.
 */
export async function settleAttempt(
  store: RunRecordStore,
  artifactRoot: string,
  entry: RunRecordEntry,
  job: TrainingJob,
  end: AttemptEnd,
  trainLogOffset: number,
): Promise<{ status: "success" | "failed"; reasons: string[]; evidence: Evidence | null }> {
  const reasons: string[] = [];
  let evidence: Evidence | null = null;
  if (end.spawnError !== null) reasons.push(`trainer could not be started: ${end.spawnError}`);
  else {
    evidence = await collectEvidence({
      job,
      artifactRoot,
      startMs: end.startMs,
      exitCode: end.exitCode,
      signal: end.signal,
      trainLogOffset,
    });
    reasons.push(...evidence.reasons);
    if (evidence.manifestText !== null) {
      await writeTextAtomic(joinPath(artifactRoot, "npzguard", "manifests", `${entry.id}.training_manifest.json`), evidence.manifestText);
    }
  }
  const status = reasons.length === 0 ? "success" : "failed";
  entry.status = status;
  entry.end = end.end;
  entry.exit_status = end.exitCode;
  entry.signal = end.signal;
  entry.gpu = end.gpu;
  entry.result_status = evidence?.resultStatus ?? null;
  entry.evidence_source = evidence?.source ?? null;
  entry.bundle_path = evidence?.bundlePath ?? null;
  entry.bundle_sha256 = evidence?.bundleSha256 ?? null;
  entry.bundle_size_bytes = evidence?.bundleSizeBytes ?? null;
  entry.reasons = reasons;
  entry.owner_pid = null;
  await store.upsert(entry);
  return { status, reasons, evidence };
}

/** Builds the launchable form of a verified job. */
export function toHandoffJob(job: TrainingJob, opts: HandoffOptions): HandoffJob {
  const command = buildTrainerCommand({
    job,
    python: opts.python ?? "python3",
    phaseCRoot: opts.phaseCRoot,
    phaseDRoot: opts.phaseDRoot,
    artifactRoot: opts.artifactRoot,
    backend: opts.backend,
    ...(opts.trainerCmd !== undefined ? { template: opts.trainerCmd } : {}),
  });
  return { id: jobId(job), job, command, cwd: opts.workdir ?? process.cwd(), cliLogPath: cliLogPath(opts.artifactRoot, job) };
}

/** Runs the hand-off of already pre-flighted jobs. */
export async function runHandoff(plan: HandoffPlan, opts: HandoffOptions): Promise<HandoffResult> {
  const say = opts.progress ?? (() => undefined);
  const executorName = opts.executor.name;
  const blocked = plan.jobs.filter((j) => !j.verified);
  const ready = plan.jobs.filter((j) => j.verified);
  const handoffJobs = ready.map((j) => toHandoffJob(j, opts));
  const commands = handoffJobs.map((h) => ({ id: h.id, command: h.command.display, cwd: h.cwd, log: h.cliLogPath }));
  const results = new Map<string, HandoffJobResult>();
  const order = plan.jobs.map((j) => jobId(j));
  const finish = (gated: boolean, recordPath: string | null): HandoffResult => {
    const jobs = order.map((id) => results.get(id)).filter((r): r is HandoffJobResult => r !== undefined);
    const allGood =
      blocked.length === 0 &&
      jobs.every((r) => r.status === "success" || r.status === "resumed" || r.status === "planned" || r.status === "submitted");
    return {
      dryRun: opts.dryRun === true,
      gated,
      executor: executorName,
      commands,
      jobs,
      skipped: plan.skipped,
      recordPath,
      exitCode: allGood && !gated ? 0 : 1,
    };
  };
  for (const j of blocked) {
    results.set(jobId(j), { id: jobId(j), job: j, status: "blocked", reasons: errorReasons(j), outcome: null });
  }

  if (opts.dryRun) {
    for (const h of handoffJobs) results.set(h.id, { id: h.id, job: h.job, status: "planned", reasons: [], outcome: null });
    return finish(blocked.length > 0 && !opts.skipBlocked, null);
  }

  const store = await RunRecordStore.load(opts.artifactRoot);
  const recordBlocked = async (h: { id: string; job: TrainingJob }, reasons: string[]): Promise<void> => {
    const entry = baseEntry(h, executorName, store.get(h.id));
    entry.status = "blocked";
    entry.reasons = reasons;
    entry.end = new Date().toISOString();
    await store.upsert(entry);
  };
  for (const j of blocked) {
    say(`blocked ${jobId(j)}: ${errorReasons(j).join("; ")}`);
    await recordBlocked({ id: jobId(j), job: j }, errorReasons(j));
  }
  if (blocked.length > 0 && !opts.skipBlocked) {
    say(`${blocked.length} selected job(s) blocked: nothing launched (use --skip-blocked to run the others)`);
    for (const h of handoffJobs) {
      results.set(h.id, { id: h.id, job: h.job, status: "cancelled", reasons: ["not launched: another selected job is blocked"], outcome: null });
    }
    return finish(true, store.path);
  }

  // Resume: jobs whose recorded success still matches the bundle on disk are not run again.
  const toRun: HandoffJob[] = [];
  for (const h of handoffJobs) {
    if (!opts.force && (await alreadySucceeded(store.get(h.id), h.job.artifactDir))) {
      say(`skip ${h.id}: already succeeded, bundle unchanged (--force to redo)`);
      results.set(h.id, { id: h.id, job: h.job, status: "resumed", reasons: [], outcome: null });
    } else toRun.push(h);
  }

  // Drift baseline: verification-time stamps when known, else now.
  const baseline = new Map<string, FileStamp | null>();
  for (const h of toRun) {
    for (const p of [h.job.trainDataPath, h.job.testDataPath]) {
      if (!baseline.has(p)) baseline.set(p, plan.stamps?.get(p) ?? (await stampNow(p)));
    }
  }

  const total = toRun.length;
  const index = new Map(toRun.map((h, i) => [h.id, i + 1]));
  const tag = (h: HandoffJob): string => `[${index.get(h.id) ?? "?"}/${total}] ${h.id}`;
  const logOffsets = new Map<string, number>();
  const entries = new Map<string, RunRecordEntry>();

  const ctx: ExecutionContext = {
    ...(opts.signal ? { signal: opts.signal } : {}),
    async beforeLaunch(h): Promise<LaunchGate> {
      const reasons: string[] = [];
      for (const p of [h.job.trainDataPath, h.job.testDataPath]) {
        const why = describeDrift(p, baseline.get(p) ?? null, await stampNow(p));
        if (why) reasons.push(why);
      }
      if (reasons.length > 0) return { ok: false, reasons };
      logOffsets.set(h.id, (await stampNow(h.job.logPath))?.size ?? 0);
      return { ok: true };
    },
    async onSubmitted(h, info: SubmitInfo): Promise<void> {
      const entry = baseEntry(h, executorName, store.get(h.id));
      entry.status = "pending";
      entry.attempts += 1;
      entry.command = h.command.display;
      entry.cwd = h.cwd;
      entry.log_path = h.cliLogPath;
      entry.owner_pid = info.detached ? null : process.pid;
      entry.external_id = info.externalId;
      entry.slurm_script = info.script;
      entry.train_log_offset = logOffsets.get(h.id) ?? 0;
      entries.set(h.id, entry);
      await store.upsert(entry);
    },
    async onStart(h, info: LaunchInfo): Promise<void> {
      const submitted = entries.get(h.id);
      const entry = submitted ?? baseEntry(h, executorName, store.get(h.id));
      entry.status = "running";
      if (!submitted) entry.attempts += 1;
      entry.command = h.command.display;
      entry.cwd = h.cwd;
      entry.gpu = info.gpu;
      entry.start = info.start;
      entry.log_path = h.cliLogPath;
      entry.owner_pid = process.pid;
      entry.external_id = info.externalId;
      entries.set(h.id, entry);
      say(`${tag(h)} started${info.gpu !== null ? ` on GPU ${info.gpu}` : ""}${info.pid !== null ? ` (pid ${info.pid})` : ""}; log ${h.cliLogPath}`);
      await store.upsert(entry);
    },
    async onBlocked(h, reasons): Promise<JobOutcome> {
      say(`${tag(h)} blocked: ${reasons.join("; ")}`);
      await recordBlocked(h, reasons);
      const outcome: JobOutcome = { id: h.id, job: h.job, status: "blocked", reasons, exit: null, evidence: null };
      results.set(h.id, { id: h.id, job: h.job, status: "blocked", reasons, outcome });
      return outcome;
    },
    async onExit(h, info: ExitInfo): Promise<JobOutcome> {
      const entry = entries.get(h.id) ?? baseEntry(h, executorName, store.get(h.id));
      if (!entries.has(h.id)) {
        entry.attempts += 1;
        entry.command = h.command.display;
        entry.cwd = h.cwd;
        entry.start = info.start;
        entry.log_path = h.cliLogPath;
      }
      if (entry.start === null) entry.start = info.start;
      const { status, reasons, evidence } = await settleAttempt(store, opts.artifactRoot, entry, h.job, info, logOffsets.get(h.id) ?? 0);
      if (status === "success") say(`${tag(h)} finished: success (evidence: ${evidence?.source ?? "?"}, bundle ${entry.bundle_size_bytes} bytes)`);
      else say(`${tag(h)} failed: ${reasons.join("; ")} (log ${h.cliLogPath})`);
      const outcome: JobOutcome = { id: h.id, job: h.job, status, reasons, exit: info, evidence };
      results.set(h.id, { id: h.id, job: h.job, status, reasons, outcome });
      return outcome;
    },
    async onCancelled(h, info: ExitInfo | null, reason: string): Promise<JobOutcome> {
      const entry = entries.get(h.id) ?? baseEntry(h, executorName, store.get(h.id));
      entry.status = "cancelled";
      entry.end = info?.end ?? new Date().toISOString();
      if (info !== null) {
        entry.start = entry.start ?? info.start;
        entry.gpu = info.gpu ?? entry.gpu;
        entry.exit_status = info.exitCode;
        entry.signal = info.signal;
      }
      entry.reasons = [reason];
      entry.owner_pid = null;
      await store.upsert(entry);
      say(`${tag(h)} cancelled: ${reason}`);
      const outcome: JobOutcome = { id: h.id, job: h.job, status: "cancelled", reasons: [reason], exit: info, evidence: null };
      results.set(h.id, { id: h.id, job: h.job, status: "cancelled", reasons: [reason], outcome });
      return outcome;
    },
  };

  const outcomes = total > 0 ? await opts.executor.execute(toRun, ctx) : [];
  for (const o of outcomes) {
    if (!results.has(o.id)) results.set(o.id, { id: o.id, job: o.job, status: o.status, reasons: o.reasons, outcome: o });
  }
  return finish(false, store.path);
}
