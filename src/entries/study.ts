// Entry point of `npzguard/study`: the fly64 dose/overlap study (design, job matrix), the
// pre-flight gate (verify every job's files) and the hand-off (executors, run record, evidence),
// plus the synthetic study generator. Importing the reader (`npzguard`) loads none of this.
export * from "../study/types.js";
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
} from "../study/design.js";
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
} from "../study/matrix.js";
export type { FileStamp, CacheStats } from "../gate/cache.js";
export {
  verifyJobs,
  planStudy,
  type CheckFileFn,
  type VerifyOptions,
  type VerifyResult,
  type VerifyStats,
  type BlockedEntry,
  type PlanStudyOptions,
  type PlanStudyResult,
} from "../gate/preflight.js";
export {
  runHandoff,
  resumeDecision,
  DEFAULT_CHECK_SETTINGS,
  type HandoffPlan,
  type HandoffOptions,
  type HandoffResult,
  type HandoffJobResult,
  type ResumeDecision,
} from "../handoff/handoff.js";
export { HandoffError, isHandoffError, type HandoffErrorCode } from "../handoff/errors.js";
export { RunLock, readLockHolder, RUN_LOCK_NAME, type LockHolder } from "../handoff/lock.js";
export type { InputIdentity } from "../handoff/inputs.js";
export type { Executor, ExecutorName, HandoffJob, JobOutcome, OutcomeStatus } from "../handoff/executor.js";
export { LocalExecutor, type LocalExecutorOptions } from "../handoff/local-executor.js";
export { SlurmExecutor, refreshSlurmRecord, type SlurmExecutorOptions } from "../handoff/slurm-executor.js";
export { SlurmError, isSlurmError, type SlurmErrorCode } from "../handoff/slurm.js";
export { collectEvidence, type Evidence } from "../handoff/evidence.js";
export {
  readRunRecord,
  runRecordPath,
  RUN_RECORD_NAME,
  type RunRecord,
  type RunRecordEntry,
  type RunStatus,
  type CheckSettings,
  type SkippedRecord,
  type BlockedRecord,
} from "../handoff/run-record.js";
export { buildTrainerCommand, type TrainerCommand, type TrainerCommandInput } from "../handoff/trainer-command.js";
export { synthesizeStudy, type SynthOptions, type SynthResult } from "../synth/synth.js";
