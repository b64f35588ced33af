// The executor seam of the Phase E hand-off. An executor only launches trainer processes and
// reports when they start and exit; everything that decides what a job's outcome *means* lives
// outside it, in callbacks owned by handoff.ts:
//   beforeLaunch  – drift re-stat of the inputs right before the launch (may veto it)
//   onStart       – record the attempt as "running"
//   onExit        – collect the success evidence and rewrite the run record; returns the outcome
// so a local GPU pool and a Slurm backend share the plan, gate, evidence and record code.
import type { Evidence } from "./evidence.js";
import type { ExecutorName } from "./run-record.js";
import type { TrainerCommand } from "./trainer-command.js";
import type { TrainingJob } from "../study/types.js";

export type { ExecutorName } from "./run-record.js";

/** One verified job, ready to launch. */
export interface HandoffJob {
  /** `<view>_gs<g>_dose<int>`, unique within an artifact root. */
  id: string;
  job: TrainingJob;
  command: TrainerCommand;
  /** Working directory of the trainer (the PtychoPINN checkout). */
  cwd: string;
  /** `<A>/logs/phase_e_<view>_gs<g>_dose<int>.log`: header, then the trainer's stdout+stderr. */
  cliLogPath: string;
  /** `<A>/npzguard/attempts/<id>.state`: the local trainer wrapper writes `exit=<status>` there. */
  statePath: string;
}

export interface LaunchInfo {
  id: string;
  /** Wall clock at launch (ms since the epoch) and its ISO form. */
  startMs: number;
  start: string;
  /** GPU id given to the job through CUDA_VISIBLE_DEVICES, or null. */
  gpu: string | null;
  pid: number | null;
  /** Process group of the trainer (local executor: its own group, = pid). */
  pgid?: number | null;
  /** Host the trainer runs on (local executor). */
  host?: string | null;
  /** Kernel start time of the trainer process (/proc/<pid>/stat), to tell it from a reused pid. */
  startTicks?: number | null;
  /** Executor-specific handle, e.g. a Slurm job id. */
  externalId: string | null;
}

export interface ExitInfo extends LaunchInfo {
  endMs: number;
  end: string;
  /** Exit status, null when killed by a signal or never started. */
  exitCode: number | null;
  signal: string | null;
  /** Set when the process could not be started at all (ENOENT, EACCES, ...). */
  spawnError: string | null;
}

/** A veto: `cancel` means "not launched, nothing wrong with the job" (e.g. --max-failures reached). */
export type LaunchGate = { ok: true } | { ok: false; reasons: string[]; cancel?: boolean };

/** "submitted": handed to a batch system that runs it later (Slurm --detach); not yet judged. */
/** "interrupted": npzguard was asked to stop (SIGINT/SIGTERM) and stopped the running trainer. */
export type OutcomeStatus = "success" | "failed" | "blocked" | "cancelled" | "submitted" | "interrupted";

/** A job accepted by a batch system (Slurm) that has not started yet. */
export interface SubmitInfo {
  /** Batch-system handle of the job, e.g. `<array job id>_<task>`. */
  externalId: string;
  /** The batch script that runs it. */
  script: string;
  /** True when npzguard will not monitor the job (--detach). */
  detached: boolean;
}

export interface JobOutcome {
  id: string;
  job: TrainingJob;
  status: OutcomeStatus;
  reasons: string[];
  exit: ExitInfo | null;
  evidence: Evidence | null;
}

export interface ExecutionContext {
  /** Right before launching: a veto (e.g. input drift) means the job is not launched. */
  beforeLaunch(job: HandoffJob): Promise<LaunchGate>;
  /** The process has started. */
  onStart(job: HandoffJob, info: LaunchInfo): Promise<void>;
  /** A vetoed job (never launched); returns its outcome. */
  onBlocked(job: HandoffJob, reasons: string[]): Promise<JobOutcome>;
  /** The process has exited (or failed to start); returns the job's final outcome. */
  onExit(job: HandoffJob, info: ExitInfo): Promise<JobOutcome>;
  /** Batch executors: the job was queued (record it as pending). */
  onSubmitted?(job: HandoffJob, info: SubmitInfo): Promise<void>;
  /** Batch executors: the job was cancelled (queued or running); `info` is null if it never started. */
  onCancelled?(job: HandoffJob, info: ExitInfo | null, reason: string): Promise<JobOutcome>;
  /** The trainer was stopped because the run was aborted (the signal's reason says why). */
  onInterrupted?(job: HandoffJob, info: ExitInfo, reason: string): Promise<JobOutcome>;
  /** Aborting stops new launches and terminates running trainers (their whole process groups). */
  signal?: AbortSignal;
}

export interface Executor {
  readonly name: ExecutorName;
  /** Runs every job once; resolves with one outcome per job, in input order. */
  execute(jobs: HandoffJob[], ctx: ExecutionContext): Promise<JobOutcome[]>;
}

export const EXECUTOR_NAMES: readonly ExecutorName[] = ["local", "slurm"];

/** Outcome for a job an aborted run never launched. */
export function cancelledOutcome(job: HandoffJob): JobOutcome {
  return { id: job.id, job: job.job, status: "cancelled", reasons: ["run aborted before launch"], exit: null, evidence: null };
}
