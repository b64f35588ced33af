// `npzguard demo [--out DIR] [--positions N] [--size 64|128] [--seed S] [--stored]`:
// synthesizes a small study (a temp dir unless --out), then runs, in process, `check` over the
// tree, `plan` (verify) and `run --dry-run` (which launches nothing and prints the trainer
// commands), each under a section header, and ends with a summary of exit codes and paths.
// plan and run use the trainer's own settings (n_groups 512, K 4): the default study is large
// enough for them, so the demo never teaches relaxed check settings.
// Exit code: 0 when every step returned 0, else the largest step code (1 violations/blocked,
// 3 unreadable), 2 on usage errors.
import { existsSync, mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PACKAGE_ROOT } from "../package-root.js";
import { EXIT, UsageError, errorLine, intOption, parseCommandArgs, printUsageError } from "./common.js";
import { formatSynthTree } from "./synth.js";
import { SYNTH_DEFAULT_POSITIONS, synthesizeStudy, type SynthResult } from "../synth/synth.js";

export const DEMO_HELP = `Usage: npzguard demo [options]

Synthesizes a small study, then runs check, plan (verify) and run --dry-run on it with the
trainer's default settings (n_groups 512, K 4).

Options:
  --out DIR          where to write the study (default: a new temp directory, kept)
  --positions N      scan positions before the y-split, default ${SYNTH_DEFAULT_POSITIONS} (>= 4; below about
                     1300 the dense gs2 jobs are blocked: fewer than 512 positions)
  --size N           frame size, 64 (default) or 128
  --seed S           PRNG seed, default 42
  --stored           STORED members instead of DEFLATED
  --debug            stack traces on errors`;

