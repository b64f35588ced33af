// Pre-flight verification of the job matrix (study-fly64-dose-overlap.md §10.3 steps 1-3):
// every selected job's train and test file is checked with the DATA-001 engine in the job's
// context (backend profile, gridsize, K = 4, n_groups = 512, dose, role phase-c for baseline and
// phase-d for overlap inputs). A file shared by several jobs with the same options is checked
// once; files are checked in parallel; unchanged files come from the cache without touching the
// contract engine (it is imported lazily, so a warm plan never loads the native addon).
// Fail-closed: a job is verified only if both of its files pass.
import type { CheckOptions, Report, ScanMode, Violation } from "../contract/types.js";
import { VerifyCache, optionsHash, stampOf, type CacheStats } from "./cache.js";
import type { StudyDesign } from "../study/design.js";
import { selectJobs, type FilterStep, type JobFilters, type PlannedJob, type PlanWarning } from "../study/matrix.js";
import type { Backend, SkippedView, TrainingJob, VerifiedJob, View } from "../study/types.js";

/** Signature of the contract engine's checkFile (src/contract/check.ts). */
export type CheckFileFn = (path: string, options: CheckOptions) => Promise<Report>;

export interface VerifyOptions {
  backend?: Backend; // default "tensorflow"; also the contract profile
  neighborCount?: number; // default 4 (the trainer's effective K)
  nGroups?: number; // default 512
  mode?: ScanMode; // default "full"
  strict?: boolean; // passed to the contract engine
  /** Artifact root holding the cache; no cache when undefined or `cache: false`. */
  artifactRoot?: string;
  cache?: boolean; // default true
  /** Max files checked at once (default 4). */
  concurrency?: number;
  /**
   * CPU threads each file check uses (CheckOptions.threads; default: the CPUs this process may
   * use). Not part of the cache key: reports do not depend on it.
   */
  threads?: number;
  signal?: AbortSignal;
  /** Inject a checker (tests); default: checkFile from src/contract/check.ts, imported lazily. */
  checkFile?: CheckFileFn;
  /** Called when a file check starts / ends (progress). */
  onFile?: (event: { path: string; cached: boolean; done: boolean }) => void;
}

export interface BlockedEntry {
  dose: number;
  view: View;
  gridsize: 1 | 2;
  path: string;
  violations: Violation[];
}

export interface VerifyStats extends CacheStats {
  /** Distinct (path, options) pairs needed by the selected jobs. */
  files: number;
  /** Calls made to the contract engine. */
  checked: number;
}

export interface VerifyResult {
  jobs: VerifiedJob[];
  skipped: SkippedView[];
  blocked: BlockedEntry[];
  /** Report per input path (the context of the first job using it). */
  reports: Record<string, Report>;
  stats: VerifyStats;
  /** Lines for stderr: the cache was damaged and rebuilt, or could not be written. */
  warnings: string[];
}

/** The contract options for one input of a job. */
export function checkOptionsFor(job: TrainingJob, opts: VerifyOptions): CheckOptions {
  return {
    profile: opts.backend ?? "tensorflow",
    gridsize: job.gridsize,
    neighborCount: opts.neighborCount ?? 4,
    nGroups: opts.nGroups ?? 512,
    dose: job.dose,
    role: job.view === "baseline" ? "phase-c" : "phase-d",
    mode: opts.mode ?? "full",
    ...(opts.strict ? { strict: true } : {}),
  };
}

let lazyCheck: typeof import("../contract/check.js") | undefined;

// The contract engine's checkFile, with one scan limiter shared by the files checked at once (as
// checkPaths does), so that their scans together stay within one check's memory bound.
async function defaultCheckFile(threads: number | undefined): Promise<CheckFileFn> {
  // Kept out of the static import graph: a warm (all cached) plan must not load the addon.
  lazyCheck ??= await import("../contract/check.js");
  const mod = lazyCheck;
  const limiter = new mod.Limiter(mod.defaultConcurrency(threads !== undefined ? { threads } : {}));
  return (p, options) => mod.checkFile(p, { ...options, limiter });
}

function fileErrors(r: Report): Violation[] {
  const errs = r.violations.filter((v) => v.severity === "error");
  if (!r.ok && errs.length === 0) {
    // Fail closed even if the engine forgot to say why.
    const why = r.readError ? `${r.readError.code}: ${r.readError.message}` : (r.referenceVerdict.error ?? "file failed verification");
    return [{ rule: "npz/readable", severity: "error", key: r.readError?.member ?? null, message: why, finding: "DATA-001" }];
  }
  return errs;
}

async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  });
  await Promise.all(workers);
}

