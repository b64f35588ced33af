// `npzguard run`: plan + verify the study's Phase E jobs, then hand the verified ones to the
// trainer (study spec §10.3). Argument handling and printing only; the work is in
// src/study/preflight.ts (plan, verify) and src/study/handoff.ts (gate, resume, drift, executor,
// evidence, record).
import { statSync } from "node:fs";
import { resolve } from "node:path";
import { EXIT, UsageError, errorLine, printUsageError } from "./common.js";
import { STUDY_OPTIONS_HELP, parseStudyArgs, studyFilters, studyVerifyOptions } from "./study-options.js";
import { isStudyError, loadStudyDesign } from "../study/design.js";
import { isNpzError } from "../errors.js";
import type { Executor, ExecutorName } from "../study/executor.js";
import type { FileStamp } from "../study/cache.js";
import { runHandoff, type HandoffResult } from "../study/handoff.js";
import { LocalExecutor } from "../study/local-executor.js";
import { planStudy } from "../study/preflight.js";
import { requireDirectory } from "../study/matrix.js";
import { TemplateError, validateTemplate } from "../study/trainer-command.js";
import { pyExp0 } from "../study/pyformat.js";
import type { VerifiedJob } from "../study/types.js";

const RUN_SPECS = {
  python: { type: "string" },
  workdir: { type: "string" },
  "trainer-cmd": { type: "string" },
  gpus: { type: "string" },
  "skip-blocked": { type: "boolean" },
  force: { type: "boolean" },
  "dry-run": { type: "boolean" },
  executor: { type: "string" },
} as const;

export const RUN_HELP = `Usage: npzguard run --phase-c-root C --phase-d-root D --artifact-root A [options]

Verifies every selected job's datasets, then runs one trainer process per verified job:
  <python> -m studies.fly64_dose_overlap.training --phase-c-root C --phase-d-root D
      --artifact-root A --dose <d> --view <v> --gridsize <g> --backend <b>
Success is judged from evidence (manifest or train.log, bundle size and SHA-256), never from
the exit code alone. Progress goes to stderr; per-job logs to A/logs/phase_e_<view>_gs<g>_dose<int>.log;
the resumable record to A/npzguard_runs.json (a re-run skips jobs that already succeeded).

Run options:
  --python PATH          interpreter for the study CLI (default python3)
  --workdir DIR          PtychoPINN checkout, the trainer's working directory (default: cwd)
  --trainer-cmd TEMPLATE custom command run through /bin/sh; placeholders (shell-quoted):
                         {python} {dose} {view} {gridsize} {backend} {phase_c_root}
                         {phase_d_root} {artifact_root} {artifact_dir} {train} {test} {log}
  --gpus 0,1             GPU pool: at most one job per GPU at once, CUDA_VISIBLE_DEVICES per job
                         (default: one job at a time, environment unchanged)
  --skip-blocked         run the verified jobs even if some selected jobs are blocked (exit 1)
  --force                redo jobs the record says already succeeded
  --dry-run              verify and print the exact commands; launch nothing
  --executor local       where trainers run (only "local" for now)

${STUDY_OPTIONS_HELP}

Exit status: 0 all selected jobs succeeded, 1 a job was blocked or failed, 2 usage error,
3 unreadable root or design.`;

/** Parses `--gpus 0,1` into distinct ids; throws UsageError. */
export function parseGpus(text: string): string[] {
  const ids = text.split(",").map((s) => s.trim());
  if (ids.length === 0 || ids.some((s) => !/^[A-Za-z0-9_-]+$/.test(s))) {
    throw new UsageError(`Expected a comma-separated list of GPU ids for --gpus, got '${text}'`);
  }
  if (new Set(ids).size !== ids.length) throw new UsageError(`Duplicate GPU id in --gpus '${text}'`);
  return ids;
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function jsonResult(r: HandoffResult, noVerify: boolean): unknown {
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
  };
}

