// What `npzguard inspect` reports about .npz/.npy files: each file's members with their NPY
// headers (key, descr, numpy dtype name, shape, order, compression, sizes, data offset), and on
// request value statistics from one native scan per numeric member (CRC checked in the same
// pass) and the parsed `_metadata`. Directories stand for the .npz/.npy files in them (their
// subdirectories too when `recursive`). Header-only unless `stats`: never reads array data.
// Unreadable files and malformed members are data (an `error` on the file / member, plus one
// NpzError in `failures`, in the order met); only misuse and non-npzguard errors throw.
import { statSync } from "node:fs";
import { expandPaths } from "../contract/check.js";
import { NpzError, isErrorCode, isNpzError } from "../errors.js";
import { openNpz } from "../npz.js";
import type { ArrayStats, MemberInfo } from "../types.js";

export interface InspectOptions {
  /** Scan every numeric member once: min / max / mean / NaN / Inf / zero counts, CRC checked. */
  stats?: boolean;
  /** Parse `_metadata` (null when absent or not JSON). */
  metadata?: boolean;
  /** A directory stands for every .npz/.npy below it, not only those directly in it. */
  recursive?: boolean;
}

/** `stats` summary of one member (JSON: member "stats", only with --stats). */
export interface InspectStats {
  min: number | null;
  max: number | null;
  mean: number | null;
  nan: number;
  inf: number;
  /** Zero values (real arrays; null for complex, whose per-part counts do not give it). */
  zero: number | null;
  crcOk: boolean | null;
}

/**
 * One member in `--json` output: exactly the fields issue 2 pins (key, descr, shape,
 * fortranOrder, compression, byteLength), plus `error` only for a member that cannot be read.
 */
export interface InspectMember {
  key: string;
  descr: string | null;
  shape: number[] | null;
  fortranOrder: boolean | null;
  compression: "stored" | "deflated";
  byteLength: number | null;
  error?: { code: string; message: string };
  /** Only with stats (numeric members). */
  stats?: InspectStats;
}

/**
 * One file in `--json` output: `format` + `members` when it was read, `error` instead of them
 * when it could not be opened. A readable archive with a malformed member keeps its `members`
 * (the bad one carries its own `error`) and also gets a file-level `error` (the first member
 * error), so a consumer checking `error` sees every malformed file.
 */
export interface InspectFile {
  path: string;
  format?: "npz" | "npy";
  members?: InspectMember[];
  error?: { code: string; message: string };
  /** Only with metadata: the parsed _metadata (null when absent or not JSON). */
  metadata?: unknown;
}

/** A member as the human table shows it: the JSON fields plus the archive sizes. */
export interface InspectMemberRow extends InspectMember {
  compressedSize: number;
  dtypeName: string | null;
  /** File offset of the array data (STORED members), for the alignment column. */
  arrayOffset: number | null;
}

export interface InspectFileResult {
  path: string;
  format?: "npz" | "npy";
  rows?: InspectMemberRow[];
  error?: { code: string; message: string };
  metadata?: unknown;
}

export interface InspectResult {
  files: InspectFileResult[];
  /** Every unreadable file and malformed member, in the order met (the CLI's stderr lines). */
  failures: NpzError[];
}

function toRow(m: MemberInfo): InspectMemberRow {
  const h = m.header;
  const out: InspectMemberRow = {
    key: m.key,
    descr: h ? h.descr : null,
    shape: h ? h.shape : null,
    fortranOrder: h ? h.fortranOrder : null,
    compression: m.compression,
    byteLength: h ? h.byteLength : null,
    compressedSize: m.compressedSize,
    dtypeName: h ? h.dtypeName : null,
    arrayOffset: h ? h.arrayOffset : null,
  };
  if (m.error) out.error = { code: m.error.code, message: m.error.message };
  else if (!h) out.error = { code: "ERR_NPY_BAD_MAGIC", message: `member '${m.name}' is not an NPY array` };
  return out;
}

