// `npzguard run`: plan + verify the study's Phase E jobs, then hand the verified ones to the
// trainer (study spec §10.3). Parses argv, calls runCommand() (src/handoff/run-command.ts: the
// flags' checks, the executor, run-study.ts, --emit-script) and prints its result.
import { isNpzError } from "../errors.js";
import type { HandoffResult } from "../handoff/handoff.js";
import { isHandoffError } from "../handoff/errors.js";
import { RunOptionError, runCommand, type RunCommandResult } from "../handoff/run-command.js";
import type { BlockedRecord, CheckSettings } from "../handoff/run-record.js";
import { isSlurmError } from "../handoff/slurm.js";
import { TemplateError } from "../handoff/trainer-command.js";
import { pyExp0 } from "../python/repr.js";
import { isStudyError } from "../study/design.js";
import { EXIT, UsageError, errorLine, jsonText, printUsageError, startCommand } from "./common.js";
import { STUDY_OPTIONS_HELP, parseStudyArgs, studyFilters } from "./study-options.js";

const RUN_SPECS = {
  python: { type: "string" },
  workdir: { type: "string" },
  "trainer-cmd": { type: "string" },
  gpus: { type: "string" },
  "skip-blocked": { type: "boolean" },
  force: { type: "boolean" },
  "dry-run": { type: "boolean" },
  executor: { type: "string" },
  "slurm-partition": { type: "string" },
  "slurm-account": { type: "string" },
  "slurm-time": { type: "string" },
  "slurm-mem": { type: "string" },
  "slurm-qos": { type: "string" },
  "slurm-constraint": { type: "string" },
  "sbatch-arg": { type: "string", multiple: true },
  "gpus-per-task": { type: "string" },
  "array-limit": { type: "string" },
  "emit-script": { type: "boolean" },
  detach: { type: "boolean" },
  "poll-interval": { type: "string" },
  "wait-lock": { type: "boolean" },
  "max-failures": { type: "string" },
} as const;

const RUN_HELP = `Usage: npzguard run --phase-c-root C --phase-d-root D --artifact-root A [options]

Verifies every selected job's datasets, then runs one trainer process per verified job:
  <python> -m studies.fly64_dose_overlap.training --phase-c-root C --phase-d-root D
      --artifact-root A --dose <d> --view <v> --gridsize <g> --backend <b>
Success is judged from evidence (manifest or train.log, bundle size and SHA-256), never from
the exit code alone. Progress goes to stderr; per-job logs to A/logs/phase_e_<view>_gs<g>_dose<int>.log;
the resumable record to A/npzguard_runs.json (a re-run skips jobs that already succeeded with
the same inputs, check settings and trainer command). Roots are resolved to absolute paths
first. One run per artifact root at a time (lock A/.npzguard.lock). Each trainer runs in its own
process group: Ctrl-C / SIGTERM stop it and record the job as interrupted (exit 130 / 143).
The checks use the trainer's own settings (n_groups 512, K 4); other --n-groups /
--neighbor-count values are refused unless --trainer-cmd passes them on ({n_groups},
{neighbor_count}).

Run options:
  --python PATH          interpreter for the study CLI (default python3)
  --workdir DIR          PtychoPINN checkout, the trainer's working directory (default: cwd)
  --trainer-cmd TEMPLATE custom command run through /bin/sh; placeholders (quoted for where
                         they stand; not allowed inside $(...) or backticks):
                         {python} {dose} {view} {gridsize} {backend} {phase_c_root}
                         {phase_d_root} {artifact_root} {artifact_dir} {train} {test} {log}
                         {n_groups} {neighbor_count}
  --gpus 0,1             GPU pool: at most one job per GPU at once, CUDA_VISIBLE_DEVICES per job
                         (default: one job at a time, environment unchanged)
  --skip-blocked         run the verified jobs even if some selected jobs are blocked (exit 1)
  --force                redo jobs the record says already succeeded
  --dry-run              verify and print the exact commands; launch nothing
  --wait-lock            wait while another run holds the artifact root's lock (default: exit 1)
  --max-failures N       stop launching new jobs after N failed jobs (local executor)
  --executor local|slurm where trainers run: this machine's GPU pool (default) or one Slurm
                         job array (one task per job, submitted with sbatch)

Slurm options (--executor slurm):
  --slurm-partition P    --partition      --slurm-account A   --account
  --slurm-time T         --time           --slurm-mem M       --mem
  --slurm-qos Q          --qos            --slurm-constraint C --constraint
  --sbatch-arg ARG       any other #SBATCH argument, one argument each (repeatable), e.g. --sbatch-arg=--exclusive
  --gpus-per-task N      --gpus-per-task=N instead of the default --gres=gpu:1 (0: no GPU request)
  --array-limit N        at most N tasks at once (--array=0-<n-1>%N)
  --emit-script          write the batch script to A/slurm/ and print its path; submit nothing
  --detach               submit, print the job id and exit; follow with \`npzguard status\`
  --poll-interval S      seconds between squeue/scontrol polls (default 5)
  Ctrl-C while monitoring cancels the array (scancel). Exit 3 when Slurm is not reachable.

${STUDY_OPTIONS_HELP}

Exit status: 0 all selected jobs succeeded, 1 a job was blocked or failed, no job was selected
or another run holds the lock, 2 usage error (incl. a trainer module that does not import),
3 unreadable root, design or record, 130/143 interrupted by SIGINT/SIGTERM.`;