const OPTIONS = {
  out: { type: "string" },
  positions: { type: "string" },
  size: { type: "string" },
  seed: { type: "string" },
  stored: { type: "boolean" },
  debug: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

type CommandModule = { run(argv: string[]): Promise<number> };

interface StepResult {
  title: string;
  argv: string[];
  /** Exit code, or null when the subcommand could not be loaded. */
  code: number | null;
  note?: string;
}

function header(title: string): void {
  const line = "=".repeat(Math.max(8, 78 - title.length - 4));
  process.stdout.write(`\n== ${title} ${line}\n`);
}

function isModuleNotFound(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === "ERR_MODULE_NOT_FOUND" || (e instanceof Error && /Cannot find module|Failed to load url/.test(e.message));
}

async function step(title: string, load: () => Promise<CommandModule>, argv: string[], debug: boolean): Promise<StepResult> {
  header(title);
  process.stdout.write(`$ npzguard ${argv.map(shellQuote).join(" ")}\n`);
  let mod: CommandModule;
  try {
    mod = await load();
  } catch (e) {
    if (!isModuleNotFound(e)) throw e;
    process.stdout.write(`(skipped: the '${argv[0]}' subcommand is not available in this build)\n`);
    return { title, argv, code: null, note: "not available" };
  }
  try {
    const code = await mod.run(argv.slice(1));
    return { title, argv, code };
  } catch (e) {
    process.stderr.write(`npzguard ${argv[0]}: ${errorLine(e, debug)}\n`);
    return { title, argv, code: EXIT.UNREADABLE, note: "threw" };
  }
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=,+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The repository's fake study trainer (a Python package) if this install ships it. */
function fakeTrainerDir(): string | undefined {
  const dir = join(PACKAGE_ROOT, "test", "helpers", "fake-trainer");
  try {
    return statSync(dir).isDirectory() ? dir : undefined;
  } catch {
    return undefined;
  }
}

export async function run(argv: string[]): Promise<number> {
  let values: { out?: string; positions?: string; size?: string; seed?: string; stored?: boolean; debug?: boolean; help?: boolean };
  let positions: number | undefined;
  let seed: number | undefined;
  try {
    values = parseCommandArgs(argv, OPTIONS, false).values;
    if (values.size !== undefined && values.size !== "64" && values.size !== "128") {
      throw new UsageError(`Expected 64 or 128 for --size, got '${values.size}'`);
    }
    positions = intOption("positions", values.positions, 4);
    if (positions !== undefined && positions > 100_000) throw new UsageError(`Expected an integer <= 100000 for --positions, got '${values.positions}'`);
    seed = intOption("seed", values.seed, 0);
    if (seed !== undefined && seed > 0xffffffff) throw new UsageError(`Expected an integer <= 4294967295 for --seed, got '${values.seed}'`);
  } catch (e) {
    if (e instanceof UsageError) {
      printUsageError(e, DEMO_HELP);
      return EXIT.USAGE;
    }
    throw e;
  }
  if (values.help) {
    process.stdout.write(DEMO_HELP + "\n");
    return EXIT.OK;
  }
  const debug = values.debug === true;
  const outDir = values.out ?? mkdtempSync(join(tmpdir(), "npzguard-demo-"));

  header("1/4 synth: a small synthetic study (Phase C + Phase D)");
  let study: SynthResult;
  try {
    study = synthesizeStudy({
      outDir,
      ...(positions !== undefined ? { positions } : {}),
      ...(values.size ? { size: Number(values.size) as 64 | 128 } : {}),
      ...(seed !== undefined ? { seed } : {}),
      compressed: values.stored !== true,
    });
  } catch (e) {
    process.stderr.write(`npzguard demo: ${errorLine(e, debug)}\n`);
    return e instanceof RangeError || e instanceof TypeError ? EXIT.USAGE : EXIT.UNREADABLE;
  }
  process.stdout.write(formatSynthTree(study) + "\n");

  const artifactRoot = `${study.outDir}/phase_e`.replace(/\/{2,}/g, "/");
  const roots = ["--phase-c-root", study.phaseCRoot, "--phase-d-root", study.phaseDRoot, "--artifact-root", artifactRoot];

  const phaseC = study.files.filter((f) => f.phase === "c").map((f) => f.path);
  const phaseD = study.files.filter((f) => f.phase === "d").map((f) => f.path);
  const steps: StepResult[] = [];
  steps.push(await step("2/4 check: Phase C files (with the PHASEC-METADATA-001 guard)", () => import("./check.js"), ["check", ...phaseC, "--phase-c"], debug));
  steps.push(await step("2/4 check: Phase D files", () => import("./check.js"), ["check", ...phaseD], debug));
  steps.push(await step("3/4 plan: enumerate the training matrix and verify every dataset", () => import("./plan.js"), ["plan", ...roots], debug));
  const workdir = fakeTrainerDir();
  const runArgv = ["run", ...roots, "--dry-run", ...(workdir ? ["--workdir", workdir] : [])];
  steps.push(await step("4/4 run --dry-run: the trainer commands that would be launched", () => import("./run.js"), runArgv, debug));

  header("summary");
  process.stdout.write(`  ${"1/4 synth: a small synthetic study".padEnd(66)} ok (${study.files.length} files)\n`);
  for (const s of steps) {
    const status = s.code === null ? "skipped (not available)" : s.code === 0 ? "ok (exit 0)" : `exit ${s.code}${s.note ? ` (${s.note})` : ""}`;
    process.stdout.write(`  ${s.title.padEnd(66)} ${status}\n`);
  }
  process.stdout.write(
    [
      "",
      `Study tree:     ${study.outDir}`,
      `  Phase C:      ${study.phaseCRoot}`,
      `  Phase D:      ${study.phaseDRoot}`,
      `  Artifacts:    ${artifactRoot}${existsSync(artifactRoot) ? "" : " (not created by a dry run)"}`,
      `Re-run a step:  npzguard plan ${roots.map(shellQuote).join(" ")}`,
      values.out === undefined ? `The temp directory is kept; remove it with: rm -r ${shellQuote(study.outDir)}` : "",
    ]
      .filter((l, i, a) => l !== "" || i < a.length - 1)
      .join("\n") + "\n",
  );
  const codes = steps.map((s) => s.code).filter((c): c is number => c !== null);
  return codes.length === 0 ? EXIT.OK : Math.max(...codes);
}
