// `npzguard plan`: enumerate the study's Phase E jobs (study-fly64-dose-overlap.md §5-§6) and verify
// every dataset they read (§10.3). Exit 0 when every selected job verified, 1 when a job is
// blocked or (--strict) a Phase D view is missing, 2 usage, 3 unreadable root or design file.
import { existsSync, statSync } from "node:fs";
import { EXIT, UsageError, errorLine, exitCodeFor, jsonDocument, printUsageError, stderrIsInteractive } from "./common.js";
import { STUDY_OPTIONS_HELP, parseStudyArgs, studyFilters, studyVerifyOptions, type StudyCliOptions } from "./study-options.js";
import { StudyError, isStudyError, loadStudyDesign } from "../study/design.js";
import { doseDirName, requireDirectory } from "../study/matrix.js";
import { planStudy, type PlanStudyResult } from "../gate/preflight.js";
import { pyExp0, pyFloatStr } from "../python/repr.js";
import { pyFloat, pyJsonDump, type PyJsonValue } from "../python/json.js";
import { pyJoin } from "../python/path.js";
import type { Violation } from "../contract/types.js";
import { resumeDecision, type ResumeDecision } from "../handoff/handoff.js";
import { isHandoffError } from "../handoff/errors.js";
import { identityFromReport, identityNow, type InputIdentity } from "../handoff/inputs.js";
import { readRunRecord, type CheckSettings } from "../handoff/run-record.js";
import { jobId, TRAINER_N_GROUPS, TRAINER_NEIGHBOR_COUNT } from "../handoff/trainer-command.js";

const HELP = `Usage: npzguard plan --phase-c-root C --phase-d-root D --artifact-root A [options]

Enumerates the training jobs of STUDY-SYNTH-FLY64-DOSE-OVERLAP-001 and checks every dataset a
job will read against DATA-001 (the backend's profile, gridsize of the job, K = 4, n_groups = 512).

${STUDY_OPTIONS_HELP}

Exit codes: 0 every selected job verified, 1 blocked jobs (or --strict and a missing Phase D
view), 2 usage error, 3 unreadable root or design file.`;

function violationJson(v: Violation): PyJsonValue {
  return { rule: v.rule, severity: v.severity, key: v.key, message: v.message, finding: v.finding, hint: v.hint };
}

function checkArtifactRoot(root: string): void {
  try {
    if (!statSync(root).isDirectory()) {
      throw new StudyError("ERR_STUDY_ROOT", `artifact root is not a directory: ${root}`, "RuntimeError", root);
    }
  } catch (e) {
    if (isStudyError(e)) throw e;
    // Missing is fine: the trainer creates it (and so does the cache on save).
  }
}

/**
 * --strict: one line per missing Phase D view naming the view directory and, like the strict
 * `build_training_jobs`, the first missing split as the FALLBACK path it resolved to.
 */
function strictMessages(o: StudyCliOptions, r: PlanStudyResult): string[] {
  return r.skipped.map((s) => {
    const viewDir = pyJoin(o.phaseDRoot, doseDirName(s.dose), s.view);
    const missing = (["train", "test"] as const).find(
      (split) => !existsSync(pyJoin(viewDir, `${s.view}_${split}.npz`)) && !existsSync(pyJoin(viewDir, `${split}.npz`)),
    );
    const notFound = missing ? `${missing === "train" ? "Training" : "Test"} dataset not found: ${pyJoin(viewDir, `${missing}.npz`)}; ` : "";
    return `ERR_STUDY_FILE_NOT_FOUND: missing Phase D view ${s.view} for dose=${pyExp0(s.dose)}: ${viewDir} (${notFound}${s.reason})`;
  });
}

/** What plan adds about the hand-off: the trainer's settings and, with a record, resume decisions. */
interface HandoffView {
  settings: { n_groups: number; neighbor_count: number };
  trainersSettings: boolean;
  resume: ResumeDecision[] | null;
  recordProblem: string | null;
}

function roleOf(r: PlanStudyResult, b: PlanStudyResult["blocked"][number]): "train" | "test" {
  const job = r.jobs.find((j) => j.dose === b.dose && j.view === b.view && j.gridsize === b.gridsize);
  return job && job.testDataPath === b.path && job.trainDataPath !== b.path ? "test" : "train";
}

async function handoffView(o: StudyCliOptions, r: PlanStudyResult): Promise<HandoffView> {
  const view: HandoffView = {
    settings: { n_groups: o.nGroups, neighbor_count: o.neighborCount },
    trainersSettings: o.nGroups === TRAINER_N_GROUPS && o.neighborCount === TRAINER_NEIGHBOR_COUNT,
    resume: null,
    recordProblem: null,
  };
  let record;
  try {
    record = await readRunRecord(o.artifactRoot);
  } catch (e) {
    view.recordProblem = isHandoffError(e) ? e.toLine() : String(e);
    return view;
  }
  if (!record) return view;
  const byId = new Map(record.jobs.map((j) => [j.id, j]));
  const ident = async (p: string): Promise<InputIdentity | null> => {
    const rep = r.reports[p];
    return rep ? identityFromReport(p, rep) : await identityNow(p);
  };
  const settings: CheckSettings = { backend: o.backend, mode: r.verifiedRun ? o.mode : "none", n_groups: o.nGroups, neighbor_count: o.neighborCount };
  view.resume = [];
  for (const j of r.jobs) {
    if (r.verifiedRun && !j.verified) continue;
    const id = jobId(j);
    view.resume.push(await resumeDecision(byId.get(id), id, { train: await ident(j.trainDataPath), test: await ident(j.testDataPath), settings }));
  }
  return view;
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
  let o: StudyCliOptions;
  try {
    o = parseStudyArgs(argv).options;
  } catch (e) {
    if (e instanceof UsageError) {
      printUsageError(e, "Run `npzguard plan --help` for the options.");
      return EXIT.USAGE;
    }
    throw e;
  }
  if (o.help) {
    process.stdout.write(HELP + "\n");
    return EXIT.OK;
  }
  if (o.dose !== undefined && !Number.isFinite(o.dose)) {
    // Python's float() accepts 'nan'/'inf', then int() crashes on them: a usage error here.
    printUsageError(new UsageError(`Expected a finite number for --dose, got ${pyFloatStr(o.dose)}`), "Run `npzguard plan --help` for the options.");
    return EXIT.USAGE;
  }

  let result: PlanStudyResult;
  try {
    requireDirectory(o.phaseCRoot, "Phase C");
    requireDirectory(o.phaseDRoot, "Phase D");
    checkArtifactRoot(o.artifactRoot);
    const design = o.design !== undefined ? loadStudyDesign(o.design) : undefined;
    const interactive = stderrIsInteractive() && !o.json;
    let done = 0;
    const verify = studyVerifyOptions(o);
    result = await planStudy({
      phaseCRoot: o.phaseCRoot,
      phaseDRoot: o.phaseDRoot,
      artifactRoot: o.artifactRoot,
      design,
      filters: studyFilters(o),
      allowMissingPhaseD: true,
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

  const strictErrors = o.strict ? strictMessages(o, result) : [];
  for (const w of result.cacheWarnings) process.stderr.write(`npzguard: warning: ${w}\n`);
  const h = await handoffView(o, result);
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
