// The resumable hand-off record, <artifact_root>/npzguard_runs.json. It is rewritten atomically
// (temp file in the same directory, fsync, rename, fsync of the directory) after every job
// state change, so a crash or SIGKILL of npzguard never loses a finished job. Writers hold the
// artifact root's run lock (lock.ts): `run` for its whole life, `status` only when no run holds
// it. Every write merges: the file is read again and only the entries this process changed are
// replaced, never a blind overwrite of what another writer put there.
import { lstat, open, readFile, rename, stat, unlink, mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { hostname } from "node:os";
import { HandoffError } from "./errors.js";
import { pidAlive, trainerAlive } from "./proc.js";
import type { InputIdentity } from "./inputs.js";
import type { TrainingJob } from "../study/types.js";
import { bundleFacts } from "./evidence.js";
import { joinPath } from "./trainer-command.js";

export const RUN_RECORD_NAME = "npzguard_runs.json";
export const RUN_RECORD_VERSION = 1;

export type ExecutorName = "local" | "slurm";
/** "pending" and "cancelled" are written by the Slurm executor (queued; scancel'ed or vanished). */
/** "interrupted": npzguard was stopped (SIGINT/SIGTERM) while the trainer ran, or died (kill -9). */
export type RunStatus = "pending" | "running" | "success" | "failed" | "blocked" | "interrupted" | "cancelled";
export const RUN_STATUSES: readonly RunStatus[] = ["pending", "running", "success", "failed", "blocked", "interrupted", "cancelled"];

/** The settings a job's inputs were verified with (they must be the trainer's, see cli/run.ts). */
export interface CheckSettings {
  backend: string;
  mode: "full" | "header" | "none";
  n_groups: number;
  neighbor_count: number;
}

export interface RunRecordEntry {
  id: string;
  dose: number;
  view: TrainingJob["view"];
  gridsize: TrainingJob["gridsize"];
  status: RunStatus;
  executor: ExecutorName;
  command: string | null;
  cwd: string | null;
  gpu: string | null;
  start: string | null;
  end: string | null;
  exit_status: number | null;
  signal: string | null;
  result_status: string | null;
  evidence_source: "manifest" | "train.log" | null;
  bundle_path: string | null;
  bundle_sha256: string | null;
  bundle_size_bytes: number | null;
  log_path: string | null;
  train_log_path: string;
  artifact_dir: string;
  reasons: string[];
  attempts: number;
  /** pid of the npzguard process that owns a "running" entry. */
  owner_pid: number | null;
  /** Executor-specific handle (e.g. a Slurm job id). */
  external_id?: string | null;
  /** Slurm: the batch script of the submission (its `.tasks/` directory holds the task states). */
  slurm_script?: string | null;
  /** Size of train.log before the attempt (only text appended after it is evidence). */
  train_log_offset?: number | null;
  /** The verified inputs of the last attempt (a success is reused only while they are unchanged). */
  inputs?: { train: InputIdentity | null; test: InputIdentity | null } | null;
  /** Settings the inputs were verified with for the last attempt. */
  check_settings?: CheckSettings | null;
  /** Local executor: the trainer's process (its own process group) and where it runs. */
  trainer_pid?: number | null;
  trainer_pgid?: number | null;
  host?: string | null;
  /** Kernel start time of the trainer process (/proc/<pid>/stat field 22), against pid reuse. */
  trainer_start_ticks?: number | null;
  /** File the trainer's wrapper writes its exit status to (lets a later run adopt an orphan). */
  attempt_state?: string | null;
  /** Things a user should look at although the job succeeded (e.g. NaN final_loss). */
  warnings?: string[];
}

/** A Phase D view the trainer would skip (its Phase D files are missing). */
export interface SkippedRecord {
  dose: number;
  view: string;
  reason: string;
}

/** One file of a blocked job and the violations that blocked it. */
export interface BlockedRecord {
  id: string;
  dose: number;
  view: string;
  gridsize: number;
  file: "train" | "test";
  path: string;
  violations: { rule: string; severity: string; key: string | null; message: string }[];
}

export interface RunRecord {
  version: number;
  artifact_root: string;
  updated: string;
  jobs: RunRecordEntry[];
  /** Views skipped by the last run's plan (missing Phase D files), with the trainer's reason. */
  skipped?: SkippedRecord[];
  /** Files that blocked jobs in the last run's plan. */
  blocked?: BlockedRecord[];
}

export function runRecordPath(artifactRoot: string): string {
  return joinPath(artifactRoot, RUN_RECORD_NAME);
}

export function emptyRecord(artifactRoot: string): RunRecord {
  return { version: RUN_RECORD_VERSION, artifact_root: artifactRoot, updated: new Date().toISOString(), jobs: [] };
}

function damaged(path: string, what: string): HandoffError {
  return new HandoffError(
    "ERR_RUN_RECORD",
    `the hand-off record ${path} ${what}; move it aside (mv '${path}' '${path}.damaged') and run again: ` + "jobs whose record is lost are re-run",
    path,
  );
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const strOrNull = (v: unknown): boolean => v === null || v === undefined || typeof v === "string";
const numOrNull = (v: unknown): boolean => v === null || v === undefined || typeof v === "number";

/** Why an entry cannot be used, or null when it has the fields every reader relies on. */
function entryProblem(e: unknown, i: number): string | null {
  if (!isObj(e)) return `job #${i + 1} is ${e === null ? "null" : typeof e}, not an object`;
  const bad = (field: string): string => `job #${i + 1} (${typeof e.id === "string" ? e.id : "no id"}) has a malformed '${field}'`;
  if (typeof e.id !== "string" || e.id.length === 0) return bad("id");
  if (typeof e.status !== "string" || !RUN_STATUSES.includes(e.status as RunStatus)) return bad("status");
  if (e.executor !== "local" && e.executor !== "slurm") return bad("executor");
  if (typeof e.dose !== "number" || typeof e.view !== "string" || typeof e.gridsize !== "number") return bad("dose/view/gridsize");
  if (typeof e.artifact_dir !== "string") return bad("artifact_dir");
  if (typeof e.train_log_path !== "string") return bad("train_log_path");
  if (!Array.isArray(e.reasons) || !e.reasons.every((r) => typeof r === "string")) return bad("reasons");
  if (typeof e.attempts !== "number") return bad("attempts");
  for (const f of [
    "command",
    "cwd",
    "gpu",
    "start",
    "end",
    "signal",
    "result_status",
    "bundle_path",
    "bundle_sha256",
    "log_path",
    "external_id",
    "slurm_script",
  ]) {
    if (!strOrNull(e[f])) return bad(f);
  }
  for (const f of ["exit_status", "bundle_size_bytes", "owner_pid", "train_log_offset", "trainer_pid", "trainer_pgid"]) {
    if (!numOrNull(e[f])) return bad(f);
  }
  return null;
}

/** Parses and validates a record's text; throws ERR_RUN_RECORD naming the file and the fix. */
export function parseRunRecord(text: string, path: string, artifactRoot: string): RunRecord {
  if (text.trim().length === 0) throw damaged(path, "is empty (truncated?)");
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    const why = e instanceof Error ? e.message.replace(/\s+/g, " ").slice(0, 120) : String(e);
    throw damaged(path, `is not valid JSON (${why}; truncated?)`);
  }
  if (!isObj(doc) || !Array.isArray(doc.jobs)) throw damaged(path, "is not an npzguard run record (no 'jobs' list)");
  const problem = doc.jobs.map((e, i) => entryProblem(e, i)).find((p) => p !== null);
  if (problem) throw damaged(path, `is malformed: ${problem}`);
  const record: RunRecord = {
    version: typeof doc.version === "number" ? doc.version : RUN_RECORD_VERSION,
    artifact_root: typeof doc.artifact_root === "string" ? doc.artifact_root : artifactRoot,
    updated: typeof doc.updated === "string" ? doc.updated : "",
    jobs: doc.jobs as RunRecordEntry[],
  };
  if (Array.isArray(doc.skipped)) record.skipped = doc.skipped.filter(isObj) as unknown as SkippedRecord[];
  if (Array.isArray(doc.blocked)) record.blocked = doc.blocked.filter(isObj) as unknown as BlockedRecord[];
  return record;
}

/** Reads the record; null when absent. Throws HandoffError ERR_RUN_RECORD when it is damaged. */
export async function readRunRecord(artifactRoot: string): Promise<RunRecord | null> {
  const path = runRecordPath(artifactRoot);
  let text: string;
  try {
    const st = await lstat(path);
    if (st.isSymbolicLink()) throw damaged(path, "is a symbolic link (refusing to follow it)");
    if (st.isDirectory()) throw damaged(path, "is a directory");
    text = await readFile(path, "utf8");
  } catch (e) {
    if (e instanceof HandoffError) throw e;
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw damaged(path, `cannot be read (${(e as Error).message})`);
  }
  return parseRunRecord(text, path, artifactRoot);
}

/** Writes JSON atomically: temp file beside the target, fsync, rename, fsync the directory. */
export async function writeJsonAtomic(path: string, data: unknown): Promise<void> {
  await writeTextAtomic(path, JSON.stringify(data, null, 2) + "\n");
}

/** Writes text atomically: temp file beside the target, fsync, rename, fsync the directory. */
export async function writeTextAtomic(path: string, text: string): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(16).slice(2, 10)}`;
  const fh = await open(tmp, "wx", 0o644);
  try {
    await fh.writeFile(text, "utf8");
    await fh.sync();
  } catch (e) {
    await fh.close();
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await fh.close();
  await rename(tmp, path);
  try {
    const dh = await open(dir, "r");
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  } catch {
    /* directories cannot be fsynced on every platform; the rename is still atomic */
  }
}

/** True when a pid names a live process (used to tell "running" from "interrupted"). */
export function processAlive(pid: number | null): boolean {
  return pidAlive(pid);
}

/**
 * "running" local entries whose npzguard is gone become "interrupted" (view only; nothing is
 * written), unless their trainer is still alive on this host: then they stay "running" with a
 * note (the next `run` waits for that trainer and adopts its result). Slurm entries are left
 * alone: their jobs outlive npzguard; refresh them from Slurm instead.
 */
export function refreshStatuses(record: RunRecord): RunRecord {
  const host = hostname();
  return {
    ...record,
    jobs: record.jobs.map((j) => {
      if (j.status !== "running" || j.executor === "slurm" || j.owner_pid === process.pid || processAlive(j.owner_pid)) return j;
      if ((j.host ?? host) === host && trainerAlive(j.trainer_pgid, j.trainer_pid, j.trainer_start_ticks)) {
        return {
          ...j,
          reasons: [...j.reasons, `npzguard pid ${j.owner_pid} is gone but its trainer (pid ${j.trainer_pid}) still runs; the next run waits for it`],
        };
      }
      return { ...j, status: "interrupted", reasons: [...j.reasons, `npzguard pid ${j.owner_pid} stopped while the job ran`] };
    }),
  };
}

/** Whether `<artifact_dir>/wts.h5.zip` still has the size and SHA-256 recorded for the success. */
export async function bundleUnchanged(entry: RunRecordEntry): Promise<boolean> {
  if (entry.bundle_sha256 === null || entry.bundle_size_bytes === null) return false;
  try {
    const st = await stat(joinPath(entry.artifact_dir, "wts.h5.zip"));
    if (st.size !== entry.bundle_size_bytes) return false;
  } catch {
    return false;
  }
  const facts = await bundleFacts(entry.artifact_dir);
  return facts !== null && facts.sha256 === entry.bundle_sha256 && facts.sizeBytes === entry.bundle_size_bytes;
}

/** Owns the in-memory record of one run and persists every change atomically, in order. */
export class RunRecordStore {
  private record: RunRecord;
  private chain: Promise<void> = Promise.resolve();
  /** Ids this process changed: a write replaces only these in what is on disk. */
  private readonly touched = new Set<string>();
  private topLevelTouched = false;

  private constructor(
    readonly artifactRoot: string,
    record: RunRecord,
  ) {
    this.record = record;
  }

  /** Loads the record (empty when absent); throws ERR_RUN_RECORD when it is damaged. */
  static async load(artifactRoot: string): Promise<RunRecordStore> {
    const existing = await readRunRecord(artifactRoot);
    return new RunRecordStore(artifactRoot, existing ?? emptyRecord(artifactRoot));
  }

  get path(): string {
    return runRecordPath(this.artifactRoot);
  }

  get(id: string): RunRecordEntry | undefined {
    return this.record.jobs.find((j) => j.id === id);
  }

  snapshot(): RunRecord {
    return structuredClone(this.record);
  }

  /** Inserts or replaces the entry with the same id, then rewrites the file. */
  upsert(entry: RunRecordEntry): Promise<void> {
    const copy = structuredClone(entry);
    const idx = this.record.jobs.findIndex((j) => j.id === copy.id);
    if (idx >= 0) this.record.jobs[idx] = copy;
    else this.record.jobs.push(copy);
    this.touched.add(copy.id);
    return this.flush();
  }

  /** Records the plan's skipped views and blocked files (top level), then rewrites the file. */
  setPlanFacts(skipped: SkippedRecord[], blocked: BlockedRecord[]): Promise<void> {
    this.record.skipped = structuredClone(skipped);
    this.record.blocked = structuredClone(blocked);
    this.topLevelTouched = true;
    return this.flush();
  }

  /** Serialized atomic rewrite: reads the file again and replaces only what this process changed. */
  flush(): Promise<void> {
    const next = this.chain.then(async () => {
      let onDisk: RunRecord | null = null;
      try {
        onDisk = await readRunRecord(this.artifactRoot);
      } catch {
        onDisk = null; // damaged since we loaded it: ours is the best record there is
      }
      if (onDisk) {
        const mine = new Map(this.record.jobs.filter((j) => this.touched.has(j.id)).map((j) => [j.id, j]));
        const jobs = onDisk.jobs.map((j) => mine.get(j.id) ?? j);
        for (const [id, j] of mine) if (!onDisk.jobs.some((d) => d.id === id)) jobs.push(j);
        this.record = {
          ...onDisk,
          jobs,
          ...(this.topLevelTouched ? { skipped: this.record.skipped ?? [], blocked: this.record.blocked ?? [] } : {}),
        };
      }
      this.record.updated = new Date().toISOString();
      await writeJsonAtomic(this.path, this.record);
    });
    this.chain = next.catch(() => undefined);
    return next;
  }
}
