// A finding before the profile's severity is applied: engine.ts turns drafts into Violations.
import type { FrameRef, Profile, Severity } from "./types.js";
import { ruleSeverity, type RuleId } from "./rules.js";

export interface Draft {
  rule: RuleId;
  key: string | null;
  message: string;
  hint?: string;
  frames?: FrameRef;
  /** Case-specific severity per profile; default: the rule's table entry. null = drop. */
  severity?: Partial<Record<Profile, Severity | null>> | Severity;
}

export function severityOf(d: Draft, profile: Profile): Severity | null {
  if (typeof d.severity === "string") return d.severity;
  if (d.severity && profile in d.severity) return d.severity[profile] ?? null;
  return ruleSeverity(d.rule, profile);
}