function jsonResult(r: HandoffResult, noVerify: boolean, extra: RunFacts): unknown {
  return {
    executor: r.executor,
    dry_run: r.dryRun,
    verified: !noVerify,
    gated: r.gated,
    exit_code: r.exitCode,
    record: r.recordPath,
    commands: r.commands,
    jobs: r.jobs.map((j) => ({
      id: j.id,
      dose: j.job.dose,
      view: j.job.view,
      gridsize: j.job.gridsize,
      status: j.status,
      reasons: j.reasons,
      exit_status: j.outcome?.exit?.exitCode ?? null,
      gpu: j.outcome?.exit?.gpu ?? null,
      evidence_source: j.outcome?.evidence?.source ?? null,
      result_status: j.outcome?.evidence?.resultStatus ?? null,
      bundle_path: j.outcome?.evidence?.bundlePath ?? null,
      bundle_sha256: j.outcome?.evidence?.bundleSha256 ?? null,
      bundle_size_bytes: j.outcome?.evidence?.bundleSizeBytes ?? null,
    })),
    skipped_views: r.skipped,
    blocked_files: extra.blockedFiles,
    resume: r.resume,
    interrupted: r.interrupted,
    check_settings: extra.settings,
    matrix_jobs: extra.matrixJobs,
  };
}

interface RunFacts {
  settings: CheckSettings;
  blockedFiles: BlockedRecord[];
  /** Jobs of the matrix under the filters, skipped views included ("8 of 9 jobs"). */
  matrixJobs: number;
}

