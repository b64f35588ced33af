// `npzguard report PATH... --out FILE.html`: checks the files (as `check`) and writes one
// self-contained HTML page with findings, key tables, `_metadata` and pictures (src/report).
// Exit: 0 no error findings, 1 error findings, 2 usage, 3 a file unreadable — once written.
import { writeFileSync, renameSync } from "node:fs";
import path from "node:path";
import { expandPaths } from "../contract/check.js";
import type { Profile } from "../contract/types.js";
import { renderHtmlReport } from "../report/html.js";
import { EXIT, UsageError, errorLine, parseCommand, intOption, printUsageError } from "./common.js";

export const HELP = `Usage: npzguard report PATH... --out FILE.html [options]
       npzguard report --phase-c-root C --phase-d-root D --artifact-root A --out FILE.html [study options]

Checks .npz/.npy files (directories: every .npz/.npy below, sorted) against DATA-001 and writes
ONE self-contained HTML page (no scripts, no network requests; pictures inlined): per file the
verdict and findings (info collapsed), a key table (dtype, shape, order, compression, sizes,
min/max/mean/NaN/Inf/zeros), the _metadata tree, scan positions, diffraction frames on a log
scale (first, median- and max-energy, and every frame a finding points at), the mean pattern,
total intensity per frame, probe and object amplitude/phase.

Options:
  --out FILE           where to write the page (required)
  --profile P          reference | study (default) | tensorflow | pytorch
  --gridsize N         gridsize of the training job (default 1)
  --image-size N       largest side of an inlined image in pixels (default 256)
  --debug              stack traces on internal errors
  -h, --help           this help

Study form: the pre-flight of every Phase E job exactly as \`npzguard plan\` runs it (same study
options, see \`npzguard plan --help\`), drawn as the dose x view matrix (verified / blocked with
file and rules / skipped with the reason, and the run record's state when <A>/npzguard_runs.json
exists), each cell linking to the sections of the files it reads. Exit: 0 every job verified,
1 a job blocked, 3 a file unreadable.

Exit codes (once the page is written): 0 no error findings, 1 error findings, 3 a file
unreadable; 2 usage error.`;

const PROFILES: readonly Profile[] = ["reference", "study", "tensorflow", "pytorch"];

const STUDY_FLAGS = ["--phase-c-root", "--phase-d-root", "--artifact-root"];

function writeAtomic(out: string, html: string): void {
  // Atomic: a reader never sees half a page.
  const tmp = path.join(path.dirname(out), `.${path.basename(out)}.${process.pid}.tmp`);
  writeFileSync(tmp, html, { flag: "wx" });
  renameSync(tmp, out);
}

async function runStudy(argv: string[]): Promise<number> {
  const { parseStudyArgs, studyFilters, studyVerifyOptions } = await import("./study-options.js");
  const { renderStudyReport } = await import("../report/study.js");
  const { loadStudyDesign, isStudyError } = await import("../study/design.js");
  let o;
  let extra;
  try {
    const parsed = parseStudyArgs(argv, { out: { type: "string", short: "o" }, "image-size": { type: "string" } });
    o = parsed.options;
    extra = parsed.extra;
    if (o.help) {
      process.stdout.write(HELP + "\n");
      return EXIT.OK;
    }
    if (typeof extra.out !== "string" || !extra.out) throw new UsageError("report needs --out FILE.html");
  } catch (e) {
    if (e instanceof UsageError) {
      printUsageError(e, HELP);
      return EXIT.USAGE;
    }
    throw e;
  }
  const out = path.resolve(extra.out as string);
  try {
    const maxImageSide = intOption("image-size", typeof extra["image-size"] === "string" ? extra["image-size"] : undefined, 16);
    const verify = studyVerifyOptions(o);
    const { html, plan, reports } = await renderStudyReport(
      {
        phaseCRoot: o.phaseCRoot,
        phaseDRoot: o.phaseDRoot,
        artifactRoot: o.artifactRoot,
        ...(o.design !== undefined ? { design: loadStudyDesign(o.design) } : {}),
        filters: studyFilters(o),
        allowMissingPhaseD: true,
        verify,
      },
      maxImageSide !== undefined ? { maxImageSide } : {},
    );
    writeAtomic(out, html);
    process.stderr.write(`npzguard: wrote ${out} (${plan.jobs.length} job(s), ${reports.length} file(s), ${(html.length / 1024).toFixed(0)} KiB)\n`);
    if (reports.some((r) => r.readError)) return EXIT.UNREADABLE;
    return plan.jobs.every((j) => j.verified) ? EXIT.OK : EXIT.VIOLATIONS;
  } catch (e) {
    if (e instanceof UsageError) {
      printUsageError(e, HELP);
      return EXIT.USAGE;
    }
    if (isStudyError(e)) {
      process.stderr.write(`npzguard: ${e.toLine()}\n`);
      return e.code === "ERR_STUDY_ROOT" || e.code === "ERR_STUDY_DESIGN" ? EXIT.UNREADABLE : EXIT.VIOLATIONS;
    }
    process.stderr.write(errorLine(e, o.debug) + "\n");
    return EXIT.UNREADABLE;
  }
}

export async function run(argv: string[]): Promise<number> {
  if (argv.some((a) => STUDY_FLAGS.some((f) => a === f || a.startsWith(f + "=")))) return runStudy(argv);
  const parsed = parseCommand(
    argv,
    {
      out: { type: "string", short: "o" },
      profile: { type: "string" },
      gridsize: { type: "string" },
      "image-size": { type: "string" },
      debug: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    HELP,
  );
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  let gridsize: number | undefined;
  let maxImageSide: number | undefined;
  try {
    if (positionals.length === 0) throw new UsageError("report needs at least one PATH");
    if (!values.out) throw new UsageError("report needs --out FILE.html");
    if (values.profile !== undefined && !PROFILES.includes(values.profile as Profile)) {
      throw new UsageError(`Expected one of ${PROFILES.join(", ")} for --profile, got '${values.profile}'`);
    }
    gridsize = intOption("gridsize", values.gridsize, 1);
    maxImageSide = intOption("image-size", values["image-size"], 16);
  } catch (e) {
    if (e instanceof UsageError) {
      printUsageError(e, HELP);
      return EXIT.USAGE;
    }
    throw e;
  }
  const out = path.resolve(values.out!);
  try {
    const files = await expandPaths(positionals);
    if (files.length === 0) {
      process.stderr.write(`npzguard: no .npz/.npy files under ${positionals.join(", ")}\n`);
      return EXIT.USAGE;
    }
    const { html, reports } = await renderHtmlReport(files, {
      profile: (values.profile as Profile | undefined) ?? "study",
      ...(gridsize !== undefined ? { gridsize } : {}),
      ...(maxImageSide !== undefined ? { maxImageSide } : {}),
    });
    writeAtomic(out, html);
    process.stderr.write(`npzguard: wrote ${out} (${reports.length} file(s), ${(html.length / 1024).toFixed(0)} KiB)\n`);
    for (const r of reports) {
      if (r.readError) process.stderr.write(`${r.readError.code}: ${r.readError.message} (${r.path}${r.readError.member ? `:${r.readError.member}` : ""})\n`);
    }
    if (reports.some((r) => r.readError)) return EXIT.UNREADABLE;
    return reports.every((r) => r.ok) ? EXIT.OK : EXIT.VIOLATIONS;
  } catch (e) {
    process.stderr.write(errorLine(e, values.debug ?? false) + "\n");
    return EXIT.UNREADABLE;
  }
}
