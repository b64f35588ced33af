// Phase E job matrix (study-fly64-dose-overlap.md §4-§6): build_training_jobs with the reference
// semantics (dose list order, baseline always strict, per-split primary/fallback Phase D names,
// skip reasons verbatim), npzguard's extras (primaryMissing/usedFallback, flat-layout and obsolete
// Phase C layout warnings) and the CLI filters. Existence checks only; no file is opened.
import { existsSync, readdirSync, statSync } from "node:fs";
import { type StudyDesign, StudyError, getStudyDesign } from "./design.js";
import { pyBool, pyExp0, pyFloatStr } from "../python/repr.js";
import { pyJoin } from "../python/path.js";
import type { SkippedView, TrainingJob, View } from "./types.js";

export const VIEWS: readonly View[] = ["baseline", "dense", "sparse"];
export const OVERLAP_VIEWS: readonly ("dense" | "sparse")[] = ["dense", "sparse"];

/** `dose_<int(dose)>`: truncation toward zero, never exponent form. */
export function doseDirName(dose: number): string {
  // Python's int() refuses non-finite floats; the study CLI dies with this error (exit 1).
  if (Number.isNaN(dose)) throw new StudyError("ERR_STUDY_INVALID_JOB", "cannot convert float NaN to integer");
  if (!Number.isFinite(dose)) throw new StudyError("ERR_STUDY_INVALID_JOB", "cannot convert float infinity to integer", "OverflowError");
  const t = Math.trunc(dose);
  return `dose_${Object.is(t, -0) ? 0 : BigInt(t).toString()}`;
}

/** How one split's input was resolved (overlap views only). */
export interface SplitResolution {
  path: string;
  /** `<view>_<split>.npz` does not exist. */
  primaryMissing: boolean;
  /** The fallback `<split>.npz` was chosen because the primary is missing. */
  usedFallback: boolean;
}

/** A planned job: the reference TrainingJob plus how its Phase D inputs were resolved. */
export interface PlannedJob extends TrainingJob {
  /** Overlap jobs only; a non-enumerable property (not serialized, not part of deep equality). */
  resolution?: { train: SplitResolution; test: SplitResolution };
}

export interface PlanWarning {
  /** "info" for notes that need no action (fallback names are the current Phase D output). */
  level?: "warning" | "info";
  kind: "flat-layout" | "obsolete-phase-c-layout" | "fallback-name" | "dose-outside-design";
  message: string;
  path?: string;
  dose?: number;
  view?: View;
}

export interface BuildJobsOptions {
  phaseCRoot: string;
  phaseDRoot: string;
  artifactRoot: string;
  design?: StudyDesign;
  /** Skip overlap views whose inputs are missing instead of throwing (default false, like Python). */
  allowMissingPhaseD?: boolean;
  /** Called per skip, like the reference's INFO log line `Skipping <view> view for dose=...`. */
  onSkip?: (line: string, event: SkippedView) => void;
}

export interface BuildJobsResult {
  jobs: PlannedJob[];
  skipped: SkippedView[];
  warnings: PlanWarning[];
  /** True when a flat `phase_d/dose_<int>/<view>_<split>.npz` file exists (never used). */
  flatLayoutDetected: boolean;
}

/**
 * TrainingJob construction with `__post_init__`'s checks in order: view, gridsize, train exists,
 * test exists. Throws StudyError (ERR_STUDY_INVALID_JOB / ERR_STUDY_FILE_NOT_FOUND).
 */
export function makeTrainingJob(fields: TrainingJob): TrainingJob {
  const view = fields.view as string;
  if (!(VIEWS as readonly string[]).includes(view)) {
    throw new StudyError("ERR_STUDY_INVALID_JOB", `Invalid view '${view}'. Expected one of: {'baseline', 'dense', 'sparse'}`);
  }
  const g = fields.gridsize as number;
  if (view === "baseline" && g !== 1) {
    throw new StudyError("ERR_STUDY_INVALID_JOB", `Baseline jobs must use gridsize=1, got ${g}`);
  }
  if (view !== "baseline" && g !== 2) {
    throw new StudyError("ERR_STUDY_INVALID_JOB", `Overlap jobs (${view}) must use gridsize=2, got ${g}`);
  }
  if (!existsSync(fields.trainDataPath)) {
    throw new StudyError("ERR_STUDY_FILE_NOT_FOUND", `Training dataset not found: ${fields.trainDataPath}`, "FileNotFoundError", fields.trainDataPath);
  }
  if (!existsSync(fields.testDataPath)) {
    throw new StudyError("ERR_STUDY_FILE_NOT_FOUND", `Test dataset not found: ${fields.testDataPath}`, "FileNotFoundError", fields.testDataPath);
  }
  return { ...fields };
}

