// checkFile / checkPaths: open each file, gather facts (headers, member errors, one streaming
// scan per member for CRC + stats, `_metadata` strings) and hand them to the engine. Scans of
// all members of all files share one bound (`concurrency`, default `threads` but at most
// MAX_DEFAULT_CONCURRENCY; `threads` defaults to the CPUs this process may use: affinity mask and
// cgroup CPU quota, see native/core/cpu_count.h).
import { readdir, stat, type Dirent, type Stats } from "node:fs";
import path from "node:path";
import { defaultThreads } from "../build-info.js";
import { isNpzError } from "../errors.js";
import { MAX_THREADS, openNpz, type NpzFile } from "../npz.js";
import type { OpenOptions } from "../types.js";
import type { MemberInfo } from "../types.js";
import { evaluate, type CodedError, type MemberFacts } from "./engine.js";
import { errorReport, fileReport, nowMs } from "./report.js";
import type { CheckOptions, Profile, Report } from "./types.js";

/** CheckOptions plus run-time hooks that do not belong in a serialisable options object. */
export interface CheckRunOptions extends CheckOptions {
  /** Called as member bytes are scanned (uncompressed bytes done / total planned). */
  onProgress?: (event: { path: string; key: string; bytesDone: number; bytesTotal: number }) => void;
  /** @internal shared scan limiter (checkPaths passes one to every file). */
  limiter?: Limiter;
}

const PROFILES: readonly Profile[] = ["reference", "study", "tensorflow", "pytorch"];

/** Members whose values a rule reads (§6.6). */
const STATS_KEYS = new Set(["diffraction", "probeGuess", "objectGuess", "xcoords", "ycoords"]);

/** Counting semaphore. */
export class Limiter {
  #free: number;
  #queue: (() => void)[] = [];
  constructor(readonly size: number) {
    this.#free = Math.max(1, Math.floor(size));
  }
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#queue.push(resolve));
    try {
      return await fn();
    } finally {
      const next = this.#queue.shift();
      if (next) next();
      else this.#free++;
    }
  }
}

/**
 * Most members scanned at once by default. Each scan holds buffers or mapped windows of a few to
 * 16 MiB (the parallel DEFLATE decoder's are a process-wide 96 MiB pool of their own), so this
 * bound, not the thread count, keeps a check's peak RSS under 256 MB at any `threads`; a large
 * member still uses all `threads`.
 */
export const MAX_DEFAULT_CONCURRENCY = 4;

/** How many members a check scans at once (`concurrency`, else `threads` capped as above). */
export function defaultConcurrency(options: CheckOptions): number {
  return options.concurrency || Math.min(options.threads || defaultThreads(), MAX_DEFAULT_CONCURRENCY);
}

function validateOptions(options: CheckOptions): void {
  if (options.profile !== undefined && !PROFILES.includes(options.profile)) {
    throw new RangeError(`Expected one of ${PROFILES.join(", ")} for options.profile, got '${String(options.profile)}'`);
  }
  for (const name of ["gridsize", "neighborCount", "nGroups", "concurrency", "maxInflateBytes"] as const) {
    const v = options[name];
    if (v !== undefined && (!Number.isInteger(v) || v < 0)) {
      throw new RangeError(`Expected a non-negative integer for options.${name}, got ${String(v)}`);
    }
  }
  const t = options.threads;
  if (t !== undefined && (!Number.isInteger(t) || t < 1 || t > MAX_THREADS)) {
    throw new RangeError(`Expected an integer between 1 and ${MAX_THREADS} for options.threads, got ${String(t)}`);
  }
  if (options.mode !== undefined && options.mode !== "header" && options.mode !== "full") {
    throw new RangeError(`Expected 'header' or 'full' for options.mode, got '${String(options.mode)}'`);
  }
  if (options.role !== undefined && !["phase-c", "phase-d", "generic"].includes(options.role)) {
    throw new RangeError(`Expected 'phase-c', 'phase-d' or 'generic' for options.role, got '${String(options.role)}'`);
  }
}

function coded(err: unknown): CodedError {
  if (isNpzError(err)) return { code: err.code, message: err.message };
  const e = err as { code?: unknown; message?: unknown };
  if (e && typeof e.code === "string" && typeof e.message === "string") return { code: e.code, message: e.message };
  throw err;
}

function isAbort(err: unknown): boolean {
  return isNpzError(err, "ERR_NPZ_ABORTED") || (err instanceof Error && err.name === "AbortError");
}

function needsStats(info: MemberInfo): boolean {
  const h = info.header;
  if (!h?.supported || h.kind === "O" || h.kind === "U" || h.kind === "S") return false;
  return STATS_KEYS.has(info.key) || h.kind === "b";
}

async function rawCrcScan(file: NpzFile, f: MemberFacts, options: CheckRunOptions): Promise<void> {
  const { info } = f;
  options.signal?.throwIfAborted();
  try {
    const r = await file.scan(info.key, { crc: true, stats: false, ...(options.signal ? { signal: options.signal } : {}) });
    f.scanned = true;
    f.crcVerified = r.crcChecked && r.crcOk;
    if (r.crcChecked && !r.crcOk) {
      f.scanError = {
        code: "ERR_NPZ_CRC_MISMATCH",
        message: `Bad CRC-32 for member '${info.name}' (central directory 0x${info.crc32.toString(16).padStart(8, "0")})`,
      };
    }
  } catch (err) {
    if (isAbort(err)) throw err;
    const e = coded(err);
    if (e.code !== "ERR_NPY_BAD_MAGIC") f.scanError = e; // BAD_MAGIC: this core cannot stream raw members
  }
}

