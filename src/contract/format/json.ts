// `--json` / `--format json`: {"ok", "files": [{path, ok, profile, violations, stats, referenceVerdict, ...}]}.
import type { FrameRef, Report } from "../types.js";

export interface JsonFileReport {
  path: string;
  ok: boolean;
  profile: Report["profile"];
  mode: Report["mode"];
  violations: {
    rule: string;
    severity: string;
    key: string | null;
    message: string;
    finding: string | null;
    hint?: string;
    /** Value findings on a per-frame stack: the frames they point at. */
    frames?: FrameRef;
  }[];
  stats: Report["stats"];
  referenceVerdict: Report["referenceVerdict"];
  notEvaluated: string[];
  crcVerified: Record<string, boolean>;
  readError?: Report["readError"];
  metadata?: unknown;
}

export interface JsonOutput {
  ok: boolean;
  files: JsonFileReport[];
}

export function toJsonOutput(reports: readonly Report[]): JsonOutput {
  return {
    ok: reports.every((r) => r.ok),
    files: reports.map((r) => ({
      path: r.path,
      ok: r.ok,
      profile: r.profile,
      mode: r.mode,
      violations: r.violations.map((v) => ({
        rule: v.rule,
        severity: v.severity,
        key: v.key,
        message: v.message,
        finding: v.finding,
        ...(v.hint ? { hint: v.hint } : {}),
        ...(v.frames ? { frames: v.frames } : {}),
      })),
      stats: r.stats,
      referenceVerdict: r.referenceVerdict,
      notEvaluated: r.notEvaluated,
      crcVerified: Object.fromEntries(r.members.map((m) => [m.key, m.crcVerified])),
      ...(r.readError ? { readError: r.readError } : {}),
      ...(r.metadata !== undefined ? { metadata: r.metadata } : {}),
    })),
  };
}

export function formatJson(reports: readonly Report[]): string {
  return JSON.stringify(toJsonOutput(reports), null, 2) + "\n";
}