/** The non-strict skip reason, verbatim (§5). */
export function skipReason(view: string, trainExists: boolean, testExists: boolean): string {
  return (
    `NPZ files not found (train=${pyBool(trainExists)}, test=${pyBool(testExists)}). ` +
    `Checked primary (${view}_train.npz/${view}_test.npz) and fallback (train.npz/test.npz).`
  );
}

function resolveSplit(viewDir: string, view: string, split: "train" | "test"): SplitResolution {
  const primary = pyJoin(viewDir, `${view}_${split}.npz`);
  if (existsSync(primary)) return { path: primary, primaryMissing: false, usedFallback: false };
  return { path: pyJoin(viewDir, `${split}.npz`), primaryMissing: true, usedFallback: true };
}

/** `build_training_jobs` (§5). Throws StudyError when a strict input is missing. */
export function buildTrainingJobs(opts: BuildJobsOptions): BuildJobsResult {
  const design = opts.design ?? getStudyDesign();
  const C = opts.phaseCRoot;
  const D = opts.phaseDRoot;
  const A = opts.artifactRoot;
  const jobs: PlannedJob[] = [];
  const skipped: SkippedView[] = [];
  const warnings: PlanWarning[] = [];
  let flatLayoutDetected = false;

  for (const dose of design.doseList) {
    const X = doseDirName(dose);
    for (const split of ["train", "test"]) {
      const obsolete = pyJoin(C, `${X}_${split}`, `fly64_${split}_simulated.npz`);
      if (existsSync(obsolete)) {
        warnings.push({
          kind: "obsolete-phase-c-layout",
          path: obsolete,
          dose,
          view: "baseline",
          message: `obsolete Phase C layout ${obsolete} is not used; expected ${pyJoin(C, X, `patched_${split}.npz`)}`,
        });
      }
    }
    const baseDir = pyJoin(A, X, "baseline", "gs1");
    jobs.push(
      makeTrainingJob({
        dose,
        view: "baseline",
        gridsize: 1,
        trainDataPath: pyJoin(C, X, "patched_train.npz"),
        testDataPath: pyJoin(C, X, "patched_test.npz"),
        artifactDir: baseDir,
        logPath: pyJoin(baseDir, "train.log"),
      }),
    );
    for (const view of OVERLAP_VIEWS) {
      const viewDir = pyJoin(D, X, view);
      for (const split of ["train", "test"]) {
        const flat = pyJoin(D, X, `${view}_${split}.npz`);
        if (existsSync(flat)) {
          flatLayoutDetected = true;
          warnings.push({
            kind: "flat-layout",
            path: flat,
            dose,
            view,
            message: `flat Phase D layout ${flat} is not accepted; expected ${pyJoin(viewDir, `${split}.npz`)} or ${pyJoin(viewDir, `${view}_${split}.npz`)}`,
          });
        }
      }
      const train = resolveSplit(viewDir, view, "train");
      const test = resolveSplit(viewDir, view, "test");
      const trainExists = existsSync(train.path);
      const testExists = existsSync(test.path);
      if (!trainExists || !testExists) {
        if (opts.allowMissingPhaseD) {
          const reason = skipReason(view, trainExists, testExists);
          const event: SkippedView = { dose, view, reason };
          skipped.push(event);
          opts.onSkip?.(`Skipping ${view} view for dose=${pyExp0(dose)}: ${reason}`, event);
          continue;
        }
      }
      const artifactDir = pyJoin(A, X, view, "gs2");
      const job = makeTrainingJob({
        dose,
        view,
        gridsize: 2,
        trainDataPath: train.path,
        testDataPath: test.path,
        artifactDir,
        logPath: pyJoin(artifactDir, "train.log"),
      });
      if (train.usedFallback || test.usedFallback) {
        warnings.push({
          kind: "fallback-name",
          level: "info",
          dose,
          view,
          message: `${view} (dose=${pyExp0(dose)}) uses the fallback Phase D name(s) ${[train, test]
            .filter((r) => r.usedFallback)
            .map((r) => r.path)
            .join(", ")}; Phase F reconstruction accepts only <view>_<split>.npz`,
        });
      }
      // Non-enumerable: a job stays field-for-field the reference TrainingJob (JSON, spreads,
      // deep equality), while `job.resolution` remains readable.
      const planned: PlannedJob = { ...job };
      Object.defineProperty(planned, "resolution", { value: { train, test }, enumerable: false, writable: true, configurable: true });
      jobs.push(planned);
    }
  }
  return { jobs, skipped, warnings, flatLayoutDetected };
}

/** `planJobs` (§5 npzguard name): same as buildTrainingJobs. */
export const planJobs = buildTrainingJobs;

