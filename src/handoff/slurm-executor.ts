// Slurm executor: submits the verified jobs as one job array (task i = job i, script from
// slurm-script.ts), then polls squeue + scontrol (+ sacct when accounting answers) until every
// task is finished, reporting each start and end through the shared ExecutionContext, so that
// the gate, the success evidence and the run record are exactly those of the local executor.
// Cancelling (the run's AbortSignal, i.e. Ctrl-C) scancels the array and records what was
// cancelled; with `detach` the executor returns right after sbatch. refreshSlurmRecord() is the
// other half of --detach: `npzguard status` uses it to bring the record up to date from Slurm.
import { readFile } from "node:fs/promises";
import { constants as osConstants } from "node:os";
import { settleAttempt, type RecordSink } from "./handoff.js";
import type { ExecutionContext, Executor, ExitInfo, HandoffJob, JobOutcome, LaunchInfo } from "./executor.js";
import { cancelledOutcome } from "./executor.js";
import { processAlive, RunRecordStore, type RunRecord, type RunRecordEntry } from "./run-record.js";
import { mergeViews, sacctArray, sbatch, scancel, scontrolArray, squeueArray, type SlurmCallOptions, type TaskState } from "./slurm.js";
import { type SlurmScriptOptions, type SubmissionPaths, taskStatePath, writeSubmission } from "./slurm-script.js";
import type { TrainingJob } from "../study/types.js";

export interface SlurmExecutorOptions extends SlurmScriptOptions {
  artifactRoot: string;
  /** cwd of every task (`--chdir`), the PtychoPINN checkout. */
  workdir: string;
  /** Return after sbatch; `npzguard status` follows the array later. */
  detach?: boolean;
  /** Poll period of squeue/scontrol (default 5 s). */
  pollIntervalMs?: number;
  /** After scancel, wait this long for Slurm to report the tasks ended (default 60 s). */
  cancelWaitMs?: number;
  /** Environment of sbatch (exported to the tasks) and the other commands (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Progress lines (stderr in the CLI). */
  progress?: (line: string) => void;
  /** Written into the script's comment ("npzguard 0.1.0"). */
  generatedBy?: string;
}

export interface SlurmSubmission {
  jobId: string;
  script: string;
  tasks: number;
}

/** What a task wrote into its `.state` file. */
export interface TaskFile {
  startMs: number | null;
  gpu: string | null;
  host: string | null;
  exit: number | null;
  endMs: number | null;
}

export async function readTaskFile(path: string): Promise<TaskFile | null> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    return null;
  }
  const kv = new Map<string, string>();
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) kv.set(line.slice(0, eq), line.slice(eq + 1).trim());
  }
  const num = (k: string): number | null => {
    const v = kv.get(k);
    return v !== undefined && /^-?\d+$/.test(v) ? Number(v) : null;
  };
  const str = (k: string): string | null => {
    const v = kv.get(k);
    return v === undefined || v === "" ? null : v;
  };
  return { startMs: num("start_ms"), gpu: str("gpu"), host: str("host"), exit: num("exit"), endMs: num("end_ms") };
}

