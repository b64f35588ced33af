// Batch script generation for the Slurm executor: one job array, task i runs job i. The script
// is meant to be read by people (`--emit-script`), so it lists every task's command in a plain
// `case` and keeps the #SBATCH block short.
//
// Files of one submission, all under <A>/slurm/:
//   phase_e_<stamp>.sbatch          the batch script
//   phase_e_<stamp>.tasks/<i>.log   symlink to the job's CLI log <A>/logs/phase_e_<id>.log, so
//                                   that Slurm's `--output=.../%a.log` lands exactly where the
//                                   local executor writes it (Slurm cannot name outputs by job id)
//   phase_e_<stamp>.tasks/<i>.state written by task i: start time (ms), CUDA_VISIBLE_DEVICES,
//                                   host, Slurm job id, and at the end the trainer's exit status
// Pure string building here; writeSubmission() does the I/O.
//
// Quoting. Every value in the script is quoted for the parser that reads it:
// - `#SBATCH` lines are read by sbatch itself, not by bash (Slurm's src/sbatch/opt.c): a line is
//   split into words at unquoted whitespace, '...' and "..." group, a backslash escapes the next
//   character (inside quotes too) and is dropped, an unquoted `#` starts a comment. sbatchWord()
//   writes each directive word so that this parser yields it byte for byte.
// - `--output` is then a filename pattern for slurmstepd: `%%` is a literal `%`, and ANY backslash
//   in the final name switches pattern expansion off and is removed (seen on Slurm 22.05: no
//   `%a`, and the file lands elsewhere). So `%` is doubled, and an artifact root with a backslash
//   is refused (ERR_SLURM_PATH): its per-task outputs cannot be named.
// - The body is bash: paths are single-quoted (shellQuote).
// - Control characters (C0, DEL) are refused in every path: a newline ends an `#SBATCH` line or a
//   comment and would run the rest as a command. checkPathForScript() lets the CLI refuse such a
//   path up front (usage error); batchScript() throws SlurmError ERR_SLURM_PATH as the last line
//   of defence.
import { mkdir, rm, symlink, writeFile } from "node:fs/promises";
import { basename, dirname, join, relative, resolve } from "node:path";
import { closeSync } from "node:fs";
import type { HandoffJob } from "./executor.js";
import { createFileNoFollow } from "../files/no-follow.js";
import { SlurmError } from "./slurm.js";
import { shellQuote } from "./trainer-command.js";

export interface SlurmScriptOptions {
  /** Simultaneously running tasks (`%limit`); absent: no throttle. */
  arrayLimit?: number;
  /** GPUs per task: `--gres=gpu:1` by default; with gpusPerTask, `--gpus-per-task=N`; 0: no GPU request. */
  gpusPerTask?: number;
  partition?: string;
  account?: string;
  time?: string;
  mem?: string;
  qos?: string;
  constraint?: string;
  /** Extra `#SBATCH` arguments, verbatim (`--sbatch-arg`, repeatable). */
  sbatchArgs?: string[];
  /** Job name (default npzguard-phase-e). */
  jobName?: string;
}

export interface SubmissionPaths {
  /** `<A>/slurm/phase_e_<stamp>.sbatch` (absolute). */
  script: string;
  /** `<A>/slurm/phase_e_<stamp>.tasks` (absolute). */
  tasksDir: string;
}

/** A filesystem-friendly UTC stamp: 20261128T175310123Z. */
export function submissionStamp(now = new Date()): string {
  return now.toISOString().replace(/[-:]/g, "").replace(".", "");
}

export function submissionPaths(artifactRoot: string, stamp: string): SubmissionPaths {
  const dir = join(resolve(artifactRoot), "slurm");
  return { script: join(dir, `phase_e_${stamp}.sbatch`), tasksDir: join(dir, `phase_e_${stamp}.tasks`) };
}

export function taskStatePath(paths: SubmissionPaths, task: number): string {
  return join(paths.tasksDir, `${task}.state`);
}

/** C0 control characters (newline, CR, NUL, tab, ESC...) and DEL. */
const CONTROL_RE = /[\u0000-\u001f\u007f]/;

function describeControl(value: string): string {
  const m = CONTROL_RE.exec(value) as RegExpExecArray;
  const code = (m[0].codePointAt(0) as number).toString(16).toUpperCase().padStart(4, "0");
  return `control character U+${code} at offset ${m.index}`;
}

/** Rejects values that would break out of an `#SBATCH` line. */
export function checkSbatchValue(name: string, value: string): string | null {
  if (value.length === 0) return `Expected a non-empty value for ${name}`;
  if (CONTROL_RE.test(value))
    return `Expected a single-line value without control characters for ${name}, got ${JSON.stringify(value)} (${describeControl(value)})`;
  return null;
}

