// StudyDesign (study-fly64-dose-overlap.md §2): the constants of STUDY-SYNTH-FLY64-DOSE-OVERLAP-001,
// to_dict() key order, validate() rules with the reference's exact messages, and loading a
// design from a JSON file (the to_dict() shape; spacing_thresholds is derived and ignored).
import { readFileSync } from "node:fs";
import { pyFloatStr } from "../python/repr.js";
import { pyFloat, pyJsonParse, type PyJsonValue, type JsonValue } from "../python/json.js";

/** Codes of the study layer's errors (not reader errors; those are NpzError). */
export type StudyErrorCode =
  | "ERR_STUDY_DESIGN" // ValueError from StudyDesign.validate() or a malformed design file
  | "ERR_STUDY_INVALID_JOB" // ValueError from TrainingJob construction (view / gridsize)
  | "ERR_STUDY_FILE_NOT_FOUND" // FileNotFoundError: a job's dataset does not exist
  | "ERR_STUDY_ROOT"; // a root directory is missing or not a directory

/** Error of the study layer; `pyType` is the Python exception the reference raises. */
export class StudyError extends Error {
  override readonly name = "StudyError";
  constructor(
    readonly code: StudyErrorCode,
    message: string,
    readonly pyType: "ValueError" | "FileNotFoundError" | "RuntimeError" | "OverflowError" = "ValueError",
    readonly path?: string,
  ) {
    super(message);
  }

  /** One line, as the CLI prints it. */
  toLine(): string {
    return `${this.code}: ${this.message}`;
  }
}

export function isStudyError(err: unknown, ...codes: StudyErrorCode[]): err is StudyError {
  return err instanceof StudyError && (codes.length === 0 || codes.includes(err.code));
}

export interface MetricsConfig {
  ms_ssim_sigma: number;
  emphasize_phase: boolean;
  report_amplitude: boolean;
  frc_threshold: number;
}

export interface StudyDesignInit {
  doseList?: number[];
  gridsizes?: number[];
  neighborCount?: number;
  patchSizePixels?: number;
  overlapViews?: Record<string, number>;
  trainTestSplitAxis?: string;
  rngSeeds?: Record<string, number>;
  metricsConfig?: MetricsConfig;
}

/** The study's constants. Thresholds are derived at construction, like the dataclass. */
export class StudyDesign {
  readonly doseList: number[];
  readonly gridsizes: number[];
  readonly neighborCount: number;
  readonly patchSizePixels: number;
  readonly overlapViews: Record<string, number>;
  readonly spacingThresholds: Record<string, number>;
  readonly trainTestSplitAxis: string;
  readonly rngSeeds: Record<string, number>;
  readonly metricsConfig: MetricsConfig;

  constructor(init: StudyDesignInit = {}) {
    this.doseList = [...(init.doseList ?? [1e3, 1e4, 1e5])];
    this.gridsizes = [...(init.gridsizes ?? [1, 2])];
    this.neighborCount = init.neighborCount ?? 7;
    this.patchSizePixels = init.patchSizePixels ?? 128;
    this.overlapViews = { ...(init.overlapViews ?? { dense: 0.7, sparse: 0.2 }) };
    this.trainTestSplitAxis = init.trainTestSplitAxis ?? "y";
    this.rngSeeds = { ...(init.rngSeeds ?? { simulation: 42, grouping: 123, subsampling: 456 }) };
    this.metricsConfig = {
      ...(init.metricsConfig ?? { ms_ssim_sigma: 1.0, emphasize_phase: true, report_amplitude: true, frc_threshold: 0.5 }),
    };
    this.spacingThresholds = {};
    for (const [view, f] of Object.entries(this.overlapViews)) {
      this.spacingThresholds[view] = (1.0 - f) * this.patchSizePixels;
    }
  }

  /** A copy with another dose list (the CLI's `--dose` narrowing, §6). */
  withDoses(doses: number[]): StudyDesign {
    return new StudyDesign({ ...this.init(), doseList: doses });
  }

  private init(): StudyDesignInit {
    return {
      doseList: this.doseList,
      gridsizes: this.gridsizes,
      neighborCount: this.neighborCount,
      patchSizePixels: this.patchSizePixels,
      overlapViews: this.overlapViews,
      trainTestSplitAxis: this.trainTestSplitAxis,
      rngSeeds: this.rngSeeds,
      metricsConfig: this.metricsConfig,
    };
  }

  /** Rules of §2.2 in order; throws StudyError (ERR_STUDY_DESIGN, pyType ValueError). */
  validate(): void {
    if (this.gridsizes.length === 0) throw new StudyError("ERR_STUDY_DESIGN", "gridsizes must not be empty");
    const g = Math.max(...this.gridsizes);
    const c = g * g;
    if (this.neighborCount < c) {
      throw new StudyError("ERR_STUDY_DESIGN", `neighbor_count=${this.neighborCount} must be ≥ C=${c} (gridsize²=${g}²) for K-choose-C oversampling`);
    }
    for (const [view, f] of Object.entries(this.overlapViews)) {
      if (!(f >= 0 && f < 1)) {
        throw new StudyError("ERR_STUDY_DESIGN", `overlap_views['${view}']=${pyFloatStr(f)} must be in [0, 1)`);
      }
    }
    for (const [view, s] of Object.entries(this.spacingThresholds)) {
      if (!(s > 0)) {
        throw new StudyError("ERR_STUDY_DESIGN", `spacing_thresholds['${view}']=${pyFloatStr(s)} must be positive`);
      }
    }
    if (this.doseList.length === 0) throw new StudyError("ERR_STUDY_DESIGN", "dose_list must not be empty");
    if (this.doseList.some((d) => !(d > 0))) throw new StudyError("ERR_STUDY_DESIGN", "All doses must be positive");
  }

