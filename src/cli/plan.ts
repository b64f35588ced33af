// `npzguard plan`: enumerate the study's Phase E jobs (study-fly64-dose-overlap.md §5-§6) and verify
// every dataset they read (§10.3). Parses argv, calls planCommand() (src/handoff/plan-command.ts)
// and prints. Exit 0 when every selected job verified, 1 when a job is blocked or (--strict) a
// Phase D view is missing, 2 usage, 3 unreadable root or design file.
import type { Violation } from "../contract/types.js";
import type { PlanStudyResult } from "../gate/preflight.js";
import { planCommand, roleOf, type HandoffView, type PlanCommandResult } from "../handoff/plan-command.js";
import { TRAINER_N_GROUPS, TRAINER_NEIGHBOR_COUNT } from "../handoff/trainer-command.js";
import { pyFloat, pyJsonDump, type PyJsonValue } from "../python/json.js";
import { pyExp0, pyFloatStr } from "../python/repr.js";
import { isStudyError } from "../study/design.js";
import { EXIT, errorLine, exitCodeFor, jsonDocument, startCommand, stderrIsInteractive } from "./common.js";
import { STUDY_OPTIONS_HELP, parseStudyArgs, studyFilters, studyVerifyOptions, type StudyCliOptions } from "./study-options.js";

const HELP = `Usage: npzguard plan --phase-c-root C --phase-d-root D --artifact-root A [options]

Enumerates the training jobs of STUDY-SYNTH-FLY64-DOSE-OVERLAP-001 and checks every dataset a
job will read against DATA-001 (the backend's profile, gridsize of the job, K = 4, n_groups = 512).

${STUDY_OPTIONS_HELP}

Exit codes: 0 every selected job verified, 1 blocked jobs (or --strict and a missing Phase D
view), 2 usage error, 3 unreadable root or design file.`;

function violationJson(v: Violation): PyJsonValue {
  return { rule: v.rule, severity: v.severity, key: v.key, message: v.message, finding: v.finding, hint: v.hint };
}

function renderJson(r: PlanStudyResult, strictErrors: string[], h: HandoffView): string {
  const doc: { [k: string]: PyJsonValue } = {
    jobs: r.jobs.map((j) => ({
      dose: pyFloat(j.dose),
      view: j.view,
      gridsize: j.gridsize,
      train_data_path: j.trainDataPath,
      test_data_path: j.testDataPath,
      artifact_dir: j.artifactDir,
      log_path: j.logPath,
      verified: r.verifiedRun ? j.verified : null,
      violations: j.violations.map(violationJson),
    })),
    skipped_views: r.skipped.map((s) => ({ dose: pyFloat(s.dose), view: s.view, reason: s.reason })),
    blocked: r.blocked.map((b) => ({
      dose: pyFloat(b.dose),
      view: b.view,
      gridsize: b.gridsize,
      path: b.path,
      violations: b.violations.map(violationJson),
    })),
    warnings: r.warnings.map((w) => ({ kind: w.kind, level: w.level ?? "warning", message: w.message, path: w.path ?? null })),
    errors: strictErrors,
    verified: r.verifiedRun,
    cache: r.stats ? { hits: r.stats.hits, misses: r.stats.misses, checked: r.stats.checked, files: r.stats.files } : null,
    // Which input (train / test) each blocked entry is; a list of its own so that `blocked`
    // keeps the reference tool's fields exactly.
    blocked_files: r.blocked.map((b) => ({ dose: pyFloat(b.dose), view: b.view, gridsize: b.gridsize, file: roleOf(r, b), path: b.path })),
    check_settings: h.settings,
    trainer_settings: { n_groups: TRAINER_N_GROUPS, neighbor_count: TRAINER_NEIGHBOR_COUNT },
    settings_are_trainers: h.trainersSettings,
    resume: h.resume === null ? null : h.resume.map((d) => ({ id: d.id, reuse: d.reuse, reason: d.reason })),
  };
  return pyJsonDump(jsonDocument(doc)) + "\n";
}

function pad(s: string, n: number): string {
  return s.length >= n ? s + " " : s.padEnd(n);
}

