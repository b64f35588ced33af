// `npzguard check PATH...`: DATA-001 contract check of files/directories.
// Exit: 0 no error finding, 1 error findings, 2 usage, 3 a file unreadable.
import type { SingleBar } from "cli-progress";
import { checkPaths, expandPaths } from "../contract/check.js";
import { formatGithub } from "../contract/format/github.js";
import { toJsonOutput } from "../contract/format/json.js";
import { formatJunit } from "../contract/format/junit.js";
import { formatText } from "../contract/format/text.js";
import type { CheckOptions, Profile, Report } from "../contract/types.js";
import { parsePyFloat } from "../python/repr.js";
import {
  EXIT,
  UsageError,
  errorLine,
  parseCommand,
  exitCodeFor,
  intOption,
  jsonText,
  printUsageError,
  sizeOption,
  stderrIsInteractive,
  writeStdout,
  threadsOption,
} from "./common.js";

export const HELP = `Usage: npzguard check PATH... [options]

Checks .npz/.npy files (directories: every .npz/.npy below, sorted) against DATA-001.

Options:
  --profile P          reference | study (default) | tensorflow | pytorch
  --gridsize N         gridsize of the training job (default 1)
  --neighbor-count K   neighbor_count (OVERSAMPLING-001 check; skipped when absent)
  --n-groups N         number of groups requested (default 512)
  --view V             overlap view (accepted and ignored, like the Python gate)
  --phase-c            apply the Phase C provenance guard (PHASEC-METADATA-001)
  --dose D             photon dose, cross-checked against _metadata nphotons
  --headers-only       central directory + NPY headers only (no value scan, no CRC;
                       the reference gate is then reported as not evaluated)
  --max-inflate SIZE   inflate budget per file (default 1T; e.g. 512M, 64G): a file whose
                       DEFLATE members would produce more fails with ERR_NPZ_LIMIT
  --threads N          CPU threads to use (default: the CPUs this process may use, from
                       its affinity mask and cgroup CPU quota; see --version --verbose)
  --strict             warnings count as errors
  --verbose            text output: show info findings too (default: counted on one line;
                       info findings that name frames, e.g. zero-energy frames, always show)
  --json               same as --format json
  --format F           text (default) | json | junit | github
  --debug              stack traces on internal errors
  -h, --help           this help

Exit codes: 0 no error findings, 1 error findings, 2 usage error, 3 a file unreadable.`;