/**
 * Rejects a path that no script or command line built by npzguard may carry: one with a control
 * character (C0 or DEL; a newline would end an `#SBATCH` line and run the rest). Returns the
 * usage-error message, or null when the path is fine. `name` is the flag (`--artifact-root`).
 */
export function checkPathForScript(name: string, path: string): string | null {
  if (!CONTROL_RE.test(path)) return null;
  return `Expected a path without control characters for ${name}, got ${JSON.stringify(path)} (${describeControl(path)}); rename the directory`;
}

/**
 * The checks for the Slurm executor's two paths: no control characters in either, and no
 * backslash in the artifact root (Slurm drops backslashes from `--output` and then does not
 * expand `%a`, so the per-task logs cannot be named). Null when both are fine.
 */
export function checkSlurmPaths(artifactRoot: string, workdir: string): string | null {
  const bad = checkPathForScript("--artifact-root", artifactRoot) ?? checkPathForScript("--workdir", workdir);
  if (bad) return bad;
  if (resolve(artifactRoot).includes("\\")) {
    return `Expected an artifact root without a backslash for the Slurm executor, got ${JSON.stringify(artifactRoot)}: Slurm removes backslashes from --output and stops expanding %a there; rename the directory`;
  }
  return null;
}

/** Words sbatch reads as they are: no whitespace, quotes, backslash or `#`. */
const SBATCH_PLAIN = /^[A-Za-z0-9_@%+=:,./-]+$/;

/**
 * One word of an `#SBATCH` line, written so that sbatch's directive parser yields `value` byte
 * for byte: plain words as they are, others in double quotes with `\` and `"` escaped. The
 * sbatch of the "packjob" era blanks the first "packjob" (any case) of a directive line before
 * parsing it (the heterogeneous-job separator, src/sbatch/opt.c get_argument); Slurm 22.05 was
 * seen not to touch "hetjob". An escape inside both words (`p\ackjob` reads back as
 * `packjob`) keeps them intact on every version.
 */
export function sbatchWord(value: string): string {
  const hetjob = /(?<=h)(?=etjob)|(?<=p)(?=ackjob)/gi;
  if (SBATCH_PLAIN.test(value) && !hetjob.test(value)) return value;
  return `"${value.replace(/[\\"]/g, "\\$&").replace(hetjob, "\\")}"`;
}

/** A literal path inside a Slurm filename pattern (`--output`): `%` is written `%%`. */
export function slurmPatternLiteral(path: string): string {
  return path.replace(/%/g, "%%");
}

function assertScriptPaths(jobs: HandoffJob[], paths: SubmissionPaths, workdir: string): void {
  const bad =
    checkSlurmPaths(dirname(dirname(paths.tasksDir)), workdir) ??
    checkPathForScript("the Slurm tasks directory", paths.tasksDir) ??
    jobs.map((j) => checkPathForScript(`the log of job ${j.id}`, j.cliLogPath) ?? checkPathForScript("a job id", j.id)).find((x) => x !== null) ??
    null;
  if (bad) throw new SlurmError("ERR_SLURM_PATH", bad, undefined, "nothing was written or submitted");
}

/**
 * The `#SBATCH` lines (without the leading `#SBATCH `), in script order, each word already
 * quoted for sbatch's directive parser (sbatchWord). Each `sbatchArgs` entry is one sbatch
 * argument (`--comment=two words` stays one argument).
 */
export function sbatchDirectives(n: number, paths: SubmissionPaths, workdir: string, o: SlurmScriptOptions): string[] {
  if (n < 1) throw new RangeError(`Expected at least one job for the array, got ${n}`);
  const d: string[] = [];
  d.push(`--job-name=${o.jobName ?? "npzguard-phase-e"}`);
  d.push(`--array=0-${n - 1}${o.arrayLimit !== undefined ? `%${o.arrayLimit}` : ""}`);
  d.push("--ntasks=1");
  if (o.gpusPerTask === undefined) d.push("--gres=gpu:1");
  else if (o.gpusPerTask > 0) d.push(`--gpus-per-task=${o.gpusPerTask}`);
  d.push(`--chdir=${resolve(workdir)}`);
  d.push(`--output=${join(slurmPatternLiteral(paths.tasksDir), "%a.log")}`);
  if (o.partition !== undefined) d.push(`--partition=${o.partition}`);
  if (o.account !== undefined) d.push(`--account=${o.account}`);
  if (o.time !== undefined) d.push(`--time=${o.time}`);
  if (o.mem !== undefined) d.push(`--mem=${o.mem}`);
  if (o.qos !== undefined) d.push(`--qos=${o.qos}`);
  if (o.constraint !== undefined) d.push(`--constraint=${o.constraint}`);
  for (const a of o.sbatchArgs ?? []) d.push(a);
  for (const x of d) {
    const bad = checkSbatchValue("an #SBATCH argument", x);
    if (bad) throw new SlurmError("ERR_SLURM_PATH", bad, undefined, "nothing was written or submitted");
  }
  return d.map(sbatchWord);
}