function printHuman(r: HandoffResult, facts: RunFacts): void {
  const out: string[] = [];
  if (r.dryRun) {
    out.push(`Dry run (${r.executor} executor): ${r.commands.length} job(s) would be launched${r.gated ? " (but blocked jobs stop the run)" : ""}`);
    for (const c of r.commands) out.push("", `# ${c.id}  (cwd ${c.cwd}, log ${c.log})`, c.command);
  }
  for (const s of r.skipped) out.push(`skipped ${s.view} (dose=${pyExp0(s.dose)}): ${s.reason}`);
  const counts = new Map<string, number>();
  if (r.jobs.length > 0) out.push("");
  for (const j of r.jobs) {
    counts.set(j.status, (counts.get(j.status) ?? 0) + 1);
    const detail =
      j.status === "resumed"
        ? "already succeeded with the same inputs, settings and command (bundle unchanged)"
        : j.status === "adopted"
          ? "success of the trainer an earlier, killed run left running"
          : j.reasons.join("; ");
    out.push(`${j.status.padEnd(11)} ${j.id}${detail ? `  ${detail}` : ""}`);
    if (j.status === "blocked") {
      for (const b of facts.blockedFiles.filter((x) => x.id === j.id)) {
        for (const v of b.violations) out.push(`${"".padEnd(11)}   ${b.file} ${b.path}: ${v.rule}: ${v.message}`);
      }
    }
  }
  const summary = [...counts.entries()].map(([k, n]) => `${n} ${k}`).join(", ");
  const ofAll = r.skipped.length > 0 ? `${r.jobs.length} of ${facts.matrixJobs} jobs (${r.skipped.length} view(s) skipped): ` : `${r.jobs.length} job(s): `;
  out.push("", `${r.jobs.length > 0 ? ofAll : ""}${summary || "no jobs selected"}${r.recordPath ? `; record ${r.recordPath}` : ""}`);
  process.stdout.write(out.join("\n") + "\n");
}

