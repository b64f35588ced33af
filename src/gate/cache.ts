// Verification cache (study-fly64-dose-overlap.md §10.3 step 2): <artifact_root>/.npzguard-cache.json
// maps (path, options hash) to the report of the last check, valid while the file's size, mtimeMs
// and inode are unchanged. Written atomically (temp file + rename) so a crash or a concurrent
// reader never sees a half-written cache. A cache that cannot be read is ignored, never fatal.
import { createHash } from "node:crypto";
import { lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { flocker, withFileLockSync } from "../files/flock.js";
import type { Report } from "../contract/types.js";
import { VERSION } from "../version.js";
import { pyJsonDump, pyJsonParse, type PyJsonValue } from "../python/json.js";
import { pyJoin } from "../python/path.js";

export const CACHE_FILE = ".npzguard-cache.json";
// 2: header-only reports say "not-evaluated" for the reference verdict (format 1 said "pass").
const CACHE_FORMAT = 2;

/** File identity used for invalidation. */
export interface FileStamp {
  size: number;
  mtimeMs: number;
  inode: number;
}

interface CacheEntry extends FileStamp {
  path: string;
  optionsHash: string;
  report: Report;
}

/** Stable hash of the check options that influence a report (plus the package version). */
export function optionsHash(options: object): string {
  const sorted = Object.keys(options)
    .sort()
    .filter((k) => (options as Record<string, unknown>)[k] !== undefined && typeof (options as Record<string, unknown>)[k] !== "function")
    .map((k) => [k, (options as Record<string, unknown>)[k]]);
  return createHash("sha256")
    .update(JSON.stringify([VERSION, CACHE_FORMAT, sorted]))
    .digest("hex")
    .slice(0, 32);
}

/** Current stamp of a file, or null when it cannot be stat'ed. */
export function stampOf(path: string): FileStamp | null {
  try {
    const st = statSync(path);
    if (!st.isFile()) return null;
    return { size: st.size, mtimeMs: st.mtimeMs, inode: st.ino };
  } catch {
    return null;
  }
}

function sameStamp(a: FileStamp, b: FileStamp): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.inode === b.inode;
}

export interface CacheStats {
  hits: number;
  misses: number;
  stores: number;
}

/** In-memory view of the cache file; `save()` writes it back when something changed. */
export class VerifyCache {
  readonly file: string;
  readonly stats: CacheStats = { hits: 0, misses: 0, stores: 0 };
  private readonly entries = new Map<string, CacheEntry>();
  /** Keys this process stored or pruned: they win over the file's content when merging. */
  private readonly stored = new Set<string>();
  private readonly removed = new Set<string>();
  private dirty = false;

  private constructor(file: string) {
    this.file = file;
  }

  /** Why the cache file was (partly) ignored, for a warning line; null when it read cleanly. */
  warning: string | null = null;

  /** Opens (or starts empty) the cache of an artifact root. A damaged file is rebuilt, never fatal. */
  static open(artifactRoot: string): VerifyCache {
    const cache = new VerifyCache(pyJoin(artifactRoot, CACHE_FILE));
    const read = readCacheFile(cache.file);
    for (const e of read.entries) cache.entries.set(key(e.path, e.optionsHash), e);
    if (read.problem !== null) {
      cache.warning = `verification cache ${cache.file} ${read.problem}; rebuilding it (files are re-checked as needed)`;
      cache.dirty = true;
    }
    return cache;
  }

  /** The cached report when the file's current stamp matches, else undefined. */
  get(path: string, hash: string, stamp: FileStamp | null): Report | undefined {
    const e = this.entries.get(key(path, hash));
    if (e && stamp && sameStamp(e, stamp)) {
      this.stats.hits++;
      return e.report;
    }
    this.stats.misses++;
    return undefined;
  }

  /** Records a report checked against `stamp` (the stat taken before the check). */
  set(path: string, hash: string, stamp: FileStamp, report: Report): void {
    this.entries.set(key(path, hash), { path, optionsHash: hash, ...stamp, report });
    this.stored.add(key(path, hash));
    this.removed.delete(key(path, hash));
    this.stats.stores++;
    this.dirty = true;
  }

