// Study types (study-fly64-dose-overlap.md §4, §8). Field names mirror the reference manifest.
import type { Violation } from "../contract/types.js";

export type View = "baseline" | "dense" | "sparse";
export type Backend = "tensorflow" | "pytorch";

export interface TrainingJob {
  dose: number;
  view: View;
  gridsize: 1 | 2;
  trainDataPath: string;
  testDataPath: string;
  artifactDir: string;
  logPath: string;
}

export interface SkippedView {
  dose: number;
  view: View;
  reason: string;
}

/** A job with its pre-flight verdict. */
export interface VerifiedJob extends TrainingJob {
  verified: boolean;
  violations: Violation[];
}
