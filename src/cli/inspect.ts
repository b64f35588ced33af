// `npzguard inspect FILE... [--json] [--debug]`: lists the arrays of .npz/.npy files (key, descr,
// shape, order, compression, sizes). Header-only: never reads array data.
// Exit 0 when every file and member was read, 3 when any file is unreadable or any member has a
// member-level error (one stderr line per failure).
import { EXIT, UsageError, errorLine, jsonText, parseCommandArgs, printUsageError } from "./common.js";
import { NpzError, isErrorCode, isNpzError } from "../errors.js";
import type { ArrayStats, MemberInfo } from "../types.js";
import { escapeControls, humanSize } from "../report/format.js";

const HELP = `Usage: npzguard inspect FILE... [--stats] [--metadata] [-r] [--json] [--debug]

List the arrays of .npz/.npy files: key, numpy dtype and descr, shape, order, compression,
sizes and, for STORED members, the file offset of the array data with its alignment (the largest
power of two up to 4096 dividing it; zero-copy views need a multiple of the element size).
Without --stats reads only the ZIP central directory and each member's NPY header.
Member names are printed with control characters escaped (\\xNN).

Options:
  --stats           also scan every numeric member once (native streaming pass, CRC checked):
                    min / max / mean / NaN / Inf / zero counts (JSON: member "stats")
  --metadata        also print the parsed _metadata JSON (JSON: file "metadata")
  -r, --recursive   a directory stands for every .npz/.npy below it (sorted)
  --json            print {"files":[...]} on stdout
  --debug           print stack traces with errors
  -h, --help`;

/** `--stats` summary of one member (JSON: member "stats", only with --stats). */
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
 * One member in `--json` output: exactly the fields the issue pins (key, descr, shape,
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
  /** Only with --stats (numeric members). */
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
  /** Only with --metadata: the parsed _metadata (null when absent or not JSON). */
  metadata?: unknown;
}

/** A member row for the human table: the JSON fields plus the archive sizes. */
interface MemberRow extends InspectMember {
  compressedSize: number;
  dtypeName: string | null;
  /** File offset of the array data (STORED members), for the alignment column. */
  arrayOffset: number | null;
}

/** Largest power of two (up to 4096) dividing the array data's file offset: "64" = 64-byte aligned. */
function alignText(offset: number | null): string {
  if (offset === null) return "-";
  let a = 1;
  while (a < 4096 && offset % (a * 2) === 0) a *= 2;
  return `${offset} (${a})`;
}