  /** Drops entries whose file no longer exists; returns how many. */
  prune(): number {
    let n = 0;
    for (const [k, e] of this.entries) {
      if (stampOf(e.path) === null) {
        this.entries.delete(k);
        this.removed.add(k);
        this.stored.delete(k);
        n++;
      }
    }
    if (n) this.dirty = true;
    return n;
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * Writes the cache if it changed: under a short flock of `<file>.lock`, the file is read again
   * and merged (entries this process stored or pruned win, everything else another process wrote
   * meanwhile is kept), then replaced atomically (temp file + rename). Concurrent plans and runs
   * therefore never drop each other's entries. Leftover temp files of dead writers are removed.
   * Returns false when the lock could not be had in time (the cache is only a speed-up).
   */
  async save(): Promise<boolean> {
    if (!this.dirty) return true;
    const dir = this.file.slice(0, Math.max(this.file.lastIndexOf("/"), 0)) || ".";
    mkdirSync(dir, { recursive: true });
    const lock = await flocker();
    const done = withFileLockSync(`${this.file}.lock`, lock, () => {
      removeStaleTemps(dir, CACHE_FILE);
      const onDisk = readCacheFile(this.file);
      const merged = new Map<string, CacheEntry>();
      for (const e of onDisk.entries) merged.set(key(e.path, e.optionsHash), e);
      for (const k of this.removed) merged.delete(k);
      for (const k of this.stored) {
        const e = this.entries.get(k);
        if (e) merged.set(k, e);
      }
      const body = pyJsonDump({ format: CACHE_FORMAT, version: VERSION, entries: [...merged.values()] as unknown as PyJsonValue[] }, null);
      const tmp = `${this.file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
      try {
        writeFileSync(tmp, body, { flag: "wx", mode: 0o644 });
        renameSync(tmp, this.file);
      } catch (e) {
        try {
          unlinkSync(tmp);
        } catch {
          // nothing to clean up
        }
        throw e;
      }
      for (const [k, e] of merged) this.entries.set(k, e);
      return true;
    });
    if (done) this.dirty = false;
    return done === true;
  }
}

/** A cache entry is usable only with the report fields its readers touch. */
function validEntry(e: unknown): e is CacheEntry {
  if (typeof e !== "object" || e === null) return false;
  const x = e as Record<string, unknown>;
  const r = x.report as Record<string, unknown> | null | undefined;
  return (
    typeof x.path === "string" &&
    typeof x.optionsHash === "string" &&
    typeof x.size === "number" &&
    typeof x.mtimeMs === "number" &&
    typeof x.inode === "number" &&
    typeof r === "object" &&
    r !== null &&
    typeof r.ok === "boolean" &&
    Array.isArray(r.violations) &&
    r.violations.every((v) => typeof v === "object" && v !== null && typeof (v as { severity?: unknown }).severity === "string") &&
    typeof r.referenceVerdict === "object" &&
    r.referenceVerdict !== null &&
    typeof r.digest === "object" &&
    r.digest !== null &&
    Array.isArray(r.members)
  );
}

/** Reads the cache file: its valid entries, and what was wrong with it (null when nothing). */
function readCacheFile(file: string): { entries: CacheEntry[]; problem: string | null } {
  let text: string;
  try {
    const st = lstatSync(file);
    if (!st.isFile()) return { entries: [], problem: st.isSymbolicLink() ? "is a symbolic link (ignored)" : "is not a regular file" };
    text = readFileSync(file, "utf8");
  } catch (e) {
    return { entries: [], problem: (e as NodeJS.ErrnoException).code === "ENOENT" ? null : `cannot be read (${(e as Error).message})` };
  }
  let raw: unknown;
  try {
    // JSON.parse is several times faster; the Python-style reader only when NaN/Infinity occur.
    try {
      raw = JSON.parse(text);
    } catch {
      raw = pyJsonParse(text);
    }
  } catch {
    return { entries: [], problem: "is not valid JSON (truncated?)" };
  }
  const parsed = raw as { format?: unknown; entries?: unknown };
  if (typeof parsed !== "object" || parsed === null || !Array.isArray(parsed.entries)) return { entries: [], problem: "is not an npzguard cache" };
  if (parsed.format !== CACHE_FORMAT) return { entries: [], problem: null }; // another format version: silently rebuilt
  const entries = parsed.entries.filter(validEntry);
  const bad = parsed.entries.length - entries.length;
  return { entries, problem: bad > 0 ? `has ${bad} malformed entr${bad === 1 ? "y" : "ies"} (dropped)` : null };
}

/** Removes `<name>.<pid>.<rand>.tmp` / `<name>.tmp-<pid>-<rand>` files whose writer is gone. */
export function removeStaleTemps(dir: string, name: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  const re = new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(?:\\.(\\d+)\\.[a-z0-9]+\\.tmp|\\.tmp-(\\d+)-[0-9a-f]+)$`);
  for (const n of names) {
    const m = re.exec(n);
    if (!m) continue;
    const pid = Number(m[1] ?? m[2]);
    if (pid === process.pid || pidAlive(pid)) continue;
    try {
      unlinkSync(`${dir}/${n}`);
    } catch {
      // raced with another cleaner
    }
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function key(path: string, hash: string): string {
  return `${hash}\u0000${path}`;
}
