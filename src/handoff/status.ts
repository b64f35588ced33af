// What `npzguard status` shows, as one library call: the hand-off record of an artifact root
// (A/npzguard_runs.json) refreshed for display. "running" entries whose npzguard process is gone
// read "interrupted"; succeeded entries whose bundle is missing or changed size get a note.
// Pending/running Slurm jobs that no npzguard is watching are refreshed from Slurm and finished
// ones judged from their evidence; that is written back only when no run holds the root's lock.
import { statSync } from "node:fs";
import { RunLock } from "./lock.js";
import { readRunRecord, refreshStatuses, type RunRecord, type RunRecordEntry } from "./run-record.js";
import { refreshSlurmRecord } from "./slurm-executor.js";
import { joinPath } from "./trainer-command.js";

export interface RunStatus {
  /** The record as displayed (filtered by executor, statuses refreshed, bundle notes added). */
  view: RunRecord;
  /** Every shown job succeeded and has no note. */
  allGood: boolean;
}

/** Adds a note to succeeded entries whose bundle is gone or changed size since the run. */
function checkBundles(record: RunRecord): RunRecord {
  return {
    ...record,
    jobs: record.jobs.map((j): RunRecordEntry => {
      if (j.status !== "success") return j;
      const path = j.bundle_path ?? joinPath(j.artifact_dir, "wts.h5.zip");
      try {
        const st = statSync(path);
        if (st.size === j.bundle_size_bytes) return j;
        return { ...j, reasons: [...j.reasons, `bundle size is now ${st.size} bytes (recorded ${j.bundle_size_bytes})`] };
      } catch {
        return { ...j, reasons: [...j.reasons, `bundle ${path} is missing`] };
      }
    }),
  };
}

/**
 * The refreshed record of `artifactRoot`, or null when there is none. Throws what readRunRecord
 * throws (HandoffError ERR_RUN_RECORD, fs errors). Notes (Slurm refresh, or why it could not be
 * done) go to `progress`.
 */
export async function runStatus(
  artifactRoot: string,
  options: { executor?: "local" | "slurm"; progress?: (line: string) => void } = {},
): Promise<RunStatus | null> {
  const say = options.progress ?? (() => undefined);
  let record = await readRunRecord(artifactRoot);
  if (record === null) return null;
  if (record.jobs.some((j) => j.executor === "slurm" && (j.status === "pending" || j.status === "running"))) {
    let lock: RunLock | null = null;
    try {
      // Write the refreshed entries only when no run holds the artifact root; never wait for it.
      lock = await RunLock.tryAcquire(artifactRoot, "npzguard status").catch(() => null);
      const refreshed = await refreshSlurmRecord(artifactRoot, {}, lock === null);
      for (const n of refreshed.notes) say(n);
      record = refreshed.record;
    } catch (e) {
      // No Slurm here (or it failed): show the record as last written.
      say(`cannot refresh Slurm jobs: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      lock?.release();
    }
  }
  const filtered = options.executor === undefined ? record : { ...record, jobs: record.jobs.filter((j) => j.executor === options.executor) };
  const view = checkBundles(refreshStatuses(filtered));
  return { view, allGood: view.jobs.length > 0 && view.jobs.every((j) => j.status === "success" && j.reasons.length === 0) };
}