function toRow(m: MemberInfo): MemberRow {
  const h = m.header;
  const out: MemberRow = {
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

function toJsonMember(r: MemberRow): InspectMember {
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

interface FileResult {
  path: string;
  format?: "npz" | "npy";
  rows?: MemberRow[];
  error?: { code: string; message: string };
  metadata?: unknown;
}

function toJsonFile(f: FileResult): InspectFile {
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

function num(v: number | null): string {
  if (v === null) return "-";
  if (Number.isInteger(v) && Math.abs(v) < 1e15) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(3) : v.toPrecision(5);
}

function shapeText(shape: number[] | null): string {
  if (shape === null) return "-";
  return shape.length === 0 ? "()" : shape.join("x");
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  return rows
    .map((r) =>
      r
        .map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

function humanFile(f: FileResult): string {
  const p = escapeControls(f.path);
  if (f.error && !f.rows) return `${p}: unreadable (${f.error.code})`;
  const members = f.rows ?? [];
  const head = `${p} (${f.format}, ${members.length} member${members.length === 1 ? "" : "s"})`;
  let out = head;
  if (members.length > 0) {
    const withStats = members.some((m) => m.stats);
    const rows: string[][] = [
      [
        "key",
        "dtype",
        "descr",
        "shape",
        "order",
        "compression",
        "size",
        "stored",
        "data offset (align)",
        ...(withStats ? ["min", "max", "mean", "NaN", "Inf", "zeros"] : []),
        "status",
      ],
    ];
    for (const m of members) {
      const st = m.stats;
      rows.push([
        escapeControls(m.key),
        m.dtypeName ?? "-",
        m.descr ?? "-",
        shapeText(m.shape),
        m.fortranOrder === null ? "-" : m.fortranOrder ? "F" : "C",
        m.compression,
        m.byteLength === null ? "-" : humanSize(m.byteLength),
        humanSize(m.compressedSize),
        alignText(m.arrayOffset),
        ...(withStats
          ? st
            ? [num(st.min), num(st.max), num(st.mean), String(st.nan), String(st.inf), st.zero === null ? "-" : String(st.zero)]
            : ["-", "-", "-", "-", "-", "-"]
          : []),
        m.error ? m.error.code : "ok",
      ]);
    }
    out += "\n" + table(rows).replace(/^/gm, "  ");
  }
  if (f.metadata !== undefined) {
    out += "\n  _metadata: " + (f.metadata === null ? "(none)" : JSON.stringify(f.metadata, null, 2).replace(/\n/g, "\n  "));
  }
  return out;
}

export async function run(argv: string[]): Promise<number> {
  let values: { json?: boolean; debug?: boolean; help?: boolean; stats?: boolean; metadata?: boolean; recursive?: boolean };
  let files: string[];
  try {
    const parsed = parseCommandArgs(argv, {
      json: { type: "boolean" },
      stats: { type: "boolean" },
      metadata: { type: "boolean" },
      recursive: { type: "boolean", short: "r" },
      debug: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    });
    values = parsed.values;
    files = parsed.positionals;
    if (!values.help && files.length === 0) throw new UsageError("inspect needs at least one FILE");
    if (files.some((f) => f.length === 0)) throw new UsageError("Expected a non-empty FILE path, got ''");
  } catch (err) {
    if (err instanceof UsageError) {
      printUsageError(err, HELP);
      return EXIT.USAGE;
    }
    throw err;
  }
  if (values.help) {
    process.stdout.write(HELP + "\n");
    return EXIT.OK;
  }
  const debug = values.debug === true;
  // Loaded here so `--help` works even when the native addon is not built.
  const { openNpz } = await import("../npz.js");

  const results: FileResult[] = [];
  let failed = false;
  if (values.recursive) {
    const { expandPaths } = await import("../contract/check.js");
    const { statSync } = await import("node:fs");
    const expanded: string[] = [];
    for (const p of files) {
      let isDir = false;
      try {
        isDir = statSync(p).isDirectory();
      } catch {
        // missing: reported as unreadable below
      }
      expanded.push(...(isDir ? await expandPaths([p]) : [p]));
    }
    files = expanded;
  }
  for (const path of files) {
    try {
      const npz = openNpz(path);
      try {
        const rows = npz.members().map(toRow);
        if (values.stats) {
          for (const m of rows) {
            if (m.error || m.descr === null || !/^[<>|=]?[biufc]/.test(m.descr)) continue;
            try {
              const r = await npz.scan(m.key);
              const st = summarize(r.stats, r.crcChecked ? r.crcOk : null);
              if (st) m.stats = st;
              if (r.crcChecked && !r.crcOk)
                m.error = { code: "ERR_NPZ_CRC_MISMATCH", message: `member '${m.key}': CRC-32 does not match the central directory` };
            } catch (err) {
              if (!isNpzError(err)) throw err;
              m.error = { code: err.code, message: err.message }; // reported with the member errors below
            }
          }
        }
        const metadata = values.metadata
          ? (() => {
              try {
                return npz.metadata() ?? null;
              } catch {
                return null;
              }
            })()
          : undefined;
        let firstError: { code: string; message: string } | undefined;
        for (const m of rows) {
          if (!m.error) continue;
          failed = true;
          const code = isErrorCode(m.error.code) ? m.error.code : "ERR_NPY_BAD_HEADER";
          const err = new NpzError(code, m.error.message, { path, member: m.key });
          firstError ??= { code, message: m.error.message };
          process.stderr.write(errorLine(err, debug) + "\n");
        }
        const result: FileResult = { path, format: npz.kind, rows };
        if (firstError) result.error = firstError;
        if (metadata !== undefined) result.metadata = metadata;
        results.push(result);
      } finally {
        npz.close();
      }
    } catch (err) {
      if (!isNpzError(err)) throw err;
      failed = true;
      process.stderr.write(errorLine(err, debug) + "\n");
      results.push({ path, error: { code: err.code, message: err.message } });
    }
  }

  if (values.json) {
    process.stdout.write(jsonText({ files: results.map(toJsonFile) }));
  } else {
    process.stdout.write(results.map(humanFile).join("\n\n") + "\n");
  }
  return failed ? EXIT.UNREADABLE : EXIT.OK;
}
