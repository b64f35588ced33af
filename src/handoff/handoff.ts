// Phase E hand-off orchestration (study spec §10.3), independent of where trainers run:
//   run lock (one run per artifact root) -> pre-flight verdicts (given) -> record the plan's
//   skipped views and blocked files -> adopt trainers an earlier, killed npzguard left behind ->
//   gate (fail-closed: nothing runs while a selected job is blocked, unless skipBlocked) ->
//   resume (reuse a recorded success only for the same inputs, check settings, trainer command
//   and an unchanged bundle, unless force) -> executor, with a drift re-stat of both inputs right
//   before each launch and after each exit -> success evidence -> run record, merged and
//   rewritten atomically after every state change.
// Over 400 lines: runHandoff() is one ordered sequence over one run's state (lock, record,
// adoption, gate, resume, launches, settlement); its parts that stand alone already live apart
// (lock.ts, run-record.ts, inputs.ts, evidence.ts, trainer-command.ts, the executors).
import { readFile, stat } from "node:fs/promises";
import { hostname } from "node:os";
import type { FileStamp } from "../gate/cache.js";
import { removeStaleTemps } from "../gate/cache.js";
import { collectEvidence, type Evidence } from "./evidence.js";
import type { ExecutionContext, Executor, ExitInfo, HandoffJob, JobOutcome, LaunchGate, LaunchInfo, SubmitInfo } from "./executor.js";
import { HandoffError } from "./errors.js";
import { identityChange, identityNow, type InputIdentity } from "./inputs.js";
import { RunLock } from "./lock.js";
import type { BlockedEntry } from "../gate/preflight.js";
import { stopGroup, trainerAlive, waitGroupGone } from "./proc.js";
import {
  bundleUnchanged,
  RUN_RECORD_NAME,
  RunRecordStore,
  writeTextAtomic,
  type BlockedRecord,
  type CheckSettings,
  type ExecutorName,
  type RunRecordEntry,
} from "./run-record.js";
import { buildTrainerCommand, cliLogPath, jobId, joinPath } from "./trainer-command.js";
import type { Backend, SkippedView, TrainingJob, VerifiedJob } from "../study/types.js";

export interface HandoffPlan {
  /** Every selected job with its pre-flight verdict (verified or not). */
  jobs: VerifiedJob[];
  skipped: SkippedView[];
  /** Input stamps taken when the files were verified, by path (the drift baseline). Inputs
   * without one are stamped when the hand-off starts. */
  stamps?: ReadonlyMap<string, FileStamp>;
  /** Identities of the inputs as verified, by path (recorded with each attempt; resume compares them). */
  inputs?: ReadonlyMap<string, InputIdentity | null>;
  /** The files that blocked jobs, with their violations (recorded at the record's top level). */
  blockedFiles?: BlockedEntry[];
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
  /** Settings the inputs were verified with (recorded; a success is reused only under the same). */
  checkSettings?: CheckSettings;
  /** Stop launching after this many failed jobs (the rest are recorded as cancelled). */
  maxFailures?: number;
  /** The run lock, when the caller took it already (the CLI does, before verifying). */
  lock?: RunLock;
  /** Wait for another run's lock instead of failing (when the hand-off takes the lock itself). */
  waitLock?: boolean;
  /** Grace period between SIGTERM and SIGKILL when stopping trainers (default 10 s). */
  killGraceMs?: number;
}

export const DEFAULT_CHECK_SETTINGS: CheckSettings = { backend: "tensorflow", mode: "full", n_groups: 512, neighbor_count: 4 };

export interface PlannedCommand {
  id: string;
  command: string;
  cwd: string;
  log: string;
}

export type HandoffJobStatus = OutcomeLike | "resumed" | "planned" | "adopted";
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
  /** Why each verified job was reused or (re-)run. */
  resume: ResumeDecision[];
  /** True when the run was interrupted (SIGINT/SIGTERM through `signal`). */
  interrupted: boolean;
  /** 0 when every selected job succeeded (or was already done), else 1. */
  exitCode: 0 | 1;
}

