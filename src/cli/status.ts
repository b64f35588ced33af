// `npzguard status`: prints the hand-off record of an artifact root (A/npzguard_runs.json),
// refreshed for display: "running" entries whose npzguard process is gone read "interrupted", and
// succeeded entries whose bundle is missing or changed size are flagged. Read-only for local
// jobs; pending/running Slurm jobs that no npzguard is watching are refreshed from Slurm and
// finished ones judged from their evidence, and that is written back to the record.
import { statSync } from "node:fs";
import { EXIT, UsageError, jsonText, parseCommandArgs, printUsageError } from "./common.js";
import { readRunRecord, refreshStatuses, runRecordPath, type RunRecord, type RunRecordEntry } from "../handoff/run-record.js";
import { refreshSlurmRecord } from "../handoff/slurm-executor.js";
import { isHandoffError } from "../handoff/errors.js";
import { RunLock } from "../handoff/lock.js";
import { joinPath } from "../handoff/trainer-command.js";
import { pyExp0 } from "../python/repr.js";

export const STATUS_HELP = `Usage: npzguard status --artifact-root A [--json] [--executor local|slurm]

Prints the hand-off record A/npzguard_runs.json written by \`npzguard run\`: per job its status
(success, failed, blocked, pending, running, interrupted, cancelled), executor, GPU, exit
status, trainer result, bundle size and SHA-256, times and log path. Jobs submitted to Slurm
(e.g. with --detach) are first refreshed from squeue/scontrol (sacct when it answers): tasks
that finished are judged from their evidence and the record is updated.

Options:
  --artifact-root DIR   Phase E artifact root (required; a positional path also works)
  --executor E          only show jobs run by this executor (local or slurm)
  --json                the refreshed record as JSON
  --debug               stack traces on errors

Exit status: 0 every recorded job succeeded, 1 some job is not (yet) successful, 2 usage
error, 3 no record or an unreadable one.`;

/** Adds a note to succeeded entries whose bundle is gone or changed size since the run. */
function checkBundles(record: RunRecord): RunRecord {
  return {
    ...record,
    jobs: record.jobs.map((j): RunRecordEntry => {
      if (j.status !== "success") return j;
      const path = j.bundle_path ?? joinPath(j.artifact_dir, "wts.h5.zip");
      try {
        const st = statSync(path);
        if (st.size === j.bundle_size_bytes) return j;
        return { ...j, reasons: [...j.reasons, `bundle size is now ${st.size} bytes (recorded ${j.bundle_size_bytes})`] };
      } catch {
        return { ...j, reasons: [...j.reasons, `bundle ${path} is missing`] };
      }
    }),
  };
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c] ?? 0)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

