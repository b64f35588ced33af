// Trainer command construction for the Phase E hand-off (study spec §10.1, §10.3 step 4).
// Pure functions: no I/O. The default command runs without a shell (argv), a --trainer-cmd
// template runs through `/bin/sh -c` with every substituted value quoted for the place it
// stands in: bare words are single-quoted, a placeholder inside '...' or "..." is escaped for
// that quote, and a placeholder inside a command substitution ($(...) or backticks) is refused.
import type { Backend, TrainingJob } from "../study/types.js";
import { pyFloatStr } from "../python/repr.js";
import { pyJoin } from "../python/path.js";

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
  /** Values of {n_groups} / {neighbor_count} (the check settings; default 512 / 4). */
  nGroups?: number;
  neighborCount?: number;
}

export interface TrainerCommand {
  /** What is printed and recorded (`# Command:` line); a valid POSIX shell command line. */
  display: string;
  /** Executable and arguments actually spawned. */
  file: string;
  args: string[];
}

/** What the study trainer really uses (study spec §9); `run` verifies with exactly these. */
export const TRAINER_N_GROUPS = 512;
export const TRAINER_NEIGHBOR_COUNT = 4;
export const TRAINER_MODULE = "studies.fly64_dose_overlap.training";

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
  "n_groups",
  "neighbor_count",
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
    n_groups: String(input.nGroups ?? 512),
    neighbor_count: String(input.neighborCount ?? 4),
  };
}

const PLACEHOLDER_SET: ReadonlySet<string> = new Set(TEMPLATE_PLACEHOLDERS);

type QuoteContext = "bare" | "single" | "double";

interface TemplatePart {
  text?: string;
  placeholder?: TemplatePlaceholder;
  context?: QuoteContext;
}

/**
 * Splits a --trainer-cmd template into literal text and placeholders, each with the shell quoting
 * context it stands in. `{{` and `}}` stand for literal braces. Throws TemplateError for unknown
 * placeholders, unbalanced braces or quotes, and placeholders inside a command substitution.
 */
function parseTemplate(template: string): TemplatePart[] {
  if (template.trim().length === 0) throw new TemplateError("--trainer-cmd must not be empty");
  const parts: TemplatePart[] = [];
  let text = "";
  let quote: QuoteContext = "bare";
  let subst = 0; // depth of $( ... ) / backticks
  let backtick = false;
  for (let i = 0; i < template.length; i++) {
    const c = template[i] as string;
    const next = template[i + 1];
    if (c === "{" && next === "{") {
      text += "{";
      i++;
      continue;
    }
    if (c === "}" && next === "}") {
      text += "}";
      i++;
      continue;
    }
    if (c === "{") {
      const end = template.indexOf("}", i);
      const name = end < 0 ? null : template.slice(i + 1, end);
      if (name === null || name.includes("{")) throw new TemplateError("unbalanced brace in --trainer-cmd (use {{ and }} for literal braces)");
      if (!PLACEHOLDER_SET.has(name)) {
        throw new TemplateError(`unknown placeholder {${name}} in --trainer-cmd; expected one of ${TEMPLATE_PLACEHOLDERS.map((p) => `{${p}}`).join(" ")}`);
      }
      if (subst > 0 || backtick) {
        throw new TemplateError(
          `placeholder {${name}} inside a command substitution in --trainer-cmd cannot be quoted safely; use it outside $(...) and backticks`,
        );
      }
      if (text) parts.push({ text });
      text = "";
      parts.push({ placeholder: name as TemplatePlaceholder, context: quote });
      i = end;
      continue;
    }
    if (c === "}") throw new TemplateError("unbalanced brace in --trainer-cmd (use {{ and }} for literal braces)");
    text += c;
    if (quote === "single") {
      if (c === "'") quote = "bare";
      continue;
    }
    if (c === "\\") {
      if (next !== undefined && next !== "{" && next !== "}") {
        text += next;
        i++;
      }
      continue;
    }
    if (quote === "double") {
      if (c === '"') quote = "bare";
      else if (c === "$" && next === "(") subst++;
      else if (c === ")" && subst > 0) subst--;
      else if (c === "`") backtick = !backtick;
      continue;
    }
    if (c === "'") quote = "single";
    else if (c === '"') quote = "double";
    else if (c === "$" && next === "(") subst++;
    else if (c === ")" && subst > 0) subst--;
    else if (c === "`") backtick = !backtick;
  }
  if (quote !== "bare") throw new TemplateError(`unterminated ${quote === "single" ? "single" : "double"} quote in --trainer-cmd`);
  if (text) parts.push({ text });
  return parts;
}

/** A value quoted for the context it is substituted into (see parseTemplate). */
function quoteFor(value: string, context: QuoteContext): string {
  if (context === "single") return value.replace(/'/g, `'\\''`);
  if (context === "double") return value.replace(/[\\$`"]/g, (ch) => `\\${ch}`);
  return shellQuote(value);
}

/** Checks a --trainer-cmd template (see parseTemplate). Throws TemplateError. */
export function validateTemplate(template: string): void {
  parseTemplate(template);
}

/** Placeholders a template uses. */
export function templatePlaceholders(template: string): Set<TemplatePlaceholder> {
  return new Set(parseTemplate(template).flatMap((p) => (p.placeholder ? [p.placeholder] : [])));
}

/** Substitutes placeholder values, each quoted for its place, into a template. */
export function expandTemplate(template: string, input: TrainerCommandInput): string {
  const values = placeholderValues(input);
  return parseTemplate(template)
    .map((p) => (p.placeholder ? quoteFor(values[p.placeholder], p.context ?? "bare") : (p.text ?? "")))
    .join("");
}

/** `--flag value`, or `--flag=value` when the value starts with '-' (argparse would take it for a flag). */
function flagArgs(flag: string, value: string): string[] {
  return value.startsWith("-") ? [`${flag}=${value}`] : [flag, value];
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
    TRAINER_MODULE,
    ...flagArgs("--phase-c-root", input.phaseCRoot),
    ...flagArgs("--phase-d-root", input.phaseDRoot),
    ...flagArgs("--artifact-root", input.artifactRoot),
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
