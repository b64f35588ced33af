// Creating files in the artifact root, which other users may be able to write (a shared project
// directory): a log is created as a new temp file (O_CREAT|O_EXCL|O_NOFOLLOW) and renamed over
// its final name, so a symlink planted at that name is replaced, never written through, and a
// planted symlink in place of the log's directory is refused.
import { closeSync, constants, lstatSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { dirname } from "node:path";

export class UnsafePathError extends Error {
  override readonly name = "UnsafePathError";
}

/** mkdir -p, then refuses a directory that is a symbolic link. */
export function ensureRealDirectory(dir: string): void {
  mkdirSync(dir, { recursive: true });
  if (lstatSync(dir).isSymbolicLink()) throw new UnsafePathError(`${dir} is a symbolic link (refusing to write through it)`);
}

/** Creates (replaces) `path` as a new regular file holding `header`; returns its descriptor for appending. */
export function createFileNoFollow(path: string, header = ""): number {
  ensureRealDirectory(dirname(path));
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(16).slice(2, 10)}`;
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW | constants.O_APPEND, 0o644);
  try {
    if (header) writeSync(fd, header);
    renameSync(tmp, path);
  } catch (e) {
    closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      // nothing to remove
    }
    throw e;
  }
  return fd;
}