/** Whether a recorded success is reused, and why (or why not). */
export interface ResumeDecision {
  id: string;
  reuse: boolean;
  reason: string;
}

function errorReasons(job: VerifiedJob, files: BlockedEntry[] = []): string[] {
  const mine = files.filter((b) => b.dose === job.dose && b.view === job.view && b.gridsize === job.gridsize);
  if (mine.length > 0) {
    const reasons = mine.flatMap((b) => {
      const role = b.path === job.trainDataPath ? "train" : b.path === job.testDataPath ? "test" : "input";
      const vs = b.violations.length > 0 ? b.violations : [{ rule: "npz/readable", message: "file failed verification" }];
      return vs.map((v) => `${role} ${b.path}: ${v.rule}: ${v.message}`);
    });
    if (reasons.length > 0) return reasons;
  }
  const errors = job.violations.filter((v) => v.severity === "error");
  const list = errors.length > 0 ? errors : job.violations;
  const reasons = list.map((v) => `${v.rule}: ${v.message}`);
  return reasons.length > 0 ? reasons : ["pre-flight verification did not pass"];
}

/** The record's top-level `blocked` list: one item per blocked file of a job, with its violations. */
export function blockedRecords(jobs: readonly VerifiedJob[], files: readonly BlockedEntry[]): BlockedRecord[] {
  const out: BlockedRecord[] = [];
  for (const job of jobs) {
    if (job.verified) continue;
    const mine = files.filter((b) => b.dose === job.dose && b.view === job.view && b.gridsize === job.gridsize);
    for (const b of mine) {
      out.push({
        id: jobId(job),
        dose: job.dose,
        view: job.view,
        gridsize: job.gridsize,
        file: b.path === job.testDataPath && b.path !== job.trainDataPath ? "test" : "train",
        path: b.path,
        violations: b.violations.map((v) => ({ rule: v.rule, severity: v.severity, key: v.key, message: v.message })),
      });
    }
  }
  return out;
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

function describeDrift(path: string, was: FileStamp | null, now: FileStamp | null, when = "after verification"): string | null {
  if (was === null && now === null) return `input ${path} is missing`;
  if (was === null) return null;
  if (now === null) return `input ${path} disappeared ${when}`;
  const diffs: string[] = [];
  if (was.size !== now.size) diffs.push(`size ${was.size} -> ${now.size}`);
  if (was.mtimeMs !== now.mtimeMs) diffs.push("mtime changed");
  if (was.inode !== now.inode) diffs.push("inode changed (replaced)");
  return diffs.length > 0 ? `input ${path} changed ${when} (${diffs.join(", ")})` : null;
}

const stampOfIdentity = (id: InputIdentity | null | undefined): FileStamp | null => (id ? { size: id.size, mtimeMs: id.mtime_ms, inode: id.inode } : null);

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

/** The last meaningful line of a job's CLI log (after the header), for a failed job's reason. */
export async function lastLogLine(path: string | null): Promise<string | null> {
  if (path === null) return null;
  let text: string;
  try {
    const fh = await import("node:fs/promises").then((m) => m.open(path, "r"));
    try {
      const st = await fh.stat();
      const n = Math.min(st.size, 64 * 1024);
      const buf = Buffer.alloc(n);
      await fh.read(buf, 0, n, st.size - n);
      text = buf.toString("utf8");
    } finally {
      await fh.close();
    }
  } catch {
    return null;
  }
  const lines = text.split(/\r?\n|\r/).map((l) => l.trim());
  for (let i = lines.length - 1; i >= 0; i--) {
    const l = lines[i] as string;
    if (l.length === 0 || l.startsWith("# ") || /^[=\-─━_*]{3,}$/.test(l)) continue;
    return l.length > 300 ? `${l.slice(0, 297)}...` : l;
  }
  return null;
}

/**
 * Judges a finished attempt from its evidence and writes the entry (status, exit, bundle facts,
 * archived manifest). Shared by the executors' live path (onExit), adoption of orphaned trainers
 * and `npzguard status`, which settles Slurm tasks that finished while no npzguard was watching.
 */
/** Where settleAttempt writes: the run's store, or a read-only view (`archive: false` writes no manifest copy). */
export interface RecordSink {
  upsert(entry: RunRecordEntry): Promise<void>;
  readonly archive?: boolean;
}

export async function settleAttempt(
  store: RecordSink,
  artifactRoot: string,
  entry: RunRecordEntry,
  job: TrainingJob,
  end: AttemptEnd,
  trainLogOffset: number,
  extraReasons: string[] = [],
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
    if (evidence.manifestText !== null && store.archive !== false) {
      await writeTextAtomic(joinPath(artifactRoot, "npzguard", "manifests", `${entry.id}.training_manifest.json`), evidence.manifestText);
    }
  }
  reasons.push(...extraReasons);
  if (reasons.length > 0 && end.spawnError === null) {
    const last = await lastLogLine(entry.log_path);
    if (last !== null && !reasons.some((r) => r.includes(last))) reasons.push(`log: ${last}`);
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
  entry.warnings = status === "success" ? [...(evidence?.warnings ?? [])] : [];
  entry.owner_pid = null;
  await store.upsert(entry);
  return { status, reasons, evidence };
}

/** `<A>/npzguard/attempts/<id>.state`: where the local trainer wrapper writes the exit status. */
export function attemptStatePath(artifactRoot: string, id: string): string {
  return joinPath(artifactRoot, "npzguard", "attempts", `${id}.state`);
}

/** Builds the launchable form of a verified job. */
export function toHandoffJob(job: TrainingJob, opts: HandoffOptions): HandoffJob {
  const settings = opts.checkSettings ?? DEFAULT_CHECK_SETTINGS;
  const command = buildTrainerCommand({
    job,
    python: opts.python ?? "python3",
    phaseCRoot: opts.phaseCRoot,
    phaseDRoot: opts.phaseDRoot,
    artifactRoot: opts.artifactRoot,
    backend: opts.backend,
    nGroups: settings.n_groups,
    neighborCount: settings.neighbor_count,
    ...(opts.trainerCmd !== undefined ? { template: opts.trainerCmd } : {}),
  });
  const id = jobId(job);
  return {
    id,
    job,
    command,
    cwd: opts.workdir ?? process.cwd(),
    cliLogPath: cliLogPath(opts.artifactRoot, job),
    statePath: attemptStatePath(opts.artifactRoot, id),
  };
}

function sameSettings(a: CheckSettings | null | undefined, b: CheckSettings): string | null {
  if (!a) return "no check settings recorded";
  const d: string[] = [];
  for (const k of ["backend", "mode", "n_groups", "neighbor_count"] as const) {
    if (a[k] !== b[k]) d.push(`${k} ${String(a[k])} -> ${String(b[k])}`);
  }
  return d.length > 0 ? d.join(", ") : null;
}

/**
 * Whether the recorded success of a job can stand for this run: the last attempt succeeded, its
 * bundle is unchanged, and it was trained on inputs with the same identity, verified with the same
 * settings, by the same trainer command (when `command` is given).
 */
export async function resumeDecision(
  entry: RunRecordEntry | undefined,
  id: string,
  current: { train: InputIdentity | null; test: InputIdentity | null; settings: CheckSettings; command?: string },
): Promise<ResumeDecision> {
  const no = (reason: string): ResumeDecision => ({ id, reuse: false, reason });
  if (!entry) return no("no earlier attempt recorded");
  if (entry.status !== "success") return no(`last attempt ${entry.status}`);
  if (!(await bundleUnchanged(entry))) return no("bundle missing or changed since the last success");
  if (!entry.inputs) return no("the last success has no recorded input identity (recorded by an older npzguard)");
  for (const role of ["train", "test"] as const) {
    const why = identityChange(entry.inputs[role], current[role]);
    if (why) return no(`${role} input changed since the last success (${why})`);
  }
  const s = sameSettings(entry.check_settings, current.settings);
  if (s) return no(`check settings changed since the last success (${s})`);
  if (current.command !== undefined && entry.command !== current.command) return no("trainer command changed since the last success");
  return { id, reuse: true, reason: "already succeeded with the same inputs, settings and command; bundle unchanged" };
}

interface StateFile {
  exit: number | null;
  mtimeMs: number;
}

async function readStateFile(path: string | null | undefined): Promise<StateFile | null> {
  if (!path) return null;
  try {
    const [text, st] = await Promise.all([readFile(path, "utf8"), stat(path)]);
    const m = /^exit=(\d+)\s*$/m.exec(text);
    return { exit: m ? Number(m[1]) : null, mtimeMs: st.mtimeMs };
  } catch {
    return null;
  }
}

function jobOfEntry(e: RunRecordEntry): TrainingJob {
  return {
    dose: e.dose,
    view: e.view,
    gridsize: e.gridsize,
    trainDataPath: e.inputs?.train?.path ?? "",
    testDataPath: e.inputs?.test?.path ?? "",
    artifactDir: e.artifact_dir,
    logPath: e.train_log_path,
  };
}

/**
 * Local entries still "running" whose npzguard is gone (we hold the lock, so it is): a trainer
 * still alive is waited for, then judged from its state file and evidence like any exit; one that
 * ended is judged at once; one without an exit status is recorded as interrupted. A trainer that
 * may still run on another host stops the run (unless force).
 */
async function adoptOrphans(
  store: RunRecordStore,
  artifactRoot: string,
  selected: ReadonlySet<string>,
  opts: HandoffOptions,
  say: (line: string) => void,
): Promise<Map<string, "success" | "failed" | "interrupted">> {
  const host = hostname();
  const out = new Map<string, "success" | "failed" | "interrupted">();
  for (const e of store.snapshot().jobs) {
    if (e.executor !== "local" || e.status !== "running" || e.owner_pid === process.pid) continue;
    const entry = structuredClone(e);
    if (entry.host && entry.host !== host) {
      if (selected.has(entry.id) && !opts.force) {
        throw new HandoffError(
          "ERR_TRAINER_ELSEWHERE",
          `job ${entry.id} was last seen running on host ${entry.host} (trainer pid ${entry.trainer_pid ?? "?"}); ` +
            `make sure it no longer runs there, then run again with --force`,
          store.path,
        );
      }
      continue;
    }
    const pgid = entry.trainer_pgid ?? null;
    if (pgid !== null && trainerAlive(pgid, entry.trainer_pid, entry.trainer_start_ticks)) {
      if (!selected.has(entry.id)) continue; // not ours to wait for; `status` shows it running
      say(`waiting for the trainer of ${entry.id} (pid ${entry.trainer_pid}) left running by npzguard pid ${entry.owner_pid}, which is gone; Ctrl-C stops it`);
      const gone = await waitGroupGone(pgid, entry.trainer_pid ?? null, entry.trainer_start_ticks ?? null, opts.signal);
      if (!gone) {
        await stopGroup(pgid, opts.killGraceMs ?? 10_000);
        entry.status = "interrupted";
        entry.end = new Date().toISOString();
        entry.owner_pid = null;
        entry.reasons = [
          `interrupted${typeof opts.signal?.reason === "string" ? ` by ${opts.signal.reason}` : ""} while waiting for the adopted trainer: its process group was stopped`,
        ];
        await store.upsert(entry);
        out.set(entry.id, "interrupted");
        continue;
      }
    }
    const state = await readStateFile(entry.attempt_state);
    if (state?.exit === null || state === null) {
      entry.status = "interrupted";
      entry.end = entry.end ?? new Date().toISOString();
      entry.reasons = [`npzguard pid ${entry.owner_pid} stopped while the job ran and the trainer left no exit status`];
      entry.owner_pid = null;
      await store.upsert(entry);
      out.set(entry.id, "interrupted");
      say(`${entry.id}: interrupted in an earlier run (no exit status); it is run again`);
      continue;
    }
    const startMs = entry.start ? Date.parse(entry.start) : 0;
    const result = await settleAttempt(
      store,
      artifactRoot,
      entry,
      jobOfEntry(entry),
      { startMs, end: new Date(state.mtimeMs).toISOString(), gpu: entry.gpu, exitCode: state.exit, signal: null, spawnError: null },
      entry.train_log_offset ?? 0,
      await inputDriftReasons(entry, "while the trainer ran"),
    );
    out.set(entry.id, result.status);
    say(
      `${entry.id}: adopted the result of the trainer left by npzguard pid ${e.owner_pid}: ${result.status}${result.status === "failed" ? ` (${result.reasons.join("; ")})` : ""}`,
    );
  }
  return out;
}

/** Inputs that changed since the attempt recorded them (stat facts). */
async function inputDriftReasons(entry: RunRecordEntry, when: string): Promise<string[]> {
  const reasons: string[] = [];
  for (const role of ["train", "test"] as const) {
    const id = entry.inputs?.[role];
    if (!id) continue;
    const why = describeDrift(id.path, stampOfIdentity(id), await stampNow(id.path), when);
    if (why) reasons.push(why);
  }
  return reasons;
}

/** Runs the hand-off of already pre-flighted jobs. */
export async function runHandoff(plan: HandoffPlan, opts: HandoffOptions): Promise<HandoffResult> {
  const say = opts.progress ?? (() => undefined);
  const executorName = opts.executor.name;
  const settings = opts.checkSettings ?? DEFAULT_CHECK_SETTINGS;
  const blocked = plan.jobs.filter((j) => !j.verified);
  const ready = plan.jobs.filter((j) => j.verified);
  const handoffJobs = ready.map((j) => toHandoffJob(j, opts));
  const commands = handoffJobs.map((h) => ({ id: h.id, command: h.command.display, cwd: h.cwd, log: h.cliLogPath }));
  const results = new Map<string, HandoffJobResult>();
  const decisions: ResumeDecision[] = [];
  const order = plan.jobs.map((j) => jobId(j));
  const files = plan.blockedFiles ?? [];
  const finish = (gated: boolean, recordPath: string | null): HandoffResult => {
    const jobs = order.map((id) => results.get(id)).filter((r): r is HandoffJobResult => r !== undefined);
    const allGood =
      blocked.length === 0 &&
      jobs.every((r) => r.status === "success" || r.status === "resumed" || r.status === "adopted" || r.status === "planned" || r.status === "submitted");
    return {
      dryRun: opts.dryRun === true,
      gated,
      executor: executorName,
      commands,
      jobs,
      skipped: plan.skipped,
      recordPath,
      resume: decisions,
      interrupted: opts.signal?.aborted === true,
      exitCode: allGood && !gated ? 0 : 1,
    };
  };
  for (const j of blocked) {
    results.set(jobId(j), { id: jobId(j), job: j, status: "blocked", reasons: errorReasons(j, files), outcome: null });
  }

  // Identity of each input as verified (or, without verification, as found now).
  const identities = new Map<string, InputIdentity | null>(plan.inputs ?? []);
  const identity = async (p: string): Promise<InputIdentity | null> => {
    if (!identities.has(p)) identities.set(p, await identityNow(p));
    return identities.get(p) ?? null;
  };

  if (opts.dryRun) {
    const store = await RunRecordStore.load(opts.artifactRoot).catch(() => null);
    for (const h of handoffJobs) {
      results.set(h.id, { id: h.id, job: h.job, status: "planned", reasons: [], outcome: null });
      if (store) {
        decisions.push(
          await resumeDecision(store.get(h.id), h.id, {
            train: await identity(h.job.trainDataPath),
            test: await identity(h.job.testDataPath),
            settings,
            command: h.command.display,
          }),
        );
      }
    }
    return finish(blocked.length > 0 && !opts.skipBlocked, null);
  }

  const ownLock = opts.lock === undefined;
  const lock =
    opts.lock ??
    (await RunLock.acquire(opts.artifactRoot, {
      wait: opts.waitLock === true,
      onWait: () => say(`waiting for the run lock of ${opts.artifactRoot}`),
      ...(opts.signal ? { signal: opts.signal } : {}),
    }));
  try {
    return await handOff();
  } finally {
    if (ownLock) lock.release();
  }

  async function handOff(): Promise<HandoffResult> {
    removeStaleTemps(opts.artifactRoot, RUN_RECORD_NAME);
    const store = await RunRecordStore.load(opts.artifactRoot);
    await store.setPlanFacts(
      plan.skipped.map((s) => ({ dose: s.dose, view: s.view, reason: s.reason })),
      blockedRecords(plan.jobs, files),
    );
    const recordBlocked = async (h: { id: string; job: TrainingJob }, reasons: string[]): Promise<void> => {
      const entry = baseEntry(h, executorName, store.get(h.id));
      entry.status = "blocked";
      entry.reasons = reasons;
      entry.end = new Date().toISOString();
      await store.upsert(entry);
    };
    for (const j of blocked) {
      say(`blocked ${jobId(j)}: ${errorReasons(j, files).join("; ")}`);
      await recordBlocked({ id: jobId(j), job: j }, errorReasons(j, files));
    }
    if (blocked.length > 0 && !opts.skipBlocked) {
      say(`${blocked.length} selected job(s) blocked: nothing launched (use --skip-blocked to run the others)`);
      for (const h of handoffJobs) {
        results.set(h.id, { id: h.id, job: h.job, status: "cancelled", reasons: ["not launched: another selected job is blocked"], outcome: null });
      }
      return finish(true, store.path);
    }

    // Trainers an earlier npzguard left behind (kill -9): wait for them and take their results.
    const adopted = await adoptOrphans(store, opts.artifactRoot, new Set(handoffJobs.map((h) => h.id)), opts, say);
    if (opts.signal?.aborted) {
      for (const h of handoffJobs) {
        if (adopted.get(h.id) === "interrupted")
          results.set(h.id, { id: h.id, job: h.job, status: "interrupted", reasons: store.get(h.id)?.reasons ?? [], outcome: null });
      }
      return finish(false, store.path);
    }

    // Resume: a recorded success stands only for the same inputs, settings, command and bundle.
    const toRun: HandoffJob[] = [];
    for (const h of handoffJobs) {
      const d = opts.force
        ? { id: h.id, reuse: false, reason: "--force" }
        : await resumeDecision(store.get(h.id), h.id, {
            train: await identity(h.job.trainDataPath),
            test: await identity(h.job.testDataPath),
            settings,
            command: h.command.display,
          });
      decisions.push(d);
      if (d.reuse) {
        const wasAdopted = adopted.get(h.id) === "success";
        say(
          `skip ${h.id}: ${wasAdopted ? "adopted the success of the trainer an earlier run left running" : d.reason}${wasAdopted ? "" : " (--force to redo)"}`,
        );
        results.set(h.id, { id: h.id, job: h.job, status: wasAdopted ? "adopted" : "resumed", reasons: [], outcome: null });
      } else {
        if (store.get(h.id) && !opts.force) say(`rerun ${h.id}: ${d.reason}`);
        toRun.push(h);
      }
    }

    // Drift baseline: verification-time stamps when known, else now.
    const baseline = new Map<string, FileStamp | null>();
    for (const h of toRun) {
      for (const p of [h.job.trainDataPath, h.job.testDataPath]) {
        if (!baseline.has(p)) baseline.set(p, plan.stamps?.get(p) ?? stampOfIdentity(identities.get(p)) ?? (await stampNow(p)));
      }
    }

    const total = toRun.length;
    const index = new Map(toRun.map((h, i) => [h.id, i + 1]));
    const tag = (h: HandoffJob): string => `[${index.get(h.id) ?? "?"}/${total}] ${h.id}`;
    const logOffsets = new Map<string, number>();
    const entries = new Map<string, RunRecordEntry>();
    let failures = 0;

    const newAttempt = async (h: HandoffJob): Promise<RunRecordEntry> => {
      const entry = baseEntry(h, executorName, store.get(h.id));
      entry.attempts += 1;
      entry.command = h.command.display;
      entry.cwd = h.cwd;
      entry.log_path = h.cliLogPath;
      entry.inputs = { train: await identity(h.job.trainDataPath), test: await identity(h.job.testDataPath) };
      entry.check_settings = { ...settings };
      entry.train_log_offset = logOffsets.get(h.id) ?? 0;
      entries.set(h.id, entry);
      return entry;
    };

    const ctx: ExecutionContext = {
      ...(opts.signal ? { signal: opts.signal } : {}),
      async beforeLaunch(h): Promise<LaunchGate> {
        if (opts.maxFailures !== undefined && failures >= opts.maxFailures) {
          return { ok: false, cancel: true, reasons: [`not launched: --max-failures ${opts.maxFailures} reached`] };
        }
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
        const entry = await newAttempt(h);
        entry.status = "pending";
        entry.owner_pid = info.detached ? null : process.pid;
        entry.external_id = info.externalId;
        entry.slurm_script = info.script;
        await store.upsert(entry);
      },
      async onStart(h, info: LaunchInfo): Promise<void> {
        const entry = entries.get(h.id) ?? (await newAttempt(h));
        entry.status = "running";
        entry.gpu = info.gpu;
        entry.start = info.start;
        entry.owner_pid = process.pid;
        entry.external_id = info.externalId;
        if (executorName === "local") {
          entry.trainer_pid = info.pid;
          entry.trainer_pgid = info.pgid ?? null;
          entry.host = info.host ?? null;
          entry.trainer_start_ticks = info.startTicks ?? null;
          entry.attempt_state = h.statePath;
        }
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
        const entry = entries.get(h.id) ?? (await newAttempt(h));
        if (entry.start === null) entry.start = info.start;
        const { status, reasons, evidence } = await settleAttempt(
          store,
          opts.artifactRoot,
          entry,
          h.job,
          info,
          logOffsets.get(h.id) ?? 0,
          info.spawnError === null ? await inputDriftReasons(entry, "while the trainer ran") : [],
        );
        if (status === "success") {
          say(`${tag(h)} finished: success (evidence: ${evidence?.source ?? "?"}, bundle ${entry.bundle_size_bytes} bytes)`);
          for (const w of entry.warnings ?? []) say(`${tag(h)} warning: ${w}`);
        } else {
          failures++;
          say(`${tag(h)} failed: ${reasons.join("; ")} (log ${h.cliLogPath})`);
        }
        const outcome: JobOutcome = { id: h.id, job: h.job, status, reasons, exit: info, evidence };
        results.set(h.id, { id: h.id, job: h.job, status, reasons, outcome });
        return outcome;
      },
      async onInterrupted(h, info: ExitInfo, reason: string): Promise<JobOutcome> {
        const entry = entries.get(h.id) ?? (await newAttempt(h));
        entry.status = "interrupted";
        entry.start = entry.start ?? info.start;
        entry.end = info.end;
        entry.exit_status = info.exitCode;
        entry.signal = info.signal;
        entry.reasons = [reason];
        entry.owner_pid = null;
        await store.upsert(entry);
        say(`${tag(h)} ${reason}`);
        const outcome: JobOutcome = { id: h.id, job: h.job, status: "interrupted", reasons: [reason], exit: info, evidence: null };
        results.set(h.id, { id: h.id, job: h.job, status: "interrupted", reasons: [reason], outcome });
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
      if (results.has(o.id)) continue;
      if (opts.signal?.aborted && o.status === "cancelled") {
        // Never launched because the run was interrupted: the record keeps its earlier state.
        results.set(o.id, { id: o.id, job: o.job, status: "cancelled", reasons: ["not launched: the run was interrupted"], outcome: o });
      } else results.set(o.id, { id: o.id, job: o.job, status: o.status, reasons: o.reasons, outcome: o });
    }
    return finish(false, store.path);
  }
}
