// Report types of the DATA-001 contract engine (data-001.md). Contract violations are data,
// never exceptions.
import type { ArrayStats } from "../types.js";

export type Profile = "reference" | "study" | "tensorflow" | "pytorch";
export type Severity = "error" | "warning" | "info";
export type Role = "phase-c" | "phase-d" | "generic";
export type ScanMode = "header" | "full";

export interface CheckOptions {
  profile?: Profile; // default "study"
  gridsize?: number; // default 1
  neighborCount?: number; // default undefined: OVERSAMPLING check skipped (as the Python gate)
  nGroups?: number; // default 512
  enableOversampling?: boolean;
  view?: string; // accepted and ignored, like the reference
  role?: Role; // default "generic"; --phase-c => "phase-c"
  dose?: number; // for _metadata cross-checks (nphotons)
  supervised?: boolean;
  mode?: ScanMode; // default "full"
  strict?: boolean;
  signal?: AbortSignal;
  /**
   * Max files/members scanned in parallel (default: `threads`, at most 4, which keeps a check's
   * peak RSS under 256 MB; a larger value may use more memory).
   */
  concurrency?: number;
  /**
   * CPU threads to use (an integer from 1 to 1024): the default of `concurrency`, and how many
   * threads one large member's scan may be split over. Reports do not depend on it. Default: the
   * CPUs this process may use (affinity mask and cgroup CPU quota; `buildInfo().threads`).
   */
  threads?: number;
  /** Inflate budget per file (see OpenOptions.maxInflateBytes; default 1 TiB). */
  maxInflateBytes?: number;
}

export interface Violation {
  rule: string; // stable id, e.g. "data001/required-keys"
  severity: Severity;
  key: string | null; // member key concerned, if any
  message: string;
  finding: string | null; // e.g. "DATA-001"
  hint?: string;
  /** For a value finding on a per-frame stack (diffraction): the frames (first-axis rows) it concerns. */
  frames?: FrameRef;
}

/**
 * The frames (rows along the first axis of `Violation.key`) a value finding points at, from the
 * same streaming scan as the statistics: the first offending frames, the count of offending
 * values in each of them, and how many frames are affected in all.
 */
export interface FrameRef {
  /** Indices of the first offending frames, ascending (at most 8). */
  first: number[];
  /** Offending values in each frame of `first` (for a zero-energy frame: all its values). */
  counts: number[];
  /** Frames affected in all. */
  total: number;
  /** Offending values over all affected frames. */
  values: number;
}

export interface MemberReport {
  key: string;
  descr: string | null;
  shape: number[] | null;
  compression: "stored" | "deflated";
  crcVerified: boolean;
  stats: ArrayStats | null;
}

export interface ReferenceVerdict {
  /**
   * What PtychoPINN's own gate would say. "not-evaluated" with `--headers-only` (mode "header"):
   * that gate loads every array, so its verdict depends on CRC-32s and values that were not read.
   */
  status: "pass" | "fail" | "not-evaluated";
  error?: string; // "Dataset validation failed: <Type>: <msg>" (status "fail")
  reason?: string; // why it was not evaluated (status "not-evaluated")
}

export interface Report {
  path: string;
  ok: boolean; // no error-severity violation
  profile: Profile;
  mode: ScanMode;
  referenceVerdict: ReferenceVerdict;
  violations: Violation[]; // errors first
  notEvaluated: string[]; // rules not evaluated: in header mode npz/integrity (CRC-32) and the value rules
  members: MemberReport[];
  /** Per-member stats keyed by member key (also in members[]). */
  stats: Record<string, ArrayStats | null>;
  /** Parsed `_metadata` JSON when present and valid. */
  metadata?: unknown;
  /** Set when the file could not be read at all (exit code 3 in the CLI). */
  readError?: { code: string; message: string; member?: string };
  /** Digest for caches: file size, mtime, inode and per-member CRC/sizes. */
  digest: { size: number; mtimeMs: number; inode: number; members: { key: string; crc32: number; usize: number }[] };
  durationMs: number;
}