function renderHuman(o: StudyCliOptions, r: PlanStudyResult, h: HandoffView): string {
  const out: string[] = [];
  out.push(`Enumerating training jobs from Phase C (${o.phaseCRoot}) and Phase D (${o.phaseDRoot})...`);
  out.push(`  → Selected backend: ${o.backend}`);
  out.push(`  → ${r.enumerated.length} total jobs enumerated`);
  if (r.skipped.length > 0) {
    out.push(`  ⚠ ${r.skipped.length} view(s) skipped due to missing Phase D data:`);
    for (const s of r.skipped) out.push(`    - ${s.view} (dose=${pyExp0(s.dose)}): ${s.reason}`);
  }
  for (const st of r.steps) {
    const value = st.filter === "dose" ? pyFloatStr(st.value as number) : String(st.value);
    out.push(`  → Filtered by ${st.filter}=${value}: ${st.remaining} jobs remain`);
  }
  out.push("");
  if (r.jobs.length === 0) {
    out.push("⚠ No jobs match the specified filters.");
    return out.join("\n") + "\n";
  }
  const failing = new Set(r.blocked.map((b) => `${b.dose}|${b.view}|${b.gridsize}|${b.path}`));
  const verdict = (j: PlanStudyResult["jobs"][number], path: string): string => {
    if (!r.verifiedRun) return "exists";
    return failing.has(`${j.dose}|${j.view}|${j.gridsize}|${path}`) ? "FAIL" : "ok";
  };
  out.push(`${pad("dose", 8)}${pad("view", 10)}${pad("gs", 4)}${pad("train", 8)}${pad("test", 8)}status`);
  for (const j of r.jobs) {
    const status = !r.verifiedRun ? "planned (not verified)" : j.verified ? "verified" : "BLOCKED";
    out.push(
      `${pad(pyExp0(j.dose), 8)}${pad(j.view, 10)}${pad(String(j.gridsize), 4)}${pad(verdict(j, j.trainDataPath), 8)}${pad(verdict(j, j.testDataPath), 8)}${status}`,
    );
  }
  if (r.blocked.length > 0) {
    out.push("", "Blocked:");
    for (const b of r.blocked) {
      out.push(`  ${b.view} (dose=${pyExp0(b.dose)}, gridsize=${b.gridsize}): ${b.path} (${roleOf(r, b)})`);
      for (const v of b.violations) {
        out.push(`    ${v.severity} ${v.rule}${v.key ? ` [${v.key}]` : ""}: ${v.message}`);
        if (v.hint) out.push(`      hint: ${v.hint}`);
      }
    }
  }
  const notes = r.warnings.filter((w) => (w.level ?? "warning") === "warning");
  if (notes.length > 0) {
    out.push("", "Warnings:");
    for (const w of notes) out.push(`  ⚠ ${w.message}`);
  }
  if (!h.trainersSettings) {
    out.push(
      "",
      `Note: checked with n_groups=${o.nGroups}, K=${o.neighborCount}; the trainer uses n_groups=${TRAINER_N_GROUPS}, K=${TRAINER_NEIGHBOR_COUNT}. ` +
        "These verdicts are not the trainer's (npzguard run refuses these settings unless --trainer-cmd passes them on).",
    );
  }
  if (h.resume && h.resume.length > 0) {
    out.push("", "Hand-off record (what `npzguard run` would do):");
    for (const d of h.resume) out.push(`  ${d.id}: ${d.reuse ? "reuse" : "run"}: ${d.reason}`);
  }
  if (h.recordProblem) out.push("", `Hand-off record: ${h.recordProblem}`);
  const nVerified = r.jobs.filter((j) => j.verified).length;
  const cache = r.stats ? ` (files: ${r.stats.files}, checked: ${r.stats.checked}, cached: ${r.stats.hits})` : "";
  out.push(
    "",
    r.verifiedRun
      ? `${r.jobs.length} job(s): ${nVerified} verified, ${r.jobs.length - nVerified} blocked, ${r.skipped.length} view(s) skipped${cache}`
      : `${r.jobs.length} job(s) planned (existence only, --no-verify), ${r.skipped.length} view(s) skipped`,
  );
  return out.join("\n") + "\n";
}

export async function run(argv: string[]): Promise<number> {
  const parsed = startCommand(
    () => parseStudyArgs(argv),
    (p) => p.options.help,
    HELP,
    "Run `npzguard plan --help` for the options.",
  );
  if (typeof parsed === "number") return parsed;
  const o = parsed.options;
  let out: PlanCommandResult;
  try {
    const interactive = stderrIsInteractive() && !o.json;
    let done = 0;
    const verify = studyVerifyOptions(o);
    out = await planCommand({
      phaseCRoot: o.phaseCRoot,
      phaseDRoot: o.phaseDRoot,
      artifactRoot: o.artifactRoot,
      ...(o.design !== undefined ? { design: o.design } : {}),
      filters: studyFilters(o),
      strict: o.strict,
      verify:
        verify === false
          ? false
          : {
              ...verify,
              onFile: interactive
                ? (ev) => {
                    if (ev.done && !ev.cached) process.stderr.write(`\r\x1b[Kchecked ${++done} file(s): ${ev.path}`);
                  }
                : undefined,
            },
      backend: o.backend,
      mode: o.mode,
      nGroups: o.nGroups,
      neighborCount: o.neighborCount,
    });
    if (interactive && done > 0) process.stderr.write("\r\x1b[K");
  } catch (e) {
    if (isStudyError(e)) {
      process.stderr.write(`npzguard: ${e.toLine()}\n`);
      if (o.debug && e.stack) process.stderr.write(e.stack + "\n");
      if (e.code === "ERR_STUDY_ROOT" || e.code === "ERR_STUDY_DESIGN") return EXIT.UNREADABLE;
      return EXIT.VIOLATIONS; // a strict input (Phase C baseline) is missing
    }
    process.stderr.write(`npzguard: ${errorLine(e, o.debug)}\n`);
    return exitCodeFor(e);
  }

  const { result, strictErrors, handoff: h } = out;
  for (const w of result.cacheWarnings) process.stderr.write(`npzguard: warning: ${w}\n`);
  if (o.json) {
    process.stdout.write(renderJson(result, strictErrors, h));
  } else {
    process.stdout.write(renderHuman(o, result, h));
  }
  if (result.jobs.length === 0) process.stderr.write("npzguard: warning: no job matches the filters\n");
  for (const line of strictErrors) process.stderr.write(`npzguard: ${line}\n`);
  if (result.blocked.length > 0 || strictErrors.length > 0) return EXIT.VIOLATIONS;
  return EXIT.OK;
}
