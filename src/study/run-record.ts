// The resumable hand-off record, <artifact_root>/npzguard_runs.json. It is rewritten atomically
// (temp file in the same directory, fsync, rename, fsync of the directory) after every job
// state change, so a crash or SIGKILL of npzguard never loses a finished job. Writes from one
// process are serialized; two npzguard processes on one artifact root are not coordinated.
import { open, readFile, rename, stat, unlink, mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import type { TrainingJob } from "./types.js";
import { bundleFacts } from "./evidence.js";
import { joinPath } from "./trainer-command.js";

export const RUN_RECORD_NAME = "npzguard_runs.json";
export const RUN_RECORD_VERSION = 1;

export type ExecutorName = "local" | "slurm";
/** "pending" and "cancelled" are written by the Slurm executor (queued; scancel'ed or vanished). */
export type RunStatus = "pending" | "running" | "success" | "failed" | "blocked" | "interrupted" | "cancelled";

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
}

export interface RunRecord {
  version: number;
  artifact_root: string;
  updated: string;
  jobs: RunRecordEntry[];
}

export function runRecordPath(artifactRoot: string): string {
  return joinPath(artifactRoot, RUN_RECORD_NAME);
}

export function emptyRecord(artifactRoot: string): RunRecord {
  return { version: RUN_RECORD_VERSION, artifact_root: artifactRoot, updated: new Date().toISOString(), jobs: [] };
}

/** Reads the record; null when absent. Throws on a malformed file (the caller reports it). */
export async function readRunRecord(artifactRoot: string): Promise<RunRecord | null> {
  let text: string;
  try {
    text = await readFile(runRecordPath(artifactRoot), "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  }
  const doc = JSON.parse(text) as Partial<RunRecord>;
  if (typeof doc !== "object" || doc === null || !Array.isArray(doc.jobs)) {
    throw new Error(`${runRecordPath(artifactRoot)} is not an npzguard run record`);
  }
  return {
    version: typeof doc.version === "number" ? doc.version : RUN_RECORD_VERSION,
    artifact_root: typeof doc.artifact_root === "string" ? doc.artifact_root : artifactRoot,
    updated: typeof doc.updated === "string" ? doc.updated : "",
    jobs: doc.jobs,
  };
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
  const fh = await open(tmp, "w", 0o644);
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
  if (pid === null || !Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * "running" entries whose owner is gone become "interrupted" (view only; nothing is written).
 * Slurm entries are left alone: their jobs outlive npzguard; refresh them from Slurm instead.
 */
export function refreshStatuses(record: RunRecord): RunRecord {
  return {
    ...record,
    jobs: record.jobs.map((j) =>
      j.status === "running" && j.executor !== "slurm" && !(j.owner_pid === process.pid || processAlive(j.owner_pid))
        ? { ...j, status: "interrupted" }
        : j,
    ),
  };
}

/**
 * Whether a job can be skipped on a re-run: its last recorded attempt succeeded and the bundle
 * on disk still has the recorded size and SHA-256.
 */
export async function alreadySucceeded(entry: RunRecordEntry | undefined, artifactDir: string): Promise<boolean> {
  if (!entry || entry.status !== "success" || entry.bundle_sha256 === null || entry.bundle_size_bytes === null) return false;
  try {
    const st = await stat(joinPath(artifactDir, "wts.h5.zip"));
    if (st.size !== entry.bundle_size_bytes) return false;
  } catch {
    return false;
  }
  const facts = await bundleFacts(artifactDir);
  return facts !== null && facts.sha256 === entry.bundle_sha256 && facts.sizeBytes === entry.bundle_size_bytes;
}

/** Owns the in-memory record of one run and persists every change atomically, in order. */
export class RunRecordStore {
  private record: RunRecord;
  private chain: Promise<void> = Promise.resolve();

  private constructor(
    readonly artifactRoot: string,
    record: RunRecord,
  ) {
    this.record = record;
  }

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
    return this.flush();
  }

  /** Serialized atomic rewrite of the whole record. */
  flush(): Promise<void> {
    const next = this.chain.then(async () => {
      this.record.updated = new Date().toISOString();
      await writeJsonAtomic(this.path, this.record);
    });
    this.chain = next.catch(() => undefined);
    return next;
  }
}
