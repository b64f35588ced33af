// The artifact root's run lock and the short merge locks of shared state files.
//
// `npzguard run` holds an exclusive flock(2) on <artifact_root>/.npzguard.lock for its whole
// life (both executors). The kernel drops it when the process exits in any way, SIGKILL
// included, so a crashed run never leaves a stale lock behind, and the descriptor is opened
// O_CLOEXEC (Node always does) so trainers never inherit it. The file's content names the holder
// (pid, host, start, command) for the error a second run prints; the content is informative
// only, the flock is the lock. The file is opened with O_NOFOLLOW: a symlink planted in a shared
// artifact root is refused, never followed. It is never deleted (deleting a held lock file would
// let a second process lock a new inode).
import { closeSync, constants, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync } from "node:fs";
import { flocker, LockFileError, openLockFile } from "../files/flock.js";
import { hostname } from "node:os";
import { HandoffError } from "./errors.js";
import { joinPath } from "./trainer-command.js";

export const RUN_LOCK_NAME = ".npzguard.lock";

export interface LockHolder {
  pid: number | null;
  host: string | null;
  start: string | null;
  command: string | null;
}

/** Who holds (or last held) the lock of an artifact root, from the lock file's content. */
export function readLockHolder(path: string): LockHolder | null {
  let text: string;
  try {
    const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      text = readFileSync(fd, "utf8");
    } finally {
      closeSync(fd);
    }
  } catch {
    return null;
  }
  try {
    const o = JSON.parse(text) as Record<string, unknown>;
    return {
      pid: typeof o.pid === "number" ? o.pid : null,
      host: typeof o.host === "string" ? o.host : null,
      start: typeof o.start === "string" ? o.start : null,
      command: typeof o.command === "string" ? o.command : null,
    };
  } catch {
    return null;
  }
}

export function describeHolder(h: LockHolder | null): string {
  if (h === null || h.pid === null) return "another npzguard process";
  return `npzguard pid ${h.pid}${h.host ? ` on ${h.host}` : ""}${h.start ? ` (started ${h.start})` : ""}`;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface AcquireOptions {
  /** Wait for the holder to finish instead of failing (`--wait-lock`). */
  wait?: boolean;
  /** Called once when the lock is busy and `wait` is set. */
  onWait?: (holder: LockHolder | null) => void;
  signal?: AbortSignal;
  /** What the holder is doing, written into the lock file (default: process.argv). */
  command?: string;
}

/** An exclusive lock on <artifact_root>/.npzguard.lock, held until release() or process exit. */
export class RunLock {
  private fd: number | null;

  private constructor(
    readonly path: string,
    fd: number,
  ) {
    this.fd = fd;
  }

  /** Takes the run lock of an artifact root (creating the root). Throws ERR_RUN_LOCKED when busy. */
  static async acquire(artifactRoot: string, o: AcquireOptions = {}): Promise<RunLock> {
    mkdirSync(artifactRoot, { recursive: true });
    const path = joinPath(artifactRoot, RUN_LOCK_NAME);
    const lock = await flocker();
    let fd: number;
    try {
      fd = openLockFile(path);
    } catch (e) {
      if (e instanceof LockFileError) throw new HandoffError("ERR_RUN_LOCK", e.message, path);
      throw e;
    }
    try {
      let told = false;
      while (!lock.flock(fd, true, false)) {
        const holder = readLockHolder(path);
        if (!o.wait) {
          throw new HandoffError(
            "ERR_RUN_LOCKED",
            `${artifactRoot} is in use by ${describeHolder(holder)}; wait for it to finish (or pass --wait-lock to wait)`,
            path,
          );
        }
        if (!told) o.onWait?.(holder);
        told = true;
        if (o.signal?.aborted) throw o.signal.reason instanceof Error ? o.signal.reason : new Error("aborted while waiting for the run lock");
        await sleep(200);
      }
      const info = JSON.stringify({
        pid: process.pid,
        host: hostname(),
        start: new Date().toISOString(),
        command: o.command ?? process.argv.slice(1).join(" "),
      });
      ftruncateSync(fd, 0);
      writeSync(fd, info + "\n", 0);
      return new RunLock(path, fd);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  /** Tries once; null when another process holds the lock (status uses this to write only when idle). */
  static async tryAcquire(artifactRoot: string, command?: string): Promise<RunLock | null> {
    try {
      return await RunLock.acquire(artifactRoot, command !== undefined ? { command } : {});
    } catch (e) {
      if (e instanceof HandoffError && e.code === "ERR_RUN_LOCKED") return null;
      throw e;
    }
  }

  get held(): boolean {
    return this.fd !== null;
  }

  /** Idempotent. The lock file stays (see the header comment). */
  release(): void {
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    closeSync(fd);
  }
}