/** Verifies the train and test file of every job (fail-closed). */
export async function verifyJobs(jobs: TrainingJob[], opts: VerifyOptions = {}, skipped: SkippedView[] = []): Promise<VerifyResult> {
  const useCache = opts.cache !== false && opts.artifactRoot !== undefined;
  const cache = useCache ? VerifyCache.open(opts.artifactRoot as string) : null;
  const stats: VerifyStats = { hits: 0, misses: 0, stores: 0, files: 0, checked: 0 };
  const warnings: string[] = [];

  // Distinct (path, options) units of work.
  interface Unit {
    path: string;
    options: CheckOptions;
    hash: string;
    report?: Report;
  }
  const units = new Map<string, Unit>();
  const unitOf = (job: TrainingJob, path: string): Unit => {
    const options = checkOptionsFor(job, opts);
    const hash = optionsHash(options);
    const k = `${hash}\u0000${path}`;
    let u = units.get(k);
    if (!u) {
      u = { path, options, hash };
      units.set(k, u);
    }
    return u;
  };
  const perJob = jobs.map((job) => ({ job, train: unitOf(job, job.trainDataPath), test: unitOf(job, job.testDataPath) }));
  stats.files = units.size;

  const misses: { unit: Unit; stamp: ReturnType<typeof stampOf> }[] = [];
  for (const u of units.values()) {
    const stamp = cache ? stampOf(u.path) : null;
    const hit = cache?.get(u.path, u.hash, stamp);
    if (hit) {
      u.report = hit;
      opts.onFile?.({ path: u.path, cached: true, done: true });
    } else {
      misses.push({ unit: u, stamp });
    }
  }

  if (misses.length > 0) {
    const check = opts.checkFile ?? (await defaultCheckFile(opts.threads));
    await pool(misses, opts.concurrency ?? 4, async ({ unit, stamp }) => {
      opts.signal?.throwIfAborted();
      opts.onFile?.({ path: unit.path, cached: false, done: false });
      const options: CheckOptions = {
        ...unit.options,
        ...(opts.signal ? { signal: opts.signal } : {}),
        ...(opts.threads !== undefined ? { threads: opts.threads } : {}),
      };
      let report: Report;
      try {
        stats.checked++;
        report = await check(unit.path, options);
      } catch (e) {
        if (opts.signal?.aborted) throw e;
        // The check itself failed (not a contract violation): the same report as an unreadable file.
        const { errorReport } = await import("../contract/report.js");
        report = errorReport(unit.path, unit.options, e);
      }
      unit.report = report;
      if (cache && stamp && !report.readError) cache.set(unit.path, unit.hash, stamp, report);
      opts.onFile?.({ path: unit.path, cached: false, done: true });
    });
  }

  const reports: Record<string, Report> = {};
  const blocked: BlockedEntry[] = [];
  const verified: VerifiedJob[] = [];
  for (const { job, train, test } of perJob) {
    const violations: Violation[] = [];
    let ok = true;
    for (const u of [train, test]) {
      const r = u.report as Report;
      if (!(u.path in reports)) reports[u.path] = r;
      const errs = fileErrors(r);
      if (errs.length > 0 || !r.ok) {
        ok = false;
        blocked.push({ dose: job.dose, view: job.view, gridsize: job.gridsize, path: u.path, violations: errs });
      }
      violations.push(...errs, ...r.violations.filter((v) => v.severity === "warning"));
    }
    const base: TrainingJob = {
      dose: job.dose,
      view: job.view,
      gridsize: job.gridsize,
      trainDataPath: job.trainDataPath,
      testDataPath: job.testDataPath,
      artifactDir: job.artifactDir,
      logPath: job.logPath,
    };
    verified.push({ ...base, verified: ok, violations });
  }

  if (cache) {
    stats.hits = cache.stats.hits;
    stats.misses = cache.stats.misses;
    stats.stores = cache.stats.stores;
    if (cache.warning !== null) warnings.push(cache.warning);
    try {
      if (!(await cache.save())) warnings.push(`verification cache ${cache.file} is busy (another npzguard holds its lock); not updated this time`);
    } catch (e) {
      // An unwritable artifact root costs only the warm-run speed-up.
      warnings.push(`verification cache ${cache.file} not written: ${e instanceof Error ? e.message : String(e)}`);
    }
  } else {
    stats.misses = units.size;
  }
  return { jobs: verified, skipped, blocked, reports, stats, warnings };
}

export interface PlanStudyOptions {
  phaseCRoot: string;
  phaseDRoot: string;
  artifactRoot: string;
  design?: StudyDesign;
  filters?: JobFilters;
  /** Default true (the study CLI always enumerates non-strict). */
  allowMissingPhaseD?: boolean;
  /** false: plan only (existence checks; zero-byte files pass). */
  verify?: false | Omit<VerifyOptions, "artifactRoot">;
}

export interface PlanStudyResult {
  /** Selected jobs: verified when verification ran; verified false + no violations otherwise. */
  jobs: VerifiedJob[];
  planned: PlannedJob[];
  enumerated: PlannedJob[];
  skipped: SkippedView[];
  blocked: BlockedEntry[];
  warnings: PlanWarning[];
  flatLayoutDetected: boolean;
  steps: FilterStep[];
  reports: Record<string, Report>;
  stats: VerifyStats | null;
  verifiedRun: boolean;
  /** Lines for stderr about the verification cache (damaged and rebuilt, not written). */
  cacheWarnings: string[];
}

/** Plan (§5-§6) then, unless `verify: false`, verify (§10.3). Throws StudyError on strict misses. */
export async function planStudy(opts: PlanStudyOptions): Promise<PlanStudyResult> {
  const sel = selectJobs({
    phaseCRoot: opts.phaseCRoot,
    phaseDRoot: opts.phaseDRoot,
    artifactRoot: opts.artifactRoot,
    design: opts.design,
    filters: opts.filters,
    allowMissingPhaseD: opts.allowMissingPhaseD ?? true,
  });
  const common = {
    planned: sel.jobs,
    enumerated: sel.enumerated,
    skipped: sel.skipped,
    warnings: sel.warnings,
    flatLayoutDetected: sel.flatLayoutDetected,
    steps: sel.steps,
  };
  if (opts.verify === false) {
    return {
      ...common,
      jobs: sel.jobs.map(({ resolution: _r, ...j }) => ({ ...j, verified: false, violations: [] })),
      blocked: [],
      reports: {},
      stats: null,
      verifiedRun: false,
      cacheWarnings: [],
    };
  }
  const v = await verifyJobs(sel.jobs, { ...(opts.verify ?? {}), artifactRoot: opts.artifactRoot }, sel.skipped);
  return { ...common, jobs: v.jobs, blocked: v.blocked, reports: v.reports, stats: v.stats, verifiedRun: true, cacheWarnings: v.warnings };
}
