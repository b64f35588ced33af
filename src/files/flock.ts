// flock(2) for files in directories other processes write: the lock file is opened with
// O_NOFOLLOW (a planted symlink is refused, never followed) and must be a regular file; the
// descriptor comes from node:fs (O_CLOEXEC, so child processes never inherit a lock). The flock
// itself is the native addon's (loaded on first use only: plain reads never need it).
import { closeSync, constants, fstatSync, openSync } from "node:fs";

/** Thrown when a lock file cannot be used (a symlink, not a regular file, no permission). */
export class LockFileError extends Error {
  override readonly name = "LockFileError";
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(message);
  }
}

export interface Flock {
  flock(fd: number, exclusive: boolean, wait: boolean): boolean;
}

let flockImpl: Flock | undefined;
export async function flocker(): Promise<Flock> {
  // The addon is loaded only when a lock is needed (plan and status never lock).
  flockImpl ??= (await import("../native.js")).native;
  return flockImpl;
}

export function openLockFile(path: string): number {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o644);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ELOOP" ? "it is a symbolic link (refusing to follow it)" : (e as Error).message;
    throw new LockFileError(`cannot open the lock file ${path}: ${why}`, path);
  }
  if (!fstatSync(fd).isFile()) {
    closeSync(fd);
    throw new LockFileError(`cannot use ${path} as a lock file: not a regular file`, path);
  }
  return fd;
}

/**
 * Runs `fn` under an exclusive flock of `lockPath`, waiting up to `timeoutMs` (synchronously:
 * these sections are a read-merge-write of one small file). Returns undefined, without running
 * fn, when the lock could not be had in time or the lock file cannot be used.
 */
export function withFileLockSync<T>(lockPath: string, lock: Flock, fn: () => T, timeoutMs = 10_000): T | undefined {
  let fd: number;
  try {
    fd = openLockFile(lockPath);
  } catch {
    return undefined;
  }
  try {
    const deadline = Date.now() + timeoutMs;
    const pause = new Int32Array(new SharedArrayBuffer(4));
    while (!lock.flock(fd, true, false)) {
      if (Date.now() > deadline) return undefined;
      Atomics.wait(pause, 0, 0, 20);
    }
    return fn();
  } finally {
    closeSync(fd);
  }
}