function signalName(n: number | null): string | null {
  if (n === null) return null;
  const hit = Object.entries(osConstants.signals).find(([, v]) => v === n);
  return hit ? hit[0] : `signal ${n}`;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** How a task ended, from its state file first (the trainer's own status), then from Slurm. */
function endOf(st: TaskState | undefined, file: TaskFile | null, fallbackStartMs: number): Omit<ExitInfo, "id" | "externalId" | "pid"> {
  const startMs = file?.startMs ?? fallbackStartMs;
  const endMs = file?.endMs ?? Date.now();
  let exitCode: number | null = file?.exit ?? st?.exitCode ?? null;
  let signal: string | null = null;
  if (file?.exit == null && st) {
    if (st.signal !== null) signal = signalName(st.signal);
    if (st.state !== "COMPLETED" && st.state !== "FAILED") {
      signal = `${signal ?? "ended"} (Slurm ${st.state})`;
      exitCode = null;
    }
  }
  return { startMs, start: iso(startMs), endMs, end: iso(endMs), gpu: file?.gpu ?? null, exitCode, signal, spawnError: null };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

interface Tracked {
  job: HandoffJob;
  task: number;
  externalId: string;
  started: boolean;
  launch: LaunchInfo | null;
  /** Consecutive polls in which no Slurm view knew the task. */
  missing: number;
  outcome: JobOutcome | null;
  phase: "pending" | "running" | "done" | "failed" | "cancelled";
}

export class SlurmExecutor implements Executor {
  readonly name = "slurm" as const;
  /** The last submission (for the CLI's "submitted job N" line). */
  submission: SlurmSubmission | null = null;
  private readonly o: SlurmExecutorOptions;
  private readonly call: SlurmCallOptions;

  constructor(options: SlurmExecutorOptions) {
    this.o = options;
    this.call = options.env ? { env: options.env } : {};
  }

  private say(line: string): void {
    this.o.progress?.(line);
  }

  async execute(jobs: HandoffJob[], ctx: ExecutionContext): Promise<JobOutcome[]> {
    const outcomes = new Map<string, JobOutcome>();
    const launch: HandoffJob[] = [];
    for (const job of jobs) {
      if (ctx.signal?.aborted) break;
      const gate = await ctx.beforeLaunch(job);
      if (!gate.ok) outcomes.set(job.id, await ctx.onBlocked(job, gate.reasons));
      else launch.push(job);
    }
    const finish = (): JobOutcome[] => jobs.map((j) => outcomes.get(j.id) ?? cancelledOutcome(j));
    if (launch.length === 0 || ctx.signal?.aborted) return finish();

    const paths = await writeSubmission(launch, this.o.artifactRoot, this.o.workdir, this.o, undefined, this.o.generatedBy);
    const submittedMs = Date.now();
    const jobId = await sbatch(paths.script, this.call);
    this.submission = { jobId, script: paths.script, tasks: launch.length };
    this.say(`submitted Slurm job array ${jobId} (${launch.length} task(s)); script ${paths.script}`);
    const tracked: Tracked[] = launch.map((job, task) => ({
      job,
      task,
      externalId: `${jobId}_${task}`,
      started: false,
      launch: null,
      missing: 0,
      outcome: null,
      phase: "pending",
    }));
    for (const t of tracked) {
      await ctx.onSubmitted?.(t.job, { externalId: t.externalId, script: paths.script, detached: this.o.detach === true });
    }
    if (this.o.detach) {
      for (const t of tracked) {
        outcomes.set(t.job.id, { id: t.job.id, job: t.job.job, status: "submitted", reasons: [`Slurm job ${t.externalId}`], exit: null, evidence: null });
      }
      return finish();
    }
    await this.monitor(jobId, paths, tracked, ctx, submittedMs);
    for (const t of tracked) if (t.outcome) outcomes.set(t.job.id, t.outcome);
    return finish();
  }

  private async monitor(jobId: string, paths: SubmissionPaths, tracked: Tracked[], ctx: ExecutionContext, submittedMs: number): Promise<void> {
    const poll = this.o.pollIntervalMs ?? 5000;
    let sacctWorks = true;
    let cancelDeadline: number | null = null;
    let lastSummary = "";
    let failedPolls = 0;

    const start = async (t: Tracked, file: TaskFile | null): Promise<void> => {
      if (t.started) return;
      t.started = true;
      const startMs = file?.startMs ?? Date.now();
      t.launch = { id: t.job.id, startMs, start: iso(startMs), gpu: file?.gpu ?? null, pid: null, externalId: t.externalId };
      t.phase = "running";
      await ctx.onStart(t.job, { ...t.launch });
    };
    const cancel = async (t: Tracked, file: TaskFile | null, reason: string): Promise<void> => {
      const info: ExitInfo | null =
        t.started || file !== null ? { id: t.job.id, pid: null, externalId: t.externalId, ...endOf(undefined, file, t.launch?.startMs ?? submittedMs) } : null;
      if (info !== null) {
        info.exitCode = null;
        info.signal = info.signal ?? "cancelled";
      }
      t.phase = "cancelled";
      t.outcome = ctx.onCancelled
        ? await ctx.onCancelled(t.job, info, reason)
        : { id: t.job.id, job: t.job.job, status: "cancelled", reasons: [reason], exit: info, evidence: null };
    };
    const exit = async (t: Tracked, st: TaskState | undefined, file: TaskFile | null): Promise<void> => {
      await start(t, file);
      const info: ExitInfo = { id: t.job.id, pid: null, externalId: t.externalId, ...endOf(st, file, t.launch?.startMs ?? submittedMs) };
      t.outcome = await ctx.onExit(t.job, info);
      t.phase = t.outcome.status === "success" ? "done" : "failed";
    };

    for (;;) {
      if (ctx.signal?.aborted && cancelDeadline === null) {
        this.say(`cancelling Slurm job array ${jobId} (scancel ${jobId})`);
        cancelDeadline = Date.now() + (this.o.cancelWaitMs ?? 60_000);
        try {
          await scancel(jobId, this.call);
        } catch (e) {
          this.say(`scancel failed: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      const sq = await squeueArray(jobId, this.call).catch(() => null);
      const sc = await scontrolArray(jobId, this.call).catch(() => null);
      let sa: TaskState[] | null = null;
      if (sacctWorks) {
        sa = await sacctArray(jobId, this.call).catch(() => null);
        if (sa === null) sacctWorks = false; // accounting disabled: stop asking
      }
      if (sq === null && sc === null) {
        failedPolls++;
        if (failedPolls === 1 || failedPolls % 12 === 0) this.say(`cannot query Slurm for job ${jobId} (squeue and scontrol failed); retrying`);
      } else {
        failedPolls = 0;
        const view = mergeViews(sq, sc, sa);
        for (const t of tracked) {
          if (t.outcome) continue;
          const st = view.get(t.task);
          const file = await readTaskFile(taskStatePath(paths, t.task));
          if (file?.exit != null && (st === undefined || st.phase !== "pending")) {
            // The trainer has exited; wait for Slurm to end the task unless Slurm forgot it.
            if (st === undefined || st.phase === "done" || st.phase === "cancelled") await exit(t, st, file);
            else await start(t, file);
            continue;
          }
          if (st === undefined) {
            // Tasks cancelled while pending vanish from squeue; make sure it is not a one-off.
            if (++t.missing >= 2) await cancel(t, file, "no longer in the Slurm queue (cancelled while pending?)");
            continue;
          }
          t.missing = 0;
          if (st.phase === "running") await start(t, file);
          else if (st.phase === "done") await exit(t, st, file);
          else if (st.phase === "cancelled") {
            await cancel(
              t,
              file,
              ctx.signal?.aborted ? "cancelled by npzguard (scancel)" : `cancelled in Slurm (${st.state}${st.reason ? `, ${st.reason}` : ""})`,
            );
          }
        }
      }
      const counts = { pending: 0, running: 0, done: 0, failed: 0, cancelled: 0 };
      for (const t of tracked) counts[t.phase]++;
      const summary = `Slurm job ${jobId}: ${counts.pending} pending, ${counts.running} running, ${counts.done} done, ${counts.failed} failed${counts.cancelled ? `, ${counts.cancelled} cancelled` : ""}`;
      if (summary !== lastSummary) {
        this.say(summary);
        lastSummary = summary;
      }
      if (tracked.every((t) => t.outcome !== null)) return;
      if (cancelDeadline !== null && Date.now() > cancelDeadline) {
        for (const t of tracked) {
          if (!t.outcome) await cancel(t, await readTaskFile(taskStatePath(paths, t.task)), "cancelled by npzguard; Slurm did not confirm the end in time");
        }
        return;
      }
      await sleep(poll, cancelDeadline === null ? ctx.signal : undefined);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// `npzguard status`: bring Slurm entries of the record up to date

const ARRAY_TASK_RE = /^(\d+)_(\d+)$/;

function tasksDirOfScript(script: string): string {
  return script.replace(/\.sbatch$/, ".tasks");
}

export interface SlurmRefresh {
  record: RunRecord;
  /** Entries still pending or running in Slurm. */
  active: RunRecordEntry[];
  /** Lines for stderr (e.g. Slurm could not be queried). */
  notes: string[];
  /** Whether the record file was rewritten. */
  written: boolean;
}

function jobOfEntry(e: RunRecordEntry): TrainingJob {
  return { dose: e.dose, view: e.view, gridsize: e.gridsize, trainDataPath: "", testDataPath: "", artifactDir: e.artifact_dir, logPath: e.train_log_path };
}

/**
 * Refreshes the pending/running Slurm entries of an artifact root's record from Slurm: tasks
 * that finished are judged from their evidence (as if npzguard had watched them), cancelled or
 * vanished ones become "cancelled". Entries whose npzguard process is still monitoring them are
 * only displayed with their Slurm state, never written (that process owns them).
 */
export async function refreshSlurmRecord(artifactRoot: string, call: SlurmCallOptions = {}, readOnly = false): Promise<SlurmRefresh> {
  const loaded = await RunRecordStore.load(artifactRoot);
  // Read-only (another npzguard holds the run lock): judge for display, write nothing.
  const scratchEntries = new Map<string, RunRecordEntry>();
  const store: RecordSink & { get(id: string): RunRecordEntry | undefined; snapshot(): RunRecord } = {
    get: (id: string) => scratchEntries.get(id) ?? loaded.get(id),
    snapshot: () => loaded.snapshot(),
    upsert: async (e: RunRecordEntry) => {
      if (readOnly) scratchEntries.set(e.id, structuredClone(e));
      else await loaded.upsert(e);
    },
    archive: !readOnly,
  };
  const snapshot = store.snapshot();
  const open = snapshot.jobs.filter(
    (j) => j.executor === "slurm" && (j.status === "pending" || j.status === "running") && ARRAY_TASK_RE.test(j.external_id ?? ""),
  );
  const notes: string[] = [];
  if (open.length === 0) return { record: snapshot, active: [], notes, written: false };
  const arrays = new Map<string, RunRecordEntry[]>();
  for (const e of open) {
    const arrayId = (ARRAY_TASK_RE.exec(e.external_id as string) as RegExpExecArray)[1] as string;
    arrays.set(arrayId, [...(arrays.get(arrayId) ?? []), e]);
  }
  let written = false;
  const display = new Map<string, RunRecordEntry>();
  for (const [arrayId, entries] of arrays) {
    const sq = await squeueArray(arrayId, call).catch(() => null);
    const sc = await scontrolArray(arrayId, call).catch(() => null);
    const sa = await sacctArray(arrayId, call).catch(() => null);
    if (sq === null && sc === null) {
      notes.push(`cannot query Slurm about job ${arrayId}; showing the record as last written`);
      continue;
    }
    const view = mergeViews(sq, sc, sa);
    for (const e of entries) {
      const task = Number((ARRAY_TASK_RE.exec(e.external_id as string) as RegExpExecArray)[2]);
      const st = view.get(task);
      const file = e.slurm_script ? await readTaskFile(`${tasksDirOfScript(e.slurm_script)}/${task}.state`) : null;
      const owned = e.owner_pid !== null && e.owner_pid !== process.pid && processAlive(e.owner_pid);
      const entry = structuredClone(e);
      const finished = file?.exit != null || st === undefined || st.phase === "done" || st.phase === "cancelled";
      if (!finished) {
        const running = st?.phase === "running";
        entry.status = running ? "running" : "pending";
        if (running && file) {
          entry.gpu = file.gpu;
          if (file.startMs !== null) entry.start = iso(file.startMs);
        }
        if (!owned && (entry.status !== e.status || entry.gpu !== e.gpu || entry.start !== e.start)) {
          await store.upsert(entry);
          written = true;
        }
        display.set(e.id, entry);
        continue;
      }
      if (owned) {
        // The monitoring npzguard will judge it in a moment; show Slurm's word meanwhile.
        display.set(e.id, { ...entry, reasons: [`Slurm: ${st?.state ?? "finished"}; being judged by npzguard pid ${e.owner_pid}`] });
        continue;
      }
      const startMs = file?.startMs ?? (e.start ? Date.parse(e.start) : 0);
      if (file?.exit == null && (st === undefined || st.phase === "cancelled")) {
        entry.status = "cancelled";
        entry.end = iso(file?.endMs ?? Date.now());
        entry.gpu = file?.gpu ?? entry.gpu;
        if (file?.startMs != null) entry.start = iso(file.startMs);
        entry.reasons = [st === undefined ? "no longer known to Slurm and no exit status (cancelled while pending?)" : `cancelled in Slurm (${st.state})`];
        entry.owner_pid = null;
        await store.upsert(entry);
      } else {
        const end = endOf(st, file, startMs);
        if (entry.start === null) entry.start = end.start;
        await settleAttempt(store, artifactRoot, entry, jobOfEntry(entry), end, entry.train_log_offset ?? 0);
      }
      written = true;
      display.set(e.id, structuredClone(store.get(e.id) ?? entry));
    }
  }
  const record = store.snapshot();
  record.jobs = record.jobs.map((j) => display.get(j.id) ?? scratchEntries.get(j.id) ?? j);
  const active = record.jobs.filter((j) => j.executor === "slurm" && (j.status === "pending" || j.status === "running"));
  return { record, active, notes, written };
}
