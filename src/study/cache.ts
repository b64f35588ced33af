// Verification cache (study-fly64-dose-overlap.md §10.3 step 2): <artifact_root>/.npzguard-cache.json
// maps (path, options hash) to the report of the last check, valid while the file's size, mtimeMs
// and inode are unchanged. Written atomically (temp file + rename) so a crash or a concurrent
// reader never sees a half-written cache. A cache that cannot be read is ignored, never fatal.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import type { Report } from "../contract/types.js";
import { VERSION } from "../version.js";
import { pyJsonDump, pyJsonParse, type PyJsonValue } from "./pyformat.js";
import { pyJoin } from "./pypath.js";

export const CACHE_FILE = ".npzguard-cache.json";
const CACHE_FORMAT = 1;

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
  return createHash("sha256").update(JSON.stringify([VERSION, CACHE_FORMAT, sorted])).digest("hex").slice(0, 32);
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
  private dirty = false;

  private constructor(file: string) {
    this.file = file;
  }

  /** Opens (or starts empty) the cache of an artifact root. */
  static open(artifactRoot: string): VerifyCache {
    const cache = new VerifyCache(pyJoin(artifactRoot, CACHE_FILE));
    let text: string | null = null;
    try {
      text = readFileSync(cache.file, "utf8");
    } catch {
      text = null;
    }
    if (text !== null) {
      try {
        // JSON.parse is several times faster; the Python-style reader only when NaN/Infinity occur.
        let raw: unknown;
        try {
          raw = JSON.parse(text);
        } catch {
          raw = pyJsonParse(text);
        }
        const parsed = raw as { format?: number; entries?: CacheEntry[] };
        if (parsed && parsed.format === CACHE_FORMAT && Array.isArray(parsed.entries)) {
          for (const e of parsed.entries) {
            if (e && typeof e.path === "string" && typeof e.optionsHash === "string" && e.report) {
              cache.entries.set(key(e.path, e.optionsHash), e);
            }
          }
        }
      } catch {
        // A corrupt cache is treated as empty; it is rewritten on save.
        cache.dirty = true;
      }
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
    this.stats.stores++;
    this.dirty = true;
  }

  /** Drops entries whose file no longer exists; returns how many. */
  prune(): number {
    let n = 0;
    for (const [k, e] of this.entries) {
      if (stampOf(e.path) === null) {
        this.entries.delete(k);
        n++;
      }
    }
    if (n) this.dirty = true;
    return n;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Writes the cache atomically if it changed (creates the artifact root if needed). */
  save(): void {
    if (!this.dirty) return;
    const dir = this.file.slice(0, Math.max(this.file.lastIndexOf("/"), 0)) || ".";
    mkdirSync(dir, { recursive: true });
    const body = pyJsonDump(
      { format: CACHE_FORMAT, version: VERSION, entries: [...this.entries.values()] as unknown as PyJsonValue[] },
      null,
    );
    const tmp = `${this.file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    try {
      writeFileSync(tmp, body);
      renameSync(tmp, this.file);
    } catch (e) {
      try {
        unlinkSync(tmp);
      } catch {
        // nothing to clean up
      }
      throw e;
    }
    this.dirty = false;
  }
}

function key(path: string, hash: string): string {
  return `${hash}\u0000${path}`;
}
