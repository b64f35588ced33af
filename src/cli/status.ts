// `npzguard status`: prints the hand-off record of an artifact root (A/npzguard_runs.json) as
// runStatus() (src/handoff/status.ts) refreshes it for display: a table, or JSON with --json.
import { isHandoffError } from "../handoff/errors.js";
import { runRecordPath } from "../handoff/run-record.js";
import { runStatus, type RunStatus } from "../handoff/status.js";
import { pyExp0 } from "../python/repr.js";
import { EXIT, UsageError, jsonText, parseCommandArgs, startCommand } from "./common.js";

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
  const parsed = startCommand(
    () => {
      const p = parseCommandArgs(argv, {
        "artifact-root": { type: "string" },
        executor: { type: "string" },
        json: { type: "boolean" },
        debug: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      });
      const { values, positionals } = p;
      if (values.help) return p;
      if (values.executor !== undefined && values.executor !== "local" && values.executor !== "slurm") {
        throw new UsageError(`Expected local or slurm for --executor, got '${values.executor}'`);
      }
      if (positionals.length > 1 || (positionals.length === 1 && values["artifact-root"] !== undefined)) {
        throw new UsageError("expected one artifact root");
      }
      if (values["artifact-root"] === undefined && positionals.length === 0) throw new UsageError("missing required option --artifact-root");
      return p;
    },
    (p) => p.values.help === true,
    STATUS_HELP,
    "Run `npzguard status --help` for the options.",
  );
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  const root = values["artifact-root"] ?? (positionals[0] as string);
  let status: RunStatus | null;
  try {
    status = await runStatus(root, {
      ...(values.executor === "local" || values.executor === "slurm" ? { executor: values.executor } : {}),
      progress: (line) => process.stderr.write(`npzguard status: ${line}\n`),
    });
  } catch (e) {
    if (isHandoffError(e)) process.stderr.write(`npzguard status: ${e.toLine()}\n`);
    else {
      const msg = e instanceof Error ? (values.debug && e.stack ? e.stack : e.message) : String(e);
      process.stderr.write(`npzguard status: unreadable record ${runRecordPath(root)}: ${msg}\n`);
    }
    return EXIT.UNREADABLE;
  }
  if (status === null) {
    process.stderr.write(`npzguard status: no hand-off record at ${runRecordPath(root)} (run \`npzguard run\` first)\n`);
    return EXIT.UNREADABLE;
  }
  const { view, allGood } = status;
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
