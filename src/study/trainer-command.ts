// Trainer command construction for the Phase E hand-off (study spec §10.1, §10.3 step 4).
// Pure functions: no I/O. The default command runs without a shell (argv), a --trainer-cmd
// template runs through `/bin/sh -c` with every substituted value shell-quoted.
import type { Backend, TrainingJob } from "./types.js";
import { pyFloatStr } from "./pyformat.js";
import { pyJoin } from "./pypath.js";

export { pyFloatStr };

export interface TrainerCommandInput {
  job: TrainingJob;
  python: string;
  phaseCRoot: string;
  phaseDRoot: string;
  artifactRoot: string;
  backend: Backend;
  /** --trainer-cmd template; placeholders are listed in TEMPLATE_PLACEHOLDERS. */
  template?: string;
}

export interface TrainerCommand {
  /** What is printed and recorded (`# Command:` line); a valid POSIX shell command line. */
  display: string;
  /** Executable and arguments actually spawned. */
  file: string;
  args: string[];
}

export const TEMPLATE_PLACEHOLDERS = [
  "python",
  "dose",
  "view",
  "gridsize",
  "backend",
  "phase_c_root",
  "phase_d_root",
  "artifact_root",
  "artifact_dir",
  "train",
  "test",
  "log",
] as const;
export type TemplatePlaceholder = (typeof TEMPLATE_PLACEHOLDERS)[number];

/** Thrown for a malformed --trainer-cmd template (the CLI maps it to a usage error). */
export class TemplateError extends Error {
  override readonly name = "TemplateError";
}

/** `--dose` text: integer text for integral doses (as the orchestrator passes them), else pyFloatStr. */
export function doseArg(dose: number): string {
  if (Number.isInteger(dose) && Math.abs(dose) < 1e16) return String(dose);
  return pyFloatStr(dose);
}

/** `dose_<int>` tag: truncation toward zero, printed without decimals (§3.1). */
export function doseTag(dose: number): string {
  const t = Math.trunc(dose);
  return `dose_${Object.is(t, -0) ? 0 : t}`;
}

/** Stable id of a job inside one artifact root: `<view>_gs<g>_dose<int>`. */
export function jobId(job: Pick<TrainingJob, "view" | "gridsize" | "dose">): string {
  return `${job.view}_gs${job.gridsize}_${doseTag(job.dose).replace("_", "")}`;
}

/** pathlib-style join (re-exported from pypath: `..` kept, `.` and repeated separators dropped). */
export const joinPath = pyJoin;

/** Per-job CLI log (TEST-CLI-001 naming): `<A>/logs/phase_e_<view>_gs<g>_dose<int>.log`. */
export function cliLogPath(artifactRoot: string, job: Pick<TrainingJob, "view" | "gridsize" | "dose">): string {
  return joinPath(artifactRoot, "logs", `phase_e_${jobId(job)}.log`);
}

const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** POSIX shell quoting: bare when safe, otherwise single quotes with `'\''` for embedded quotes. */
export function shellQuote(s: string): string {
  if (s.length > 0 && SAFE_WORD.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function placeholderValues(input: TrainerCommandInput): Record<TemplatePlaceholder, string> {
  const { job } = input;
  return {
    python: input.python,
    dose: doseArg(job.dose),
    view: job.view,
    gridsize: String(job.gridsize),
    backend: input.backend,
    phase_c_root: input.phaseCRoot,
    phase_d_root: input.phaseDRoot,
    artifact_root: input.artifactRoot,
    artifact_dir: job.artifactDir,
    train: job.trainDataPath,
    test: job.testDataPath,
    log: job.logPath,
  };
}

const PLACEHOLDER_SET: ReadonlySet<string> = new Set(TEMPLATE_PLACEHOLDERS);

/**
 * Checks a --trainer-cmd template: every `{name}` must be a known placeholder; `{{` and `}}`
 * stand for literal braces. Throws TemplateError.
 */
export function validateTemplate(template: string): void {
  if (template.trim().length === 0) throw new TemplateError("--trainer-cmd must not be empty");
  const stripped = template.replace(/\{\{|\}\}/g, "");
  const re = /\{([^{}]*)\}/g;
  for (const m of stripped.matchAll(re)) {
    const name = m[1] ?? "";
    if (!PLACEHOLDER_SET.has(name)) {
      throw new TemplateError(
        `unknown placeholder {${name}} in --trainer-cmd; expected one of ${TEMPLATE_PLACEHOLDERS.map((p) => `{${p}}`).join(" ")}`,
      );
    }
  }
  const rest = stripped.replace(re, "");
  if (rest.includes("{") || rest.includes("}")) {
    throw new TemplateError("unbalanced brace in --trainer-cmd (use {{ and }} for literal braces)");
  }
}

/** Substitutes shell-quoted placeholder values into a template. */
export function expandTemplate(template: string, input: TrainerCommandInput): string {
  validateTemplate(template);
  const values = placeholderValues(input);
  return template.replace(/\{\{|\}\}|\{([a-z_]+)\}/g, (whole, name: string | undefined) => {
    if (whole === "{{") return "{";
    if (whole === "}}") return "}";
    return shellQuote(values[name as TemplatePlaceholder]);
  });
}

/** The command for one job: the reference study CLI, or the expanded template via /bin/sh -c. */
export function buildTrainerCommand(input: TrainerCommandInput): TrainerCommand {
  if (input.template !== undefined) {
    const display = expandTemplate(input.template, input);
    return { display, file: "/bin/sh", args: ["-c", display] };
  }
  const { job } = input;
  const argv = [
    input.python,
    "-m",
    "studies.fly64_dose_overlap.training",
    "--phase-c-root",
    input.phaseCRoot,
    "--phase-d-root",
    input.phaseDRoot,
    "--artifact-root",
    input.artifactRoot,
    "--dose",
    doseArg(job.dose),
    "--view",
    job.view,
    "--gridsize",
    String(job.gridsize),
    "--backend",
    input.backend,
  ];
  return { display: argv.map(shellQuote).join(" "), file: argv[0] as string, args: argv.slice(1) };
}
