// Options shared by `npzguard plan` and `npzguard run` (study-fly64-dose-overlap.md §6, §10.3).
// `run` passes its extra option specs to parseStudyArgs; both commands then call
// studyPlanOptions() to get the arguments of planStudy().
import type { ParseArgsConfig } from "node:util";
import { UsageError, intOption, parseCommandArgs, threadsOption } from "./common.js";
import { parsePyFloat } from "../python/repr.js";
import type { Backend, View } from "../study/types.js";
import type { ScanMode } from "../contract/types.js";

type OptionSpecs = NonNullable<ParseArgsConfig["options"]>;

export const STUDY_OPTION_SPECS = {
  "phase-c-root": { type: "string" },
  "phase-d-root": { type: "string" },
  "artifact-root": { type: "string" },
  design: { type: "string" },
  dose: { type: "string" },
  view: { type: "string" },
  gridsize: { type: "string" },
  strict: { type: "boolean" },
  "no-verify": { type: "boolean" },
  "headers-only": { type: "boolean" },
  backend: { type: "string" },
  "neighbor-count": { type: "string" },
  "n-groups": { type: "string" },
  "no-cache": { type: "boolean" },
  threads: { type: "string" },
  json: { type: "boolean" },
  debug: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const satisfies OptionSpecs;

export const STUDY_OPTIONS_HELP = `Study options:
  --phase-c-root DIR     Phase C root (dose_<int>/patched_{train,test}.npz)      (required)
  --phase-d-root DIR     Phase D root (dose_<int>/<view>/{train,test}.npz)        (required)
  --artifact-root DIR    Phase E artifact root (dose_<int>/<view>/gs<g>/)        (required)
  --design FILE          study design JSON (to_dict() shape); default: built-in design
  --dose D               only this dose (1000 and 1e3 both parse); replaces the dose list
  --view V               baseline | dense | sparse
  --gridsize G           1 | 2
  --strict               a missing Phase D view is an error (exit 1)
  --no-verify            plan only: existence checks, no DATA-001 checks
  --headers-only         verify headers only (no value scans, no CRC)
  --backend B            tensorflow (default) | pytorch; selects the contract profile
  --neighbor-count K     K for the OVERSAMPLING check (default 4, the trainer's effective K)
  --n-groups N           n_groups for the grouping checks (default 512)
  --no-cache             ignore and do not write <artifact-root>/.npzguard-cache.json
  --threads N            CPU threads for verification (default: the CPUs this process may
                         use, from its affinity mask and cgroup CPU quota)
  --json                 machine-readable output on stdout
  --debug                stack traces on errors`;

/** Parsed study options (flag names in camelCase). */
export interface StudyCliOptions {
  phaseCRoot: string;
  phaseDRoot: string;
  artifactRoot: string;
  design?: string;
  dose?: number;
  view?: View;
  gridsize?: 1 | 2;
  strict: boolean;
  verify: boolean;
  mode: ScanMode;
  backend: Backend;
  neighborCount: number;
  nGroups: number;
  cache: boolean;
  /** --threads; undefined: automatic. */
  threads?: number;
  json: boolean;
  debug: boolean;
  help: boolean;
}

export type ExtraValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

export interface ParsedStudyArgs {
  options: StudyCliOptions;
  /** Values of the caller's extra option specs, by flag name. */
  extra: ExtraValues;
  positionals: string[];
}

/**
 * Parses argv with the shared study options plus `extraSpecs`. Throws UsageError (exit 2) on
 * unknown flags, bad values or missing roots (unless --help).
 */
export function parseStudyArgs(argv: string[], extraSpecs: OptionSpecs = {}, allowPositionals = false): ParsedStudyArgs {
  for (const k of Object.keys(extraSpecs)) {
    if (k in STUDY_OPTION_SPECS) throw new Error(`option --${k} is already a study option`);
  }
  const specs: OptionSpecs = { ...STUDY_OPTION_SPECS, ...extraSpecs };
  const { values, positionals } = parseCommandArgs(argv, specs, allowPositionals);
  const v = values as ExtraValues;
  const str = (k: string): string | undefined => {
    const x = v[k];
    return typeof x === "string" ? x : undefined;
  };
  const flag = (k: string): boolean => v[k] === true;
  const help = flag("help");

  let dose: number | undefined;
  const doseText = str("dose");
  if (doseText !== undefined) {
    dose = parsePyFloat(doseText);
    if (dose === undefined || !Number.isFinite(dose)) throw new UsageError(`Expected a finite number for --dose, got '${doseText}'`);
  }
  const viewText = str("view");
  if (viewText !== undefined && !["baseline", "dense", "sparse"].includes(viewText)) {
    throw new UsageError(`Expected one of baseline, dense, sparse for --view, got '${viewText}'`);
  }
  const gsText = str("gridsize");
  if (gsText !== undefined && gsText !== "1" && gsText !== "2") {
    throw new UsageError(`Expected 1 or 2 for --gridsize, got '${gsText}'`);
  }
  const backend = str("backend") ?? "tensorflow";
  if (backend !== "tensorflow" && backend !== "pytorch") {
    throw new UsageError(`Expected tensorflow or pytorch for --backend, got '${backend}'`);
  }
  if (flag("no-verify") && flag("headers-only")) {
    throw new UsageError("--no-verify and --headers-only are mutually exclusive");
  }
  const roots: Record<string, string | undefined> = {
    "phase-c-root": str("phase-c-root"),
    "phase-d-root": str("phase-d-root"),
    "artifact-root": str("artifact-root"),
  };
  if (!help) {
    const missing = Object.keys(roots).filter((k) => !roots[k]);
    if (missing.length > 0) throw new UsageError(`missing required option(s): ${missing.map((k) => `--${k}`).join(", ")}`);
  }

  const threads = threadsOption(str("threads"));
  const extra: ExtraValues = {};
  for (const k of Object.keys(extraSpecs)) extra[k] = v[k];

  return {
    options: {
      phaseCRoot: roots["phase-c-root"] ?? "",
      phaseDRoot: roots["phase-d-root"] ?? "",
      artifactRoot: roots["artifact-root"] ?? "",
      design: str("design"),
      dose,
      view: viewText as View | undefined,
      gridsize: gsText === undefined ? undefined : (Number(gsText) as 1 | 2),
      strict: flag("strict"),
      verify: !flag("no-verify"),
      mode: flag("headers-only") ? "header" : "full",
      backend,
      neighborCount: intOption("neighbor-count", str("neighbor-count"), 1) ?? 4,
      nGroups: intOption("n-groups", str("n-groups"), 1) ?? 512,
      cache: !flag("no-cache"),
      ...(threads !== undefined ? { threads } : {}),
      json: flag("json"),
      debug: flag("debug"),
      help,
    },
    extra,
    positionals,
  };
}

/** Everything planStudy() needs except the design object (load it with loadStudyDesign). */
export function studyFilters(o: StudyCliOptions): { dose?: number; view?: View; gridsize?: 1 | 2 } {
  return {
    ...(o.dose !== undefined ? { dose: o.dose } : {}),
    ...(o.view !== undefined ? { view: o.view } : {}),
    ...(o.gridsize !== undefined ? { gridsize: o.gridsize } : {}),
  };
}

/** Verification options from the CLI flags (false when --no-verify). */
export function studyVerifyOptions(o: StudyCliOptions) {
  if (!o.verify) return false as const;
  return {
    backend: o.backend,
    neighborCount: o.neighborCount,
    nGroups: o.nGroups,
    mode: o.mode,
    cache: o.cache,
    ...(o.threads !== undefined ? { threads: o.threads } : {}),
  };
}
