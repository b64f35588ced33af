// What `npzguard plan` does, as one library call: check the roots, enumerate the study's Phase E
// jobs and verify every dataset they read (gate/preflight.ts planStudy), then say what the
// hand-off would do with them: the trainer's settings, and with a record in the artifact root,
// per job whether `npzguard run` would reuse or run it. --strict turns each missing Phase D view
// into an error line. The CLI (cli/plan.ts) parses argv, calls planCommand() and prints.
import { existsSync, statSync } from "node:fs";
import { planStudy, type PlanStudyResult, type VerifyOptions } from "../gate/preflight.js";
import { pyExp0 } from "../python/repr.js";
import { pyJoin } from "../python/path.js";
import { StudyError, isStudyError, loadStudyDesign } from "../study/design.js";
import { doseDirName, requireDirectory, type JobFilters } from "../study/matrix.js";
import { isHandoffError } from "./errors.js";
import { resumeDecision, type ResumeDecision } from "./handoff.js";
import { identityFromReport, identityNow, type InputIdentity } from "./inputs.js";
import { readRunRecord, type CheckSettings } from "./run-record.js";
import type { ScanMode } from "../contract/types.js";
import { jobId, TRAINER_N_GROUPS, TRAINER_NEIGHBOR_COUNT } from "./trainer-command.js";

export interface PlanFlags {
  phaseCRoot: string;
  phaseDRoot: string;
  artifactRoot: string;
  /** --design FILE */
  design?: string;
  filters: JobFilters;
  strict: boolean;
  /** false: --no-verify; else the checks' options (backend, K, n_groups, scan mode, cache). */
  verify: false | Omit<VerifyOptions, "artifactRoot">;
  backend: "tensorflow" | "pytorch";
  mode: ScanMode;
  nGroups: number;
  neighborCount: number;
}

/** What plan adds about the hand-off: the trainer's settings and, with a record, resume decisions. */
export interface HandoffView {
  settings: { n_groups: number; neighbor_count: number };
  trainersSettings: boolean;
  resume: ResumeDecision[] | null;
  recordProblem: string | null;
}

export interface PlanCommandResult {
  result: PlanStudyResult;
  /** --strict: one error line per missing Phase D view. */
  strictErrors: string[];
  handoff: HandoffView;
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
function strictMessages(phaseDRoot: string, r: PlanStudyResult): string[] {
  return r.skipped.map((s) => {
    const viewDir = pyJoin(phaseDRoot, doseDirName(s.dose), s.view);
    const missing = (["train", "test"] as const).find(
      (split) => !existsSync(pyJoin(viewDir, `${s.view}_${split}.npz`)) && !existsSync(pyJoin(viewDir, `${split}.npz`)),
    );
    const notFound = missing ? `${missing === "train" ? "Training" : "Test"} dataset not found: ${pyJoin(viewDir, `${missing}.npz`)}; ` : "";
    return `ERR_STUDY_FILE_NOT_FOUND: missing Phase D view ${s.view} for dose=${pyExp0(s.dose)}: ${viewDir} (${notFound}${s.reason})`;
  });
}

/** Which input of its job (train / test) a blocked entry is. */
export function roleOf(r: PlanStudyResult, b: PlanStudyResult["blocked"][number]): "train" | "test" {
  const job = r.jobs.find((j) => j.dose === b.dose && j.view === b.view && j.gridsize === b.gridsize);
  return job && job.testDataPath === b.path && job.trainDataPath !== b.path ? "test" : "train";
}

async function handoffView(f: PlanFlags, r: PlanStudyResult): Promise<HandoffView> {
  const view: HandoffView = {
    settings: { n_groups: f.nGroups, neighbor_count: f.neighborCount },
    trainersSettings: f.nGroups === TRAINER_N_GROUPS && f.neighborCount === TRAINER_NEIGHBOR_COUNT,
    resume: null,
    recordProblem: null,
  };
  let record;
  try {
    record = await readRunRecord(f.artifactRoot);
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
  const settings: CheckSettings = { backend: f.backend, mode: r.verifiedRun ? f.mode : "none", n_groups: f.nGroups, neighbor_count: f.neighborCount };
  view.resume = [];
  for (const j of r.jobs) {
    if (r.verifiedRun && !j.verified) continue;
    const id = jobId(j);
    view.resume.push(await resumeDecision(byId.get(id), id, { train: await ident(j.trainDataPath), test: await ident(j.testDataPath), settings }));
  }
  return view;
}

/** One `npzguard plan`. Throws StudyError (roots, design, a missing strict input) and what planStudy() throws. */
export async function planCommand(f: PlanFlags): Promise<PlanCommandResult> {
  requireDirectory(f.phaseCRoot, "Phase C");
  requireDirectory(f.phaseDRoot, "Phase D");
  checkArtifactRoot(f.artifactRoot);
  const design = f.design !== undefined ? loadStudyDesign(f.design) : undefined;
  const result = await planStudy({
    phaseCRoot: f.phaseCRoot,
    phaseDRoot: f.phaseDRoot,
    artifactRoot: f.artifactRoot,
    design,
    filters: f.filters,
    allowMissingPhaseD: true,
    verify: f.verify,
  });
  return { result, strictErrors: f.strict ? strictMessages(f.phaseDRoot, result) : [], handoff: await handoffView(f, result) };
}
