// `npzguard synth --out DIR [--doses 1e3,1e4,1e5] [--positions N] [--size 64|128] [--stored]
// [--seed S] [--json]`: writes a small, valid Phase C/D study tree and prints what it wrote.
import { EXIT, UsageError, errorLine, exitCodeFor, intOption, jsonText, parseCommandArgs, printUsageError } from "./common.js";
import { SYNTH_DEFAULT_POSITIONS, synthesizeStudy, type SynthResult } from "../synth/synth.js";

export const SYNTH_HELP = `Usage: npzguard synth --out DIR [options]

Writes a synthetic, DATA-001-valid study tree that passes the default \`npzguard plan\`
(n_groups 512, K 4) with the default --positions:
  DIR/phase_c/dose_<int>/patched_{train,test}.npz      (pickled _metadata, like MetadataManager)
  DIR/phase_c/run_manifest.json
  DIR/phase_d/dose_<int>/{dense,sparse}/{train,test}.npz  (<U JSON _metadata)

Options:
  --out DIR          output directory (created if missing)                     (required)
  --doses LIST       comma-separated doses (nphotons), default 1e3,1e4,1e5
  --positions N      scan positions before the y-split, default ${SYNTH_DEFAULT_POSITIONS} (>= 4; below about
                     1300 the dense gs2 splits have fewer than 512 positions)
  --size N           frame size, 64 (default) or 128
  --stored           STORED members (np.savez) instead of DEFLATED (np.savez_compressed)
  --deflate-level L  zlib level 0..9 of DEFLATED members, default 1 (numpy uses 6: same
                     format, twice the CPU time)
  --seed S           PRNG seed, default 42
  --json             machine-readable output on stdout
  --debug            stack traces on errors`;

const OPTIONS = {
  out: { type: "string" },
  doses: { type: "string" },
  positions: { type: "string" },
  size: { type: "string" },
  stored: { type: "boolean" },
  "deflate-level": { type: "string" },
  seed: { type: "string" },
  json: { type: "boolean" },
  debug: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** Parses `1e3,1e4,1e5` into numbers; every dose must be finite and >= 1. */
export function parseDoseList(text: string): number[] {
  const parts = text.split(",").map((s) => s.trim());
  const out: number[] = [];
  for (const p of parts) {
    const v = /^[+]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(p) ? Number(p) : NaN;
    if (!(Number.isFinite(v) && v >= 1)) throw new UsageError(`Expected comma-separated numbers >= 1 for --doses, got '${text}'`);
    out.push(v);
  }
  return out;
}

export interface SynthArgs {
  outDir: string;
  doses?: number[];
  positions?: number;
  size?: 64 | 128;
  compressed: boolean;
  deflateLevel?: number;
  seed?: number;
  json: boolean;
  debug: boolean;
  help: boolean;
}

export function parseSynthArgs(argv: string[]): SynthArgs {
  const { values } = parseCommandArgs(argv, OPTIONS, false);
  const help = values.help === true;
  if (!help && !values.out) throw new UsageError("missing required option --out");
  const sizeText = values.size;
  if (sizeText !== undefined && sizeText !== "64" && sizeText !== "128") {
    throw new UsageError(`Expected 64 or 128 for --size, got '${sizeText}'`);
  }
  const positions = intOption("positions", values.positions, 4);
  if (positions !== undefined && positions > 100_000) throw new UsageError(`Expected an integer <= 100000 for --positions, got '${values.positions}'`);
  const level = intOption("deflate-level", values["deflate-level"], 0);
  if (level !== undefined && level > 9) throw new UsageError(`Expected an integer 0..9 for --deflate-level, got '${values["deflate-level"]}'`);
  const seed = intOption("seed", values.seed, 0);
  if (seed !== undefined && seed > 0xffffffff) throw new UsageError(`Expected an integer <= 4294967295 for --seed, got '${values.seed}'`);
  const doses = values.doses === undefined ? undefined : parseDoseList(values.doses);
  if (doses) {
    const dirs = new Set(doses.map((d) => Math.trunc(d)));
    if (dirs.size !== doses.length) throw new UsageError(`Expected doses with distinct integer parts for --doses, got '${values.doses}'`);
  }
  return {
    outDir: values.out ?? "",
    ...(doses ? { doses } : {}),
    ...(positions !== undefined ? { positions } : {}),
    ...(sizeText ? { size: Number(sizeText) as 64 | 128 } : {}),
    compressed: values.stored !== true,
    ...(level !== undefined ? { deflateLevel: level } : {}),
    ...(seed !== undefined ? { seed } : {}),
    json: values.json === true,
    debug: values.debug === true,
    help,
  };
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** Human-readable tree of what synthesizeStudy wrote. */
export function formatSynthTree(r: SynthResult): string {
  const lines = [
    `Synthetic study written to ${r.outDir}`,
    `  frames ${r.frameSize}x${r.frameSize}, object ${r.objectSize}x${r.objectSize}, ${r.positions} positions, ` +
      `doses ${r.doses.join(", ")}, ${r.compressed ? "DEFLATED" : "STORED"}, seed ${r.seed}, max amplitude ${r.maxAmplitude.toFixed(3)}`,
  ];
  const sorted = [...r.files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (const f of sorted) {
    lines.push(`  ${f.path}  (${f.positions} positions, ${formatBytes(f.bytes)})`);
  }
  lines.push(`  ${r.phaseCRoot}/run_manifest.json`);
  return lines.join("\n");
}

export async function run(argv: string[]): Promise<number> {
  let args: SynthArgs;
  try {
    args = parseSynthArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      printUsageError(e, SYNTH_HELP);
      return EXIT.USAGE;
    }
    throw e;
  }
  if (args.help) {
    process.stdout.write(SYNTH_HELP + "\n");
    return EXIT.OK;
  }
  try {
    const result = synthesizeStudy({
      outDir: args.outDir,
      ...(args.doses ? { doses: args.doses } : {}),
      ...(args.positions !== undefined ? { positions: args.positions } : {}),
      ...(args.size ? { size: args.size } : {}),
      compressed: args.compressed,
      ...(args.deflateLevel !== undefined ? { deflateLevel: args.deflateLevel } : {}),
      ...(args.seed !== undefined ? { seed: args.seed } : {}),
    });
    process.stdout.write(args.json ? jsonText(result) : formatSynthTree(result) + "\n");
    return EXIT.OK;
  } catch (e) {
    process.stderr.write(`npzguard synth: ${errorLine(e, args.debug)}\n`);
    return e instanceof RangeError || e instanceof TypeError ? EXIT.USAGE : exitCodeFor(e);
  }
}