function printHuman(r: HandoffResult): void {
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
    const detail = j.status === "resumed" ? "already succeeded (bundle unchanged)" : j.reasons.join("; ");
    out.push(`${j.status.padEnd(9)} ${j.id}${detail ? `  ${detail}` : ""}`);
  }
  const summary = [...counts.entries()].map(([k, n]) => `${n} ${k}`).join(", ");
  out.push("", `${summary || "no jobs selected"}${r.recordPath ? `; record ${r.recordPath}` : ""}`);
  process.stdout.write(out.join("\n") + "\n");
}

export async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseStudyArgs(argv, RUN_SPECS);
  } catch (e) {
    if (e instanceof UsageError) {
      printUsageError(e, "Run `npzguard run --help` for the options.");
      return EXIT.USAGE;
    }
    throw e;
  }
  const o = parsed.options;
  if (o.help) {
    process.stdout.write(RUN_HELP + "\n");
    return EXIT.OK;
  }
  const x = parsed.extra;
  const str = (k: string): string | undefined => (typeof x[k] === "string" ? (x[k] as string) : undefined);
  let executor: Executor;
  let trainerCmd: string | undefined;
  const workdir = resolve(str("workdir") ?? process.cwd());
  try {
    const name = str("executor") ?? "local";
    if (name !== "local") {
      throw new UsageError(
        name === "slurm" ? "--executor slurm is not available yet; use --executor local" : `Expected local for --executor, got '${name}'`,
      );
    }
    const gpusText = str("gpus");
    const gpus = gpusText === undefined ? [] : parseGpus(gpusText);
    trainerCmd = str("trainer-cmd");
    if (trainerCmd !== undefined) validateTemplate(trainerCmd);
    if (!isDirectory(workdir)) throw new UsageError(`--workdir ${workdir} is not a directory`);
    executor = new LocalExecutor({ gpus });
  } catch (e) {
    if (e instanceof UsageError) {
      printUsageError(e);
      return EXIT.USAGE;
    }
    if (e instanceof TemplateError) {
      printUsageError(new UsageError(e.message));
      return EXIT.USAGE;
    }
    throw e;
  }

  const say = (line: string): void => {
    process.stderr.write(`npzguard run: ${line}\n`);
  };
  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    say(`${sig} received: terminating running trainers`);
    controller.abort();
  };
  try {
    requireDirectory(o.phaseCRoot, "Phase C");
    const design = o.design !== undefined ? loadStudyDesign(o.design) : undefined;
    const plan = await planStudy({
      phaseCRoot: o.phaseCRoot,
      phaseDRoot: o.phaseDRoot,
      artifactRoot: o.artifactRoot,
      ...(design ? { design } : {}),
      filters: studyFilters(o),
      allowMissingPhaseD: !o.strict,
      verify: studyVerifyOptions(o),
    });
    if (!plan.verifiedRun) say("--no-verify: datasets were not verified (existence checks only)");
    // Without verification the gate has nothing to hold on: planned jobs are handed off as is.
    const jobs: VerifiedJob[] = plan.verifiedRun ? plan.jobs : plan.jobs.map((j) => ({ ...j, verified: true }));
    const stamps = new Map<string, FileStamp>();
    for (const [p, rep] of Object.entries(plan.reports)) {
      if (!rep.readError) stamps.set(p, { size: rep.digest.size, mtimeMs: rep.digest.mtimeMs, inode: rep.digest.inode });
    }
    const executorName: ExecutorName = executor.name;
    if (!o.json) say(`${jobs.length} job(s) selected, ${jobs.filter((j) => !j.verified).length} blocked; executor ${executorName}`);
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    const result = await runHandoff(
      { jobs, skipped: plan.skipped, stamps },
      {
        phaseCRoot: o.phaseCRoot,
        phaseDRoot: o.phaseDRoot,
        artifactRoot: o.artifactRoot,
        backend: o.backend,
        python: str("python") ?? "python3",
        workdir,
        ...(trainerCmd !== undefined ? { trainerCmd } : {}),
        skipBlocked: x["skip-blocked"] === true,
        force: x.force === true,
        dryRun: x["dry-run"] === true,
        executor,
        signal: controller.signal,
        progress: say,
      },
    );
    if (o.json) process.stdout.write(JSON.stringify(jsonResult(result, !plan.verifiedRun), null, 2) + "\n");
    else printHuman(result);
    return result.exitCode;
  } catch (e) {
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