function toJsonMember(r: InspectMemberRow): InspectMember {
  const out: InspectMember = {
    key: r.key,
    descr: r.descr,
    shape: r.shape,
    fortranOrder: r.fortranOrder,
    compression: r.compression,
    byteLength: r.byteLength,
  };
  if (r.error) out.error = r.error;
  if (r.stats) out.stats = r.stats;
  return out;
}

/** The `--json` form of one file. */
export function toJsonFile(f: InspectFileResult): InspectFile {
  const out: InspectFile = { path: f.path };
  if (f.format !== undefined) out.format = f.format;
  if (f.rows !== undefined) out.members = f.rows.map(toJsonMember);
  if (f.error !== undefined) out.error = f.error;
  if (f.metadata !== undefined) out.metadata = f.metadata;
  return out;
}

function summarize(s: ArrayStats | null, crcOk: boolean | null): InspectStats | undefined {
  if (!s || s.components.length === 0) return undefined;
  const c = s.components;
  const fin = c[0]!.finite;
  const real = c.length === 1;
  return {
    min: real ? c[0]!.min : null,
    max: real ? c[0]!.max : null,
    // complex: root-mean-square |z|
    mean: fin === 0 ? null : real ? c[0]!.sum / fin : Math.sqrt(s.sumAbs2 / fin),
    nan: c.reduce((a, x) => a + x.nan, 0),
    inf: c.reduce((a, x) => a + x.posInf + x.negInf, 0),
    zero: real ? c[0]!.zero : null,
    crcOk,
  };
}

/**
 * The files `paths` stand for: a file as given (a missing one too: it is reported unreadable),
 * a directory as its .npz/.npy files (sorted; recursive: every one below it).
 */
export async function inspectTargets(paths: readonly string[], recursive = false): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    let isDir = false;
    try {
      isDir = statSync(p).isDirectory();
    } catch {
      // missing or unreadable: reported by inspectPaths
    }
    out.push(...(isDir ? await expandPaths([p], { recursive }) : [p]));
  }
  return out;
}

async function inspectFile(path: string, options: InspectOptions, failures: NpzError[]): Promise<InspectFileResult> {
  let npz;
  try {
    npz = openNpz(path);
  } catch (err) {
    if (!isNpzError(err)) throw err;
    failures.push(err);
    return { path, error: { code: err.code, message: err.message } };
  }
  try {
    const rows = npz.members().map(toRow);
    if (options.stats) {
      for (const m of rows) {
        if (m.error || m.descr === null || !/^[<>|=]?[biufc]/.test(m.descr)) continue;
        try {
          const r = await npz.scan(m.key);
          const st = summarize(r.stats, r.crcChecked ? r.crcOk : null);
          if (st) m.stats = st;
          if (r.crcChecked && !r.crcOk) m.error = { code: "ERR_NPZ_CRC_MISMATCH", message: `member '${m.key}': CRC-32 does not match the central directory` };
        } catch (err) {
          if (!isNpzError(err)) throw err;
          m.error = { code: err.code, message: err.message }; // reported with the member errors below
        }
      }
    }
    let metadata: unknown;
    if (options.metadata) {
      try {
        metadata = npz.metadata() ?? null;
      } catch {
        metadata = null;
      }
    }
    let firstError: { code: string; message: string } | undefined;
    for (const m of rows) {
      if (!m.error) continue;
      const code = isErrorCode(m.error.code) ? m.error.code : "ERR_NPY_BAD_HEADER";
      failures.push(new NpzError(code, m.error.message, { path, member: m.key }));
      firstError ??= { code, message: m.error.message };
    }
    const result: InspectFileResult = { path, format: npz.kind, rows };
    if (firstError) result.error = firstError;
    if (metadata !== undefined) result.metadata = metadata;
    return result;
  } finally {
    npz.close();
  }
}

/** Inspects files and directories (see the file comment); results in the order of the targets. */
export async function inspectPaths(paths: readonly string[], options: InspectOptions = {}): Promise<InspectResult> {
  const failures: NpzError[] = [];
  const files: InspectFileResult[] = [];
  for (const p of await inspectTargets(paths, options.recursive ?? false)) files.push(await inspectFile(p, options, failures));
  return { files, failures };
}
