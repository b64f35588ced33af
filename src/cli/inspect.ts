// `npzguard inspect FILE... [--json] [--debug]`: lists the arrays of .npz/.npy files (key, descr,
// shape, order, compression, sizes). Header-only: never reads array data.
// Exit 0 when every file and member was read, 3 when any file is unreadable or any member has a
// member-level error (one stderr line per failure).
import { EXIT, UsageError, errorLine, jsonText, parseCommandArgs, printUsageError } from "./common.js";
import { NpzError, isErrorCode, isNpzError } from "../errors.js";
import type { MemberInfo } from "../types.js";

const HELP = `Usage: npzguard inspect FILE... [--json] [--debug]

List the arrays of .npz/.npy files: key, descr, shape, order, compression and sizes.
Reads only the ZIP central directory and each member's NPY header.

Options:
  --json    print {"files":[...]} on stdout
  --debug   print stack traces with errors
  -h, --help`;

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
}

/** A member row for the human table: the JSON fields plus the archive sizes. */
interface MemberRow extends InspectMember {
  compressedSize: number;
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
  return out;
}

interface FileResult {
  path: string;
  format?: "npz" | "npy";
  rows?: MemberRow[];
  error?: { code: string; message: string };
}

function toJsonFile(f: FileResult): InspectFile {
  const out: InspectFile = { path: f.path };
  if (f.format !== undefined) out.format = f.format;
  if (f.rows !== undefined) out.members = f.rows.map(toJsonMember);
  if (f.error !== undefined) out.error = f.error;
  return out;
}

function shapeText(shape: number[] | null): string {
  if (shape === null) return "-";
  return shape.length === 0 ? "()" : shape.join("x");
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  return rows
    .map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join("  ").trimEnd())
    .join("\n");
}

function humanFile(f: FileResult): string {
  if (f.error && !f.rows) return `${f.path}: unreadable (${f.error.code})`;
  const members = f.rows ?? [];
  const head = `${f.path} (${f.format}, ${members.length} member${members.length === 1 ? "" : "s"})`;
  if (members.length === 0) return head;
  const rows: string[][] = [["key", "descr", "shape", "order", "compression", "data bytes", "stored bytes", "status"]];
  for (const m of members) {
    rows.push([
      m.key,
      m.descr ?? "-",
      shapeText(m.shape),
      m.fortranOrder === null ? "-" : m.fortranOrder ? "F" : "C",
      m.compression,
      m.byteLength === null ? "-" : String(m.byteLength),
      String(m.compressedSize),
      m.error ? m.error.code : "ok",
    ]);
  }
  return head + "\n" + table(rows).replace(/^/gm, "  ");
}

export async function run(argv: string[]): Promise<number> {
  let values: { json?: boolean; debug?: boolean; help?: boolean };
  let files: string[];
  try {
    const parsed = parseCommandArgs(argv, {
      json: { type: "boolean" },
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
  for (const path of files) {
    try {
      const npz = openNpz(path);
      try {
        const rows = npz.members().map(toRow);
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