const FORMATS = ["text", "json", "junit", "github"] as const;
type Format = (typeof FORMATS)[number];
const PROFILES: readonly Profile[] = ["reference", "study", "tensorflow", "pytorch"];

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(
    argv,
    {
      profile: { type: "string" },
      gridsize: { type: "string" },
      "neighbor-count": { type: "string" },
      "n-groups": { type: "string" },
      view: { type: "string" },
      "phase-c": { type: "boolean" },
      dose: { type: "string" },
      "headers-only": { type: "boolean" },
      "max-inflate": { type: "string" },
      threads: { type: "string" },
      strict: { type: "boolean" },
      verbose: { type: "boolean" },
      json: { type: "boolean" },
      format: { type: "string" },
      debug: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    HELP,
  );
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  const debug = values.debug ?? false;
  let options: CheckOptions;
  let format: Format;
  try {
    if (positionals.length === 0) throw new UsageError("check needs at least one PATH");
    const profile = values.profile ?? "study";
    if (!PROFILES.includes(profile as Profile)) {
      throw new UsageError(`Expected one of ${PROFILES.join(", ")} for --profile, got '${profile}'`);
    }
    const f = values.json ? "json" : (values.format ?? "text");
    if (!(FORMATS as readonly string[]).includes(f)) throw new UsageError(`Expected one of ${FORMATS.join(", ")} for --format, got '${f}'`);
    if (values.json && values.format !== undefined && values.format !== "json") {
      throw new UsageError(`--json conflicts with --format ${values.format}`);
    }
    format = f as Format;
    let dose: number | undefined;
    if (values.dose !== undefined) {
      dose = parsePyFloat(values.dose); // like Python's float(): 1000, 1e3, 1_000
      if (dose === undefined || !Number.isFinite(dose) || dose <= 0) {
        throw new UsageError(`Expected a positive number for --dose, got '${values.dose}'`);
      }
    }
    const gridsize = intOption("gridsize", values.gridsize, 1);
    const neighborCount = intOption("neighbor-count", values["neighbor-count"], 0);
    const nGroups = intOption("n-groups", values["n-groups"], 1);
    const maxInflateBytes = sizeOption("max-inflate", values["max-inflate"]);
    const threads = threadsOption(values.threads);
    options = {
      profile: profile as Profile,
      mode: values["headers-only"] ? "header" : "full",
      strict: values.strict ?? false,
      role: values["phase-c"] ? "phase-c" : "generic",
      ...(gridsize !== undefined ? { gridsize } : {}),
      ...(neighborCount !== undefined ? { neighborCount } : {}),
      ...(nGroups !== undefined ? { nGroups } : {}),
      ...(values.view !== undefined ? { view: values.view } : {}),
      ...(dose !== undefined ? { dose } : {}),
      ...(maxInflateBytes !== undefined ? { maxInflateBytes } : {}),
      ...(threads !== undefined ? { threads } : {}),
    };
  } catch (e) {
    if (e instanceof UsageError) {
      printUsageError(e, HELP);
      return EXIT.USAGE;
    }
    throw e;
  }

  const ac = new AbortController();
  const onSigint = () => ac.abort();
  process.once("SIGINT", onSigint);
  let bar: SingleBar | null = null;
  let reports: Report[];
  try {
    const files = await expandPaths(positionals);
    if (files.length === 0) {
      process.stderr.write(`npzguard: no .npz/.npy files under ${positionals.join(", ")}\n`);
      return EXIT.USAGE;
    }
    const interactive = stderrIsInteractive() && options.mode === "full";
    // cli-progress is loaded only when a bar can be drawn (it costs ~15 ms of start-up).
    const Bar = interactive ? (await import("cli-progress")).SingleBar : null;
    const started = Date.now();
    let barTotal = 0;
    const perFile = new Map<string, { done: number; total: number }>();
    reports = await checkPaths(files, {
      ...options,
      signal: ac.signal,
      ...(interactive
        ? {
            onProgress: (e: { path: string; bytesDone: number; bytesTotal: number }) => {
              perFile.set(e.path, { done: e.bytesDone, total: e.bytesTotal });
              let done = 0;
              let total = 0;
              for (const v of perFile.values()) {
                done += v.done;
                total += v.total;
              }
              if (!bar && Bar && Date.now() - started > 1000) {
                bar = new Bar({
                  format: "checking [{bar}] {percentage}% | {value}/{total} MiB",
                  stream: process.stderr,
                  hideCursor: true,
                  clearOnComplete: true,
                });
                barTotal = Math.max(1, Math.ceil(total / 2 ** 20));
                bar.start(barTotal, 0);
              }
              if (bar) {
                const t = Math.max(barTotal, Math.ceil(total / 2 ** 20));
                if (t !== barTotal) {
                  barTotal = t;
                  bar.setTotal(t);
                }
                bar.update(Math.floor(done / 2 ** 20));
              }
            },
          }
        : {}),
    });
  } catch (e) {
    process.stderr.write(errorLine(e, debug) + "\n");
    return exitCodeFor(e);
  } finally {
    (bar as SingleBar | null)?.stop();
    process.removeListener("SIGINT", onSigint);
  }

  const text =
    format === "json"
      ? jsonText(toJsonOutput(reports))
      : format === "junit"
        ? formatJunit(reports)
        : format === "github"
          ? formatGithub(reports)
          : formatText(reports, { verbose: values.verbose ?? false });
  writeStdout(text);
  let unreadable = false;
  for (const r of reports) {
    if (r.readError) {
      unreadable = true;
      const where = `${r.path}${r.readError.member ? `:${r.readError.member}` : ""}`;
      process.stderr.write(`${r.readError.code}: ${r.readError.message} (${where})\n`);
    }
  }
  if (unreadable) return EXIT.UNREADABLE;
  return reports.every((r) => r.ok) ? EXIT.OK : EXIT.VIOLATIONS;
}
