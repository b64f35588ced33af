// Identity of a job's input files, recorded with every attempt so that a recorded success is
// reused only for exactly the data it was trained on. An identity is the file's stat facts
// (size, mtime, inode) plus a content fingerprint: SHA-256 over each member's name, CRC-32 and
// size from the central directory and its NPY dtype and shape. A regenerated file changes the
// fingerprint even when size and mtime happen to match; a file touched without a change keeps it.
import { createHash } from "node:crypto";
import { statSync } from "node:fs";
import type { Report } from "../contract/types.js";

export interface InputIdentity {
  /** Absolute path, as handed to the trainer. */
  path: string;
  size: number;
  mtime_ms: number;
  inode: number;
  /** Hex SHA-256 of the members' CRC-32s, sizes and NPY headers; null when the file could not be read. */
  fingerprint: string | null;
}

interface MemberFacts {
  key: string;
  crc32: number;
  usize: number;
  descr: string | null;
  shape: readonly number[] | null;
}

export function fingerprintOf(members: readonly MemberFacts[]): string {
  const h = createHash("sha256");
  for (const m of members) h.update(JSON.stringify([m.key, m.crc32 >>> 0, m.usize, m.descr, m.shape]) + "\n");
  return h.digest("hex");
}

/** The identity of a file as it was verified (from its check report), or null for an unreadable file. */
export function identityFromReport(path: string, r: Report): InputIdentity | null {
  if (r.readError) return null;
  const headers = new Map(r.members.map((m) => [m.key, m]));
  const members = r.digest.members.map((d) => ({
    key: d.key,
    crc32: d.crc32,
    usize: d.usize,
    descr: headers.get(d.key)?.descr ?? null,
    shape: headers.get(d.key)?.shape ?? null,
  }));
  return { path, size: r.digest.size, mtime_ms: r.digest.mtimeMs, inode: r.digest.inode, fingerprint: fingerprintOf(members) };
}

/** The identity of a file now (stat + central directory + NPY headers); null when it does not exist. */
export async function identityNow(path: string): Promise<InputIdentity | null> {
  let st;
  try {
    st = statSync(path);
  } catch {
    return null;
  }
  if (!st.isFile()) return null;
  let fingerprint: string | null = null;
  try {
    const { openNpz } = await import("../npz.js");
    const f = openNpz(path);
    try {
      fingerprint = fingerprintOf(
        f.members().map((m) => ({
          key: m.key,
          crc32: m.crc32,
          usize: m.uncompressedSize,
          descr: m.header?.descr ?? null,
          shape: m.header ? [...m.header.shape] : null,
        })),
      );
    } finally {
      f.close();
    }
  } catch {
    fingerprint = null; // not an archive we can read: stat facts only
  }
  return { path, size: st.size, mtime_ms: st.mtimeMs, inode: st.ino, fingerprint };
}

/** Why `now` is not the input `was` ("size 10 -> 12, content changed"), or null when it is the same. */
export function identityChange(was: InputIdentity | null | undefined, now: InputIdentity | null): string | null {
  if (!was) return "no identity recorded";
  if (!now) return "missing now";
  const d: string[] = [];
  if (was.path !== now.path) d.push(`path ${was.path} -> ${now.path}`);
  if (was.size !== now.size) d.push(`size ${was.size} -> ${now.size} bytes`);
  if (was.fingerprint !== now.fingerprint) d.push("content changed");
  if (was.inode !== now.inode) d.push("file replaced");
  if (was.mtime_ms !== now.mtime_ms) d.push("modified");
  return d.length > 0 ? d.join(", ") : null;
}
