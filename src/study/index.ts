// Public exports of the study layer (design, job matrix, pre-flight verification, formatting).
export * from "./types.js";
export {
  StudyDesign,
  StudyError,
  isStudyError,
  getStudyDesign,
  designFromDict,
  loadStudyDesign,
  type StudyDesignInit,
  type StudyErrorCode,
  type MetricsConfig,
} from "./design.js";
export {
  VIEWS,
  OVERLAP_VIEWS,
  doseDirName,
  makeTrainingJob,
  skipReason,
  buildTrainingJobs,
  planJobs,
  filterJobs,
  selectJobs,
  requireDirectory,
  validatePhaseCRoot,
  type SplitResolution,
  type PlannedJob,
  type PlanWarning,
  type BuildJobsOptions,
  type BuildJobsResult,
  type JobFilters,
  type FilterStep,
  type SelectJobsOptions,
  type SelectJobsResult,
} from "./matrix.js";
export { VerifyCache, CACHE_FILE, optionsHash, stampOf, type FileStamp, type CacheStats } from "./cache.js";
export {
  verifyJobs,
  planStudy,
  checkOptionsFor,
  type CheckFileFn,
  type VerifyOptions,
  type VerifyResult,
  type VerifyStats,
  type BlockedEntry,
  type PlanStudyOptions,
  type PlanStudyResult,
} from "./preflight.js";
export { runHandoff, type HandoffPlan, type HandoffOptions, type HandoffResult, type HandoffJobResult } from "./handoff.js";
export type { Executor, ExecutorName, HandoffJob, JobOutcome, OutcomeStatus } from "./executor.js";
export { LocalExecutor, type LocalExecutorOptions } from "./local-executor.js";
export { SlurmExecutor, refreshSlurmRecord, type SlurmExecutorOptions } from "./slurm-executor.js";
export { SlurmError, isSlurmError, type SlurmErrorCode } from "./slurm.js";
export { collectEvidence, sha256File, bundleFacts, type Evidence, type BundleFacts } from "./evidence.js";
export { readRunRecord, runRecordPath, RUN_RECORD_NAME, type RunRecord, type RunRecordEntry, type RunStatus } from "./run-record.js";
export { buildTrainerCommand, type TrainerCommand, type TrainerCommandInput } from "./trainer-command.js";
export { synthesizeStudy, type SynthOptions, type SynthResult } from "./synth.js";
