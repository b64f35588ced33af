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
import { mkdir, rm, symlink, writeFile } from "node:fs/promises";
import { basename, dirname, join, relative, resolve } from "node:path";
import type { HandoffJob } from "./executor.js";
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

/** Rejects values that would break out of an `#SBATCH` line. */
export function checkSbatchValue(name: string, value: string): string | null {
  if (value.length === 0) return `Expected a non-empty value for ${name}`;
  if (/[\r\n\0]/.test(value)) return `Expected a single-line value for ${name}, got ${JSON.stringify(value)}`;
  return null;
}

/** The `#SBATCH` lines (without the leading `#SBATCH `), in script order. */
export function sbatchDirectives(n: number, paths: SubmissionPaths, workdir: string, o: SlurmScriptOptions): string[] {
  if (n < 1) throw new RangeError(`Expected at least one job for the array, got ${n}`);
  const d: string[] = [];
  d.push(`--job-name=${o.jobName ?? "npzguard-phase-e"}`);
  d.push(`--array=0-${n - 1}${o.arrayLimit !== undefined ? `%${o.arrayLimit}` : ""}`);
  d.push("--ntasks=1");
  if (o.gpusPerTask === undefined) d.push("--gres=gpu:1");
  else if (o.gpusPerTask > 0) d.push(`--gpus-per-task=${o.gpusPerTask}`);
  d.push(`--chdir=${resolve(workdir)}`);
  d.push(`--output=${join(paths.tasksDir, "%a.log")}`);
  if (o.partition !== undefined) d.push(`--partition=${o.partition}`);
  if (o.account !== undefined) d.push(`--account=${o.account}`);
  if (o.time !== undefined) d.push(`--time=${o.time}`);
  if (o.mem !== undefined) d.push(`--mem=${o.mem}`);
  if (o.qos !== undefined) d.push(`--qos=${o.qos}`);
  if (o.constraint !== undefined) d.push(`--constraint=${o.constraint}`);
  for (const a of o.sbatchArgs ?? []) d.push(a);
  return d;
}

/** The whole batch script. `jobs[i]` is task i. */
export function batchScript(jobs: HandoffJob[], paths: SubmissionPaths, workdir: string, o: SlurmScriptOptions, generatedBy = "npzguard"): string {
  const cwd = resolve(workdir);
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
  await mkdir(paths.tasksDir, { recursive: true });
  for (let i = 0; i < jobs.length; i++) {
    const job = jobs[i] as HandoffJob;
    const target = resolve(job.cliLogPath);
    await mkdir(dirname(target), { recursive: true });
    const link = join(paths.tasksDir, `${i}.log`);
    await rm(link, { force: true });
    await symlink(relative(paths.tasksDir, target) || basename(target), link);
  }
  await writeFile(paths.script, batchScript(jobs, paths, workdir, o, generatedBy), { mode: 0o755 });
  return paths;
}