export async function run(argv: string[]): Promise<number> {
  const parsed = startCommand(
    () => parseStudyArgs(argv, RUN_SPECS),
    (p) => p.options.help,
    RUN_HELP,
    "Run `npzguard run --help` for the options.",
  );
  if (typeof parsed === "number") return parsed;
  const o = parsed.options;
  const x = parsed.extra;
  const str = (k: keyof typeof RUN_SPECS): string | undefined => (typeof x[k] === "string" ? (x[k] as string) : undefined);
  const bool = (k: keyof typeof RUN_SPECS): true | undefined => (x[k] === true ? true : undefined);
  const say = (line: string): void => {
    process.stderr.write(`npzguard run: ${line}\n`);
  };
  const controller = new AbortController();
  let interruptedBy: NodeJS.Signals | null = null;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (interruptedBy !== null) return;
    interruptedBy = sig;
    say(`${sig} received: ${str("executor") === "slurm" ? "cancelling the Slurm job array" : "stopping running trainers (their whole process groups)"}`);
    controller.abort(sig);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    const r = await runCommand(
      {
        phaseCRoot: o.phaseCRoot,
        phaseDRoot: o.phaseDRoot,
        artifactRoot: o.artifactRoot,
        ...(o.design !== undefined ? { design: o.design } : {}),
        filters: studyFilters(o),
        strict: o.strict,
        verify: o.verify,
        backend: o.backend,
        mode: o.mode,
        nGroups: o.nGroups,
        neighborCount: o.neighborCount,
        cache: o.cache,
        ...(o.threads !== undefined ? { threads: o.threads } : {}),
        quiet: o.json,
        python: str("python"),
        workdir: str("workdir"),
        trainerCmd: str("trainer-cmd"),
        gpus: str("gpus"),
        executor: str("executor"),
        skipBlocked: x["skip-blocked"] === true,
        force: x.force === true,
        dryRun: x["dry-run"] === true,
        waitLock: x["wait-lock"] === true,
        maxFailures: str("max-failures"),
        slurm: {
          partition: str("slurm-partition"),
          account: str("slurm-account"),
          time: str("slurm-time"),
          mem: str("slurm-mem"),
          qos: str("slurm-qos"),
          constraint: str("slurm-constraint"),
          sbatchArgs: Array.isArray(x["sbatch-arg"]) ? x["sbatch-arg"].map(String) : undefined,
          gpusPerTask: str("gpus-per-task"),
          arrayLimit: str("array-limit"),
          emitScript: bool("emit-script"),
          detach: bool("detach"),
          pollInterval: str("poll-interval"),
        },
      },
      { signal: controller.signal, progress: say },
    );
    const code = printResult(r, o.json);
    if (interruptedBy !== null && r.outcome.kind === "handed-off" && !r.emitted) return interruptedBy === "SIGINT" ? 130 : 143;
    return code;
  } catch (e) {
    if (e instanceof RunOptionError || e instanceof TemplateError) {
      printUsageError(new UsageError(e.message));
      return EXIT.USAGE;
    }
    if (interruptedBy !== null && controller.signal.aborted && !isHandoffError(e)) {
      process.stderr.write(`npzguard run: interrupted by ${interruptedBy}\n`);
      return interruptedBy === "SIGINT" ? 130 : 143;
    }
    if (isSlurmError(e)) {
      process.stderr.write(e.toLine() + "\n");
      return e.code === "ERR_SLURM_UNAVAILABLE" ? EXIT.UNREADABLE : EXIT.VIOLATIONS;
    }
    if (isHandoffError(e)) {
      process.stderr.write(`npzguard run: ${e.toLine()}\n`);
      if (e.code === "ERR_RUN_RECORD" || e.code === "ERR_RUN_LOCK") return EXIT.UNREADABLE;
      if (e.code === "ERR_TRAINER_IMPORT") return EXIT.USAGE;
      return EXIT.VIOLATIONS;
    }
    process.stderr.write((isStudyError(e) ? e.toLine() : errorLine(e, o.debug)) + "\n");
    if (isStudyError(e, "ERR_STUDY_ROOT", "ERR_STUDY_DESIGN") || isNpzError(e)) return EXIT.UNREADABLE;
    if (isStudyError(e)) return EXIT.VIOLATIONS;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EACCES" || code === "ENOENT" || code === "ENOTDIR" || code === "EROFS") return EXIT.UNREADABLE;
    throw e;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

/** Prints runCommand()'s result (stdout; notes on stderr) and returns the exit code. */
function printResult(r: RunCommandResult, json: boolean): number {
  const outcome = r.outcome;
  if (outcome.kind === "slurm-busy") {
    const ids = outcome.arrayIds.join(", ");
    process.stderr.write(
      `npzguard run: ${outcome.active.length} job(s) of an earlier submission are still pending or running in Slurm (job ${ids}); ` +
        `follow them with \`npzguard status --artifact-root ${r.artifactRoot}\` or cancel them with \`scancel ${ids}\`\n`,
    );
    return EXIT.VIOLATIONS;
  }
  if (outcome.kind === "no-jobs") {
    const skipped = outcome.plan.skipped;
    const skippedNote = skipped.length > 0 ? ` (${skipped.length} view(s) skipped: ${skipped.map((s) => `${s.view} dose=${pyExp0(s.dose)}`).join(", ")})` : "";
    process.stderr.write(`npzguard run: no job matches the filters${skippedNote}; nothing to run\n`);
    return EXIT.VIOLATIONS;
  }
  const { result } = outcome;
  const facts: RunFacts = { settings: outcome.settings, blockedFiles: outcome.blockedFiles, matrixJobs: outcome.matrixJobs };
  if (r.emitted) {
    if (r.emitted.script === null) {
      printHuman(result, facts);
      process.stderr.write(`npzguard run: no batch script written (${r.emitted.reason})\n`);
      return EXIT.VIOLATIONS;
    }
    if (json) {
      process.stdout.write(jsonText({ executor: "slurm", script: r.emitted.script, tasks: r.emitted.tasks }));
    } else {
      process.stdout.write(`${r.emitted.script}\n`);
      process.stderr.write(`npzguard run: wrote the batch script for ${r.emitted.tasks.length} job(s); submit it with: sbatch ${r.emitted.script}\n`);
    }
    return result.exitCode;
  }
  if (json) {
    const doc = jsonResult(result, !outcome.plan.verifiedRun, facts) as Record<string, unknown>;
    if (r.submission !== undefined) doc.slurm = r.submission ? { job_id: r.submission.jobId, script: r.submission.script } : null;
    process.stdout.write(jsonText(doc));
  } else {
    printHuman(result, facts);
    if (r.submission && r.detach) {
      process.stdout.write(`Submitted Slurm job array ${r.submission.jobId}; follow it with: npzguard status --artifact-root ${r.artifactRoot}\n`);
    }
  }
  return result.exitCode;
}