/** The whole batch script. `jobs[i]` is task i. */
export function batchScript(jobs: HandoffJob[], paths: SubmissionPaths, workdir: string, o: SlurmScriptOptions, generatedBy = "npzguard"): string {
  const cwd = resolve(workdir);
  assertScriptPaths(jobs, paths, cwd);
  const lines: string[] = [
    "#!/bin/bash",
    `# Phase E training hand-off written by ${generatedBy}: ${jobs.length} job(s), one array task per job.`,
    `# Task i cds to the workdir, writes the log header, runs job i's trainer and exits with its status.`,
    `# Each task's output (Slurm --output) is a symlink to the job's log: ${dirname(jobs[0]?.cliLogPath ?? "logs/x")}/phase_e_<job>.log`,
    "# Success is not decided here: npzguard checks the manifest or train.log and the bundle afterwards.",
    ...sbatchDirectives(jobs.length, paths, workdir, o).map((x) => `#SBATCH ${x}`),
    "",
    "set -u",
    `STATE_DIR=${shellQuote(paths.tasksDir)}`,
    'TASK="${SLURM_ARRAY_TASK_ID:?not running as a Slurm array task}"',
    'STATE="$STATE_DIR/$TASK.state"',
    "",
    'case "$TASK" in',
  ];
  jobs.forEach((job, i) => {
    lines.push(`  ${i})  # ${job.id}`);
    lines.push(`    LOG=${shellQuote(job.cliLogPath)}`);
    lines.push(`    CMD=${shellQuote(job.command.display)}`);
    lines.push("    ;;");
  });
  lines.push(
    '  *) echo "npzguard: no job for array task $TASK" >&2; exit 2 ;;',
    "esac",
    "",
    `cd ${shellQuote(cwd)} || exit 1`,
    "# The same header the local executor writes at the top of the log.",
    `printf '%s\\n' "# Command: $CMD" ${shellQuote(`# CWD: ${cwd}`)} "# Log: $LOG" ${shellQuote(`# ${"=".repeat(78)}`)} ''`,
    'printf \'start_ms=%s\\ngpu=%s\\nhost=%s\\nslurm_job_id=%s\\n\' "$(date +%s%3N)" "${CUDA_VISIBLE_DEVICES-}" "$(hostname)" "${SLURM_JOB_ID-}" > "$STATE"',
    '/bin/sh -c "$CMD" < /dev/null',
    "rc=$?",
    'printf \'exit=%s\\nend_ms=%s\\n\' "$rc" "$(date +%s%3N)" >> "$STATE"',
    'exit "$rc"',
    "",
  );
  return lines.join("\n");
}

/**
 * Writes the script, the tasks directory and the per-task output symlinks. Returns the paths.
 * The job logs' directories are created so that Slurm can open the outputs.
 */
export async function writeSubmission(
  jobs: HandoffJob[],
  artifactRoot: string,
  workdir: string,
  o: SlurmScriptOptions,
  stamp = submissionStamp(),
  generatedBy?: string,
): Promise<SubmissionPaths> {
  const paths = submissionPaths(artifactRoot, stamp);
  // Built first: a path the script cannot carry (ERR_SLURM_PATH) leaves nothing behind.
  const script = batchScript(jobs, paths, workdir, o, generatedBy);
  await mkdir(paths.tasksDir, { recursive: true });
  for (let i = 0; i < jobs.length; i++) {
    const job = jobs[i] as HandoffJob;
    const target = resolve(job.cliLogPath);
    // Slurm opens the task output through the link below and follows links in the log's place:
    // create the log now as a regular file (a symlink planted at its name is replaced, a
    // symlinked logs/ directory refused), so Slurm writes into that file and nowhere else.
    closeSync(createFileNoFollow(target));
    const link = join(paths.tasksDir, `${i}.log`);
    await rm(link, { force: true });
    await symlink(relative(paths.tasksDir, target) || basename(target), link);
  }
  await writeFile(paths.script, script, { mode: 0o755 });
  return paths;
}