export interface JobFilters {
  dose?: number;
  view?: View;
  gridsize?: 1 | 2;
}

/** One `→ Filtered by ...` step of the reference CLI. */
export interface FilterStep {
  filter: "dose" | "view" | "gridsize";
  value: number | string;
  remaining: number;
}

/** Applies the CLI filters in the order dose, view, gridsize (dose by float equality). */
export function filterJobs<J extends TrainingJob>(jobs: J[], filters: JobFilters): { jobs: J[]; steps: FilterStep[] } {
  let out = jobs;
  const steps: FilterStep[] = [];
  if (filters.dose !== undefined) {
    out = out.filter((j) => j.dose === filters.dose);
    steps.push({ filter: "dose", value: filters.dose, remaining: out.length });
  }
  if (filters.view !== undefined) {
    out = out.filter((j) => j.view === filters.view);
    steps.push({ filter: "view", value: filters.view, remaining: out.length });
  }
  if (filters.gridsize !== undefined) {
    out = out.filter((j) => j.gridsize === filters.gridsize);
    steps.push({ filter: "gridsize", value: filters.gridsize, remaining: out.length });
  }
  return { jobs: out, steps };
}

export interface SelectJobsOptions extends Omit<BuildJobsOptions, "design"> {
  design?: StudyDesign;
  filters?: JobFilters;
}

export interface SelectJobsResult extends BuildJobsResult {
  /** All enumerated jobs, before the view/gridsize/dose filters. */
  enumerated: PlannedJob[];
  steps: FilterStep[];
}

/**
 * The reference CLI's flow (§6): `--dose` replaces the design's dose list before enumeration
 * (a dose outside the design is accepted with a warning), then filters apply in order.
 */
export function selectJobs(opts: SelectJobsOptions): SelectJobsResult {
  let design = opts.design ?? getStudyDesign();
  const filters = opts.filters ?? {};
  const extra: PlanWarning[] = [];
  if (filters.dose !== undefined) {
    if (!design.doseList.includes(filters.dose)) {
      extra.push({
        kind: "dose-outside-design",
        dose: filters.dose,
        message: `dose ${pyFloatStr(filters.dose)} is not in the design's dose_list [${design.doseList.map(pyFloatStr).join(", ")}]; accepted (the study CLI accepts it too)`,
      });
    }
    design = design.withDoses([filters.dose]);
  }
  const built = buildTrainingJobs({ ...opts, design });
  const { jobs, steps } = filterJobs(built.jobs, filters);
  return { ...built, warnings: [...extra, ...built.warnings], enumerated: built.jobs, jobs, steps };
}

/** Throws StudyError(ERR_STUDY_ROOT) unless `root` is an existing directory. */
export function requireDirectory(root: string, label: string): void {
  let isDir = false;
  try {
    isDir = statSync(root).isDirectory();
  } catch {
    isDir = false;
  }
  if (!isDir) {
    const msg =
      label === "Phase C"
        ? `Phase C root directory not found: ${root}. Phase C generation may not have completed.`
        : `${label} root directory not found: ${root}`;
    throw new StudyError("ERR_STUDY_ROOT", msg, "RuntimeError", root);
  }
}

/**
 * The directory-level Phase C guard of `validate_phase_c_metadata(hub)` (study §3.3), exact
 * messages, for `<HUB>/data/phase_c` (or any Phase C root): the root exists, holds at least one
 * `dose_*` entry, and every `dose_*` entry (sorted) holds `patched_train.npz` and
 * `patched_test.npz`. Throws StudyError (pyType RuntimeError); the file-level provenance rule is
 * the contract engine's `data001/phasec-provenance` (role phase-c).
 */
export function validatePhaseCRoot(root: string): string[] {
  requireDirectory(root, "Phase C");
  const doseDirs = readdirSync(root)
    .filter((name) => name.startsWith("dose_"))
    .sort()
    .map((name) => pyJoin(root, name));
  if (doseDirs.length === 0) {
    throw new StudyError("ERR_STUDY_ROOT", `No Phase C dose directories found under ${root}. Expected pattern: dose_*/`, "RuntimeError", root);
  }
  const files: string[] = [];
  for (const doseDir of doseDirs) {
    for (const split of ["train", "test"]) {
      const f = pyJoin(doseDir, `patched_${split}.npz`);
      if (!existsSync(f)) {
        throw new StudyError(
          "ERR_STUDY_FILE_NOT_FOUND",
          `Phase C ${split} NPZ file not found: ${f}. Expected: patched_${split}.npz in ${doseDir}`,
          "RuntimeError",
          f,
        );
      }
      files.push(f);
    }
  }
  return files;
}