export async function run(argv: string[]): Promise<number> {
  let values;
  let positionals: string[];
  try {
    const parsed = parseCommandArgs(argv, {
      "artifact-root": { type: "string" },
      executor: { type: "string" },
      json: { type: "boolean" },
      debug: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    });
    values = parsed.values;
    positionals = parsed.positionals;
    if (values.help) {
      process.stdout.write(STATUS_HELP + "\n");
      return EXIT.OK;
    }
    if (values.executor !== undefined && values.executor !== "local" && values.executor !== "slurm") {
      throw new UsageError(`Expected local or slurm for --executor, got '${values.executor}'`);
    }
    if (positionals.length > 1 || (positionals.length === 1 && values["artifact-root"] !== undefined)) {
      throw new UsageError("expected one artifact root");
    }
    if (values["artifact-root"] === undefined && positionals.length === 0) throw new UsageError("missing required option --artifact-root");
  } catch (e) {
    if (e instanceof UsageError) {
      printUsageError(e, "Run `npzguard status --help` for the options.");
      return EXIT.USAGE;
    }
    throw e;
  }
  const root = values["artifact-root"] ?? (positionals[0] as string);
  let record: RunRecord | null;
  try {
    record = await readRunRecord(root);
  } catch (e) {
    if (isHandoffError(e)) process.stderr.write(`npzguard status: ${e.toLine()}\n`);
    else {
      const msg = e instanceof Error ? (values.debug && e.stack ? e.stack : e.message) : String(e);
      process.stderr.write(`npzguard status: unreadable record ${runRecordPath(root)}: ${msg}\n`);
    }
    return EXIT.UNREADABLE;
  }
  if (record === null) {
    process.stderr.write(`npzguard status: no hand-off record at ${runRecordPath(root)} (run \`npzguard run\` first)\n`);
    return EXIT.UNREADABLE;
  }
  if (record.jobs.some((j) => j.executor === "slurm" && (j.status === "pending" || j.status === "running"))) {
    let lock: RunLock | null = null;
    try {
      // Write the refreshed entries only when no run holds the artifact root; never wait for it.
      lock = await RunLock.tryAcquire(root, "npzguard status").catch(() => null);
      const refreshed = await refreshSlurmRecord(root, {}, lock === null);
      for (const n of refreshed.notes) process.stderr.write(`npzguard status: ${n}\n`);
      record = refreshed.record;
    } catch (e) {
      // No Slurm here (or it failed): show the record as last written.
      const msg = e instanceof Error ? e.message : String(e);
      process.stderr.write(`npzguard status: cannot refresh Slurm jobs: ${msg}\n`);
    } finally {
      lock?.release();
    }
  }
  const filtered = values.executor === undefined ? record : { ...record, jobs: record.jobs.filter((j) => j.executor === values.executor) };
  const view = checkBundles(refreshStatuses(filtered));
  const allGood = view.jobs.length > 0 && view.jobs.every((j) => j.status === "success" && j.reasons.length === 0);

  if (values.json) {
    process.stdout.write(jsonText(view));
    return allGood ? EXIT.OK : EXIT.VIOLATIONS;
  }
  const rows: string[][] = [["JOB", "STATUS", "EXEC", "GPU", "EXIT", "RESULT", "BUNDLE", "SHA256", "START", "END", "NOTES"]];
  for (const j of view.jobs) {
    rows.push([
      j.id,
      j.status,
      j.executor === "slurm" && j.external_id ? `slurm:${j.external_id}` : j.executor,
      j.gpu ?? "-",
      j.exit_status === null ? (j.signal ?? "-") : String(j.exit_status),
      j.result_status ?? "-",
      j.bundle_size_bytes === null ? "-" : `${j.bundle_size_bytes} B`,
      j.bundle_sha256 === null ? "-" : j.bundle_sha256.slice(0, 12),
      j.start ?? "-",
      j.end ?? "-",
      [...j.reasons, ...(j.warnings ?? []).map((w) => `warning: ${w}`)].join("; "),
    ]);
  }
  const counts = new Map<string, number>();
  for (const j of view.jobs) counts.set(j.status, (counts.get(j.status) ?? 0) + 1);
  const extra: string[] = [];
  const skipped = view.skipped ?? [];
  const blocked = view.blocked ?? [];
  if (skipped.length > 0) {
    extra.push("", "Skipped views (last run's plan):");
    for (const s of skipped) extra.push(`  ${s.view} dose=${pyExp0(s.dose)}: ${s.reason}`);
  }
  if (blocked.length > 0) {
    extra.push("", "Blocked files (last run's plan):");
    for (const b of blocked) for (const v of b.violations) extra.push(`  ${b.id} ${b.file} ${b.path}: ${v.rule}: ${v.message}`);
  }
  const summary = [...counts.entries()].map(([k, n]) => `${n} ${k}`).join(", ") || "no jobs";
  const ofAll = skipped.length > 0 ? `${view.jobs.length} of ${view.jobs.length + skipped.length} jobs (${skipped.length} view(s) skipped): ` : "";
  process.stdout.write(`${runRecordPath(root)} (updated ${view.updated})\n\n${table(rows)}${extra.join("\n")}\n\n${ofAll}${summary}\n`);
  return allGood ? EXIT.OK : EXIT.VIOLATIONS;
}