async function gatherFacts(file: NpzFile, filePath: string, options: CheckRunOptions, limiter: Limiter): Promise<MemberFacts[]> {
  const infos = file.members();
  const seen = new Set<string>();
  const facts: MemberFacts[] = infos.map((info) => ({ info, scanned: false, crcVerified: false, stats: null }));
  const full = (options.mode ?? "full") === "full";
  const total = full ? infos.reduce((a, m) => a + (m.header && !m.error ? m.uncompressedSize : 0), 0) : 0;
  let done = 0;
  const jobs: Promise<void>[] = [];
  for (const f of facts) {
    const { info } = f;
    const first = !seen.has(info.key);
    seen.add(info.key);
    const h = info.header;
    if (full && first && !info.npyMagic && (!info.error || info.error.code === "ERR_NPY_BAD_MAGIC")) {
      // NumPy reads a non-NPY member in full as bytes, and zipfile checks its CRC-32 (BadZipFile):
      // verify it too where the reader can stream raw members (older cores refuse with BAD_MAGIC).
      jobs.push(limiter.run(() => rawCrcScan(file, f, options)));
      continue;
    }
    if (!h || info.error || !info.npyMagic) continue;
    // Object members and _metadata: strings via the whitelisting walker (cheap, also in header mode).
    if (first && (h.kind === "O" || (info.key === "_metadata" && (h.kind === "U" || h.kind === "S")))) {
      try {
        f.strings = file.strings(info.key);
      } catch (err) {
        f.stringsError = coded(err);
      }
    }
    if (!full || !first) continue;
    jobs.push(
      limiter.run(async () => {
        options.signal?.throwIfAborted();
        try {
          const r = await file.scan(info.key, { crc: true, stats: needsStats(info), ...(options.signal ? { signal: options.signal } : {}) });
          f.scanned = true;
          f.crcVerified = r.crcChecked && r.crcOk;
          f.stats = r.stats;
          if (r.crcChecked && !r.crcOk) {
            f.scanError = {
              code: "ERR_NPZ_CRC_MISMATCH",
              message: `Bad CRC-32 for member '${info.name}' (central directory 0x${info.crc32.toString(16).padStart(8, "0")})`,
            };
          }
        } catch (err) {
          if (isAbort(err)) throw err;
          f.scanError = coded(err);
        }
        done += info.uncompressedSize;
        options.onProgress?.({ path: filePath, key: info.key, bytesDone: done, bytesTotal: total });
      }),
    );
  }
  const settled = await Promise.allSettled(jobs);
  const rejected = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (rejected) throw rejected.reason;
  return facts;
}

/** Rules a header-only check cannot evaluate: member CRC-32s (npz/integrity) and the value rules. */

/** Checks one .npz/.npy file against DATA-001. Contract violations are data; only misuse and aborts throw. */
export async function checkFile(filePath: string, options: CheckRunOptions = {}): Promise<Report> {
  validateOptions(options);
  const started = nowMs();
  const limiter = options.limiter ?? new Limiter(defaultConcurrency(options));
  options.signal?.throwIfAborted();

  let file: NpzFile;
  try {
    const open: OpenOptions = {};
    if (options.maxInflateBytes !== undefined) open.maxInflateBytes = options.maxInflateBytes;
    if (options.threads !== undefined) open.threads = options.threads;
    file = openNpz(filePath, open);
  } catch (err) {
    coded(err); // misuse (no ERR_* code) is thrown, not reported
    return errorReport(filePath, options, err, started);
  }
  try {
    const facts = await gatherFacts(file, filePath, options, limiter);
    return fileReport(filePath, options, file, facts, evaluate({ path: filePath, members: facts }, options), started);
  } finally {
    file.close();
  }
}

// node:fs's callback API, promisified here: `fs.promises` would load ~10 more built-in modules
// (readline, watchers, ...) into every CLI start-up for two calls.
const statP = (p: string) => new Promise<Stats>((resolve, reject) => stat(p, (e, st) => (e ? reject(e) : resolve(st))));
const readdirP = (p: string) => new Promise<Dirent[]>((resolve, reject) => readdir(p, { withFileTypes: true }, (e, list) => (e ? reject(e) : resolve(list))));

async function expand(p: string, recursive: boolean): Promise<string[]> {
  let st;
  try {
    st = await statP(p);
  } catch {
    return [p]; // reported as unreadable by checkFile
  }
  if (!st.isDirectory()) return [p];
  const out: string[] = [];
  const walk = async (dir: string) => {
    const entries = await readdirP(dir);
    for (const e of entries) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (recursive) await walk(full);
      } else if (/\.(npz|npy)$/i.test(e.name)) out.push(full);
    }
  };
  await walk(p);
  return out.sort();
}

/**
 * The files checkPaths would check: files as given, directories expanded to their .npz/.npy files,
 * sorted: every one below the directory (default), or with `recursive: false` only those directly in it.
 */
export async function expandPaths(paths: readonly string[], options: { recursive?: boolean } = {}): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) out.push(...(await expand(p, options.recursive ?? true)));
  return out;
}

/** Checks files and directories (every .npz/.npy below, sorted); reports in that order. */
export async function checkPaths(paths: readonly string[], options: CheckRunOptions = {}): Promise<Report[]> {
  validateOptions(options);
  const files = await expandPaths(paths);
  const n = defaultConcurrency(options);
  const limiter = options.limiter ?? new Limiter(n);
  const fileLimiter = new Limiter(n);
  return Promise.all(files.map((f) => fileLimiter.run(() => checkFile(f, { ...options, limiter }))));
}