  /** `to_dict()`: keys exactly in the reference order; floats tagged for Python-style dumping. */
  toDict(): { [key: string]: PyJsonValue } {
    const floats = (r: Record<string, number>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, pyFloat(v)])) as { [key: string]: PyJsonValue };
    return {
      dose_list: this.doseList.map((d) => pyFloat(d)),
      gridsizes: [...this.gridsizes],
      neighbor_count: this.neighborCount,
      patch_size_pixels: this.patchSizePixels,
      overlap_views: floats(this.overlapViews),
      spacing_thresholds: floats(this.spacingThresholds),
      train_test_split_axis: this.trainTestSplitAxis,
      rng_seeds: { ...this.rngSeeds },
      metrics_config: {
        ms_ssim_sigma: pyFloat(this.metricsConfig.ms_ssim_sigma),
        emphasize_phase: this.metricsConfig.emphasize_phase,
        report_amplitude: this.metricsConfig.report_amplitude,
        frc_threshold: pyFloat(this.metricsConfig.frc_threshold),
      },
    };
  }
}

/** `get_study_design()`: the defaults, constructed and validated. */
export function getStudyDesign(): StudyDesign {
  const d = new StudyDesign();
  d.validate();
  return d;
}

function bad(file: string, what: string): never {
  throw new StudyError("ERR_STUDY_DESIGN", `design file ${file}: ${what}`, "ValueError", file);
}

function numberList(file: string, key: string, v: JsonValue | undefined): number[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== "number")) bad(file, `'${key}' must be a list of numbers`);
  return v as number[];
}

function numberRecord(file: string, key: string, v: JsonValue | undefined): Record<string, number> | undefined {
  if (v === undefined) return undefined;
  if (v === null || typeof v !== "object" || Array.isArray(v) || Object.values(v).some((x) => typeof x !== "number")) {
    bad(file, `'${key}' must be an object of numbers`);
  }
  return v as Record<string, number>;
}

const DESIGN_KEYS = new Set([
  "dose_list",
  "gridsizes",
  "neighbor_count",
  "patch_size_pixels",
  "overlap_views",
  "spacing_thresholds",
  "train_test_split_axis",
  "rng_seeds",
  "metrics_config",
]);

/** Builds a design from a parsed to_dict()-shaped object (missing keys keep defaults). */
export function designFromDict(obj: JsonValue, file = "<design>"): StudyDesign {
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) bad(file, "expected a JSON object");
  const o = obj as { [key: string]: JsonValue };
  for (const k of Object.keys(o)) if (!DESIGN_KEYS.has(k)) bad(file, `unknown key '${k}'`);
  const int = (key: string): number | undefined => {
    const v = o[key];
    if (v === undefined) return undefined;
    if (typeof v !== "number" || !Number.isInteger(v)) bad(file, `'${key}' must be an integer`);
    return v as number;
  };
  const axis = o.train_test_split_axis;
  if (axis !== undefined && typeof axis !== "string") bad(file, "'train_test_split_axis' must be a string");
  let metrics: MetricsConfig | undefined;
  if (o.metrics_config !== undefined) {
    const m = o.metrics_config;
    if (m === null || typeof m !== "object" || Array.isArray(m)) bad(file, "'metrics_config' must be an object");
    const mm = m as { [key: string]: JsonValue };
    metrics = {
      ms_ssim_sigma: typeof mm.ms_ssim_sigma === "number" ? mm.ms_ssim_sigma : 1.0,
      emphasize_phase: typeof mm.emphasize_phase === "boolean" ? mm.emphasize_phase : true,
      report_amplitude: typeof mm.report_amplitude === "boolean" ? mm.report_amplitude : true,
      frc_threshold: typeof mm.frc_threshold === "number" ? mm.frc_threshold : 0.5,
    };
  }
  const gridsizes = numberList(file, "gridsizes", o.gridsizes);
  if (gridsizes?.some((g) => !Number.isInteger(g))) bad(file, "'gridsizes' must be integers");
  return new StudyDesign({
    doseList: numberList(file, "dose_list", o.dose_list),
    gridsizes,
    neighborCount: int("neighbor_count"),
    patchSizePixels: int("patch_size_pixels"),
    overlapViews: numberRecord(file, "overlap_views", o.overlap_views),
    trainTestSplitAxis: axis as string | undefined,
    rngSeeds: numberRecord(file, "rng_seeds", o.rng_seeds),
    metricsConfig: metrics,
  });
}

/** Loads a design JSON file (NaN/Infinity accepted), then validates it. */
export function loadStudyDesign(file: string): StudyDesign {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    bad(file, e instanceof Error ? e.message : String(e));
  }
  let parsed: JsonValue;
  try {
    parsed = pyJsonParse(text);
  } catch (e) {
    bad(file, `invalid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  const d = designFromDict(parsed, file);
  d.validate();
  return d;
}
