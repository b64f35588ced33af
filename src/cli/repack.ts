import { EXIT, UsageError, parseCommand, intOption, jsonText, printUsageError } from "./common.js";
import type { RepackResult } from "../fix/repack.js";
import { fixFailureExit } from "./fix.js";

export const HELP = `Usage: npzguard repack IN --out OUT [--align 64] [--stored | --deflate LEVEL]

Rewrites IN so that the array data of every STORED member starts at a multiple of --align
(padding in the local header's extra field, as zipalign does), so array(key, {copy: false})
maps every numeric member of a STORED archive. Members keep their compression and are copied
without re-encoding unless --stored (inflate everything) or --deflate LEVEL (re-deflate all).
OUT is written beside itself, every CRC-32 verified, then renamed into place.

Options:
  -o, --out OUT      output archive (refused if it exists, unless --force)
  --align N          alignment in bytes, a power of two up to 32768 (default 64)
  --stored           store every member uncompressed (aligned, zero-copy mappable)
  --deflate LEVEL    DEFLATE every member at zlib level 0..9
  --force            replace an existing OUT
  --json             print the members written as JSON
  --debug            stack traces on internal errors
  -h, --help         this help

Exit codes: 0 written and verified, 2 usage error, 3 IN unreadable or corrupt, 130 interrupted
(Ctrl-C; the temporary file is removed).`;

const REPACK_OPTIONS = {
  out: { type: "string", short: "o" },
  align: { type: "string" },
  stored: { type: "boolean" },
  deflate: { type: "string" },
  force: { type: "boolean" },
  json: { type: "boolean" },
  debug: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, REPACK_OPTIONS, HELP);
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  const debug = values.debug ?? false;
  let input: string;
  let align: number;
  let level: number | undefined;
  try {
    if (positionals.length !== 1 || positionals[0] === "") throw new UsageError("repack needs exactly one IN file");
    input = positionals[0]!;
    if (!values.out) throw new UsageError("repack needs --out OUT");
    align = intOption("align", values.align, 1) ?? 64;
    if (align > 32768 || (align & (align - 1)) !== 0) throw new UsageError(`Expected a power of two between 1 and 32768 for --align, got '${values.align}'`);
    if (values.stored && values.deflate !== undefined) throw new UsageError("--stored conflicts with --deflate");
    level = intOption("deflate", values.deflate, 0);
    if (level !== undefined && level > 9) throw new UsageError(`Expected an integer 0..9 for --deflate, got '${values.deflate}'`);
  } catch (e) {
    if (e instanceof UsageError) {
      printUsageError(e, HELP);
      return EXIT.USAGE;
    }
    throw e;
  }
  const { repackFile } = await import("../fix/repack.js");
  let result: RepackResult;
  const ac = new AbortController();
  const onSigint = () => ac.abort();
  process.once("SIGINT", onSigint);
  try {
    result = await repackFile(input, values.out, {
      align,
      compression: values.stored ? "stored" : level !== undefined ? "deflate" : "keep",
      ...(level !== undefined ? { level } : {}),
      force: values.force ?? false,
      signal: ac.signal,
    });
  } catch (e) {
    return fixFailureExit(e, ac.signal, debug);
  } finally {
    process.removeListener("SIGINT", onSigint);
  }
  if (values.json) {
    process.stdout.write(jsonText(result));
  } else {
    const lines = [`${result.input} -> ${result.output} (align ${result.align}; ${result.bytesIn} -> ${result.bytesOut} bytes; every CRC-32 verified)`];
    const w = Math.max(3, ...result.members.map((m) => m.key.length));
    for (const m of result.members) {
      const off = m.arrayOffset === null ? "-" : `data at ${m.arrayOffset}${m.aligned ? " (aligned)" : ""}`;
      lines.push(`  ${m.key.padEnd(w)}  ${m.compression.padEnd(8)}  ${m.action.padEnd(8)}  ${off}`);
    }
    process.stdout.write(lines.join("\n") + "\n");
  }
  return EXIT.OK;
}
