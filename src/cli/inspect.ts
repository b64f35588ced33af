// `npzguard inspect PATH... [--stats] [--metadata] [-r] [--json] [--debug]`: parses, calls
// inspectPaths() (src/inspect/inspect.ts: members, headers, optional stats and _metadata), prints
// the table or the JSON document. A directory stands for the .npz/.npy files in it (-r: below it).
// Exit 0 when every file and member was read, 3 when any file is unreadable or any member has a
// member-level error (one stderr line per failure), 2 on usage errors or when no file is found.
import { EXIT, UsageError, errorLine, jsonText, parseCommand, printUsageError } from "./common.js";
import type { InspectFileResult } from "../inspect/inspect.js";
import { escapeControls, humanSize } from "../report/format.js";

const HELP = `Usage: npzguard inspect PATH... [--stats] [--metadata] [-r] [--json] [--debug]

List the arrays of .npz/.npy files (a directory: the .npz/.npy files in it): key, numpy dtype and descr, shape, order, compression,
sizes and, for STORED members, the file offset of the array data with its alignment (the largest
power of two up to 4096 dividing it; zero-copy views need a multiple of the element size).
Without --stats reads only the ZIP central directory and each member's NPY header.
Member names are printed with control characters escaped (\\xNN).

Options:
  --stats           also scan every numeric member once (native streaming pass, CRC checked):
                    min / max / mean / NaN / Inf / zero counts (JSON: member "stats")
  --metadata        also print the parsed _metadata JSON (JSON: file "metadata")
  -r, --recursive   a directory stands for every .npz/.npy below it, subdirectories included
                    (without -r: only the files directly in it; sorted either way)
  --json            print {"files":[...]} on stdout
  --debug           print stack traces with errors
  -h, --help`;

/** Largest power of two (up to 4096) dividing the array data's file offset: "64" = 64-byte aligned. */
function alignText(offset: number | null): string {
  if (offset === null) return "-";
  let a = 1;
  while (a < 4096 && offset % (a * 2) === 0) a *= 2;
  return `${offset} (${a})`;
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

function humanFile(f: InspectFileResult): string {
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

const INSPECT_OPTIONS = {
  json: { type: "boolean" },
  stats: { type: "boolean" },
  metadata: { type: "boolean" },
  recursive: { type: "boolean", short: "r" },
  debug: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, INSPECT_OPTIONS, HELP);
  if (typeof parsed === "number") return parsed;
  const { values, positionals: paths } = parsed;
  try {
    if (paths.length === 0) throw new UsageError("inspect needs at least one FILE or DIR");
    if (paths.some((f) => f.length === 0)) throw new UsageError("Expected a non-empty FILE path, got ''");
  } catch (err) {
    if (err instanceof UsageError) {
      printUsageError(err, HELP);
      return EXIT.USAGE;
    }
    throw err;
  }
  const debug = values.debug === true;
  // Loaded here so `--help` works even when the native addon is not built.
  const { inspectPaths, toJsonFile } = await import("../inspect/inspect.js");
  const { files, failures } = await inspectPaths(paths, {
    stats: values.stats === true,
    metadata: values.metadata === true,
    recursive: values.recursive === true,
  });
  if (files.length === 0) {
    process.stderr.write(`npzguard: no .npz/.npy files in ${paths.join(", ")}${values.recursive ? "" : " (-r: also in subdirectories)"}\n`);
    return EXIT.USAGE;
  }
  for (const err of failures) process.stderr.write(errorLine(err, debug) + "\n");
  process.stdout.write(values.json ? jsonText({ files: files.map(toJsonFile) }) : files.map(humanFile).join("\n\n") + "\n");
  return failures.length > 0 ? EXIT.UNREADABLE : EXIT.OK;
}
