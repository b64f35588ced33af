// Process facts for the hand-off: is a pid or a process group alive, when did a process start
// (to tell a trainer from an unrelated process that reused its pid), and stopping a whole group.
import { readFileSync } from "node:fs";

/** True when a pid names a live process (EPERM: alive, owned by someone else). */
export function pidAlive(pid: number | null | undefined): boolean {
  if (pid === null || pid === undefined || !Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** True while any process of the group is alive. */
export function groupAlive(pgid: number | null | undefined): boolean {
  if (pgid === null || pgid === undefined || !Number.isInteger(pgid) || pgid <= 1) return false;
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Start time of a process in clock ticks since boot (/proc/<pid>/stat field 22); null off Linux. */
export function procStartTicks(pid: number | null | undefined): number | null {
  if (pid === null || pid === undefined || !Number.isInteger(pid) || pid <= 0) return null;
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may contain spaces and parentheses: fields start after the last ')'.
    const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
    const v = Number(rest[19]);
    return Number.isFinite(v) ? v : null;
  } catch {
    return null;
  }
}

/** Whether the process group recorded for a trainer is still that trainer's (alive, same start). */
export function trainerAlive(pgid: number | null | undefined, pid: number | null | undefined, startTicks: number | null | undefined): boolean {
  if (!groupAlive(pgid)) return false;
  if (startTicks === null || startTicks === undefined || pid === null || pid === undefined) return true;
  const now = procStartTicks(pid);
  // The leader (the wrapper shell) may have exited while the trainer lives on in its group.
  return now === null ? true : now === startTicks;
}

function signalGroup(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch {
    // ESRCH: already gone
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Stops a whole process group: SIGTERM, then SIGKILL after `graceMs` if any member is left.
 * Resolves when the group is gone (or 5 s after SIGKILL, which cannot be ignored).
 */
export async function stopGroup(pgid: number, graceMs: number): Promise<void> {
  signalGroup(pgid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (groupAlive(pgid) && Date.now() < deadline) await sleep(50);
  if (!groupAlive(pgid)) return;
  signalGroup(pgid, "SIGKILL");
  const last = Date.now() + 5000;
  while (groupAlive(pgid) && Date.now() < last) await sleep(50);
}

/** Waits until a group is gone, polling; resolves false when `signal` aborts first. */
export async function waitGroupGone(pgid: number, pid: number | null, startTicks: number | null, signal?: AbortSignal, pollMs = 250): Promise<boolean> {
  while (trainerAlive(pgid, pid, startTicks)) {
    if (signal?.aborted) return false;
    await sleep(pollMs);
  }
  return true;
}
