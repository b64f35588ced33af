// The DATA-001 rule engine (data-001.md §4–§7): pure evaluation over facts gathered by check.ts
// (member list, NPY headers, member errors, scan results, `_metadata` strings). No I/O here, so
// the engine is deterministic and unit-testable.
import type { ArrayStats, MemberInfo, ObjectStrings } from "../types.js";
import type { Draft } from "./draft.js";
import { severityOf } from "./draft.js";
import { evaluateMetadata } from "./metadata.js";
import { referenceVerdict, failedVerdict } from "./reference.js";
import { RULES, type RuleId } from "./rules.js";
import { containerRules } from "./rules/container.js";
import { makeContext } from "./rules/context.js";
import { dtypeRules } from "./rules/dtypes.js";
import { keyRules } from "./rules/keys.js";
import { metadataRules } from "./rules/metadata.js";
import { shapeRules } from "./rules/shapes.js";
import { valueRules } from "./rules/values.js";
import type { CheckOptions, Profile, ReferenceVerdict, Severity, Violation } from "./types.js";

export interface CodedError {
  code: string;
  message: string;
}

/** Everything check.ts learned about one member. */
export interface MemberFacts {
  info: MemberInfo;
  /** Set when the member was read in full (scan). */
  scanned: boolean;
  crcVerified: boolean;
  /** Error found by the scan (CRC mismatch, truncation, ...). */
  scanError?: CodedError | null;
  stats: ArrayStats | null;
  /** For |O, <U, |S members read as strings (always for `_metadata`, and for every |O member). */
  strings?: ObjectStrings | null;
  stringsError?: CodedError | null;
}

export interface FileFacts {
  path: string;
  members: MemberFacts[];
}

export interface EngineResult {
  violations: Violation[];
  referenceVerdict: ReferenceVerdict;
  notEvaluated: string[];
  metadata?: unknown;
}

export { KNOWN_KEYS } from "./rules/context.js";

/** Member error codes NumPy loads anyway (they are findings, not load failures). */
const LOADABLE_CODES = new Set(["ERR_NPY_TRAILING_BYTES", "ERR_NPY_UNSUPPORTED_DTYPE", "ERR_NPY_BAD_MAGIC", "ERR_NPY_NON_NATIVE_ENDIAN", "ERR_NPY_MISALIGNED"]);

/** §6.1 mapping from a reader error code to the rule it violates. */
export function ruleForCode(code: string, memberLevel = true): RuleId {
  switch (code) {
    case "ERR_NPZ_DUPLICATE_MEMBER":
    case "ERR_NPZ_BAD_NAME":
      return "npz/member-names";
    case "ERR_NPZ_ENCRYPTED":
    case "ERR_NPZ_UNSUPPORTED_METHOD":
      return "npz/method";
    case "ERR_NPZ_CRC_MISMATCH":
    case "ERR_NPZ_SIZE_MISMATCH":
    case "ERR_NPZ_OVERLAP":
      return "npz/integrity";
    case "ERR_NPY_TRAILING_BYTES":
      return "npz/trailing-bytes";
    case "ERR_NPY_PICKLE_REFUSED":
      return "npz/pickle-refused";
    case "ERR_NPY_UNSUPPORTED_DTYPE":
      return "npz/unsupported-dtype";
    case "ERR_NPY_BAD_MAGIC":
      return memberLevel ? "npz/non-npy-member" : "npz/readable";
    case "ERR_NPY_BAD_VERSION":
    case "ERR_NPY_BAD_HEADER":
    case "ERR_NPY_TRUNCATED":
    case "ERR_NPY_LENGTH_OVERFLOW":
    case "ERR_NPY_HEADER_TOO_LARGE":
      return memberLevel ? "npz/member-format" : "npz/readable";
    default:
      return "npz/readable";
  }
}

/** Whether NumPy's loader (`dict(np.load(...))`) would fail on this member error. */
export function isLoadFailure(code: string): boolean {
  return !LOADABLE_CODES.has(code);
}

const SEVERITY_RANK: Record<Severity, number> = { error: 0, warning: 1, info: 2 };

/** Stable sort: errors first, then warnings, then info. */
export function sortViolations(v: Violation[]): Violation[] {
  return v
    .map((x, i) => [x, i] as const)
    .sort((a, b) => SEVERITY_RANK[a[0].severity] - SEVERITY_RANK[b[0].severity] || a[1] - b[1])
    .map(([x]) => x);
}

/** Turns drafts into violations for a profile (drops "—"), applying `strict`. */
export function resolveDrafts(drafts: Draft[], profile: Profile, strict = false): Violation[] {
  const out: Violation[] = [];
  for (const d of drafts) {
    let sev = severityOf(d, profile);
    if (sev === null) continue;
    if (strict && sev === "warning") sev = "error";
    const rule = RULES[d.rule];
    out.push({
      rule: d.rule,
      severity: sev,
      key: d.key,
      message: d.message,
      finding: rule?.finding ?? null,
      ...(d.hint ? { hint: d.hint } : {}),
      ...(d.frames ? { frames: d.frames } : {}),
    });
  }
  return sortViolations(out);
}

/** Violations for a file whose container could not be opened (§6.1). */
export function containerErrorResult(err: CodedError, path: string, options: CheckOptions = {}): EngineResult {
  const profile = options.profile ?? "study";
  const draft: Draft = { rule: ruleForCode(err.code, false), key: null, message: `${err.code}: ${err.message}` };
  if (draft.rule === "npz/trailing-bytes" || draft.rule === "npz/unsupported-dtype") draft.severity = "error";
  const drafts = [draft];
  if ((options.role ?? "generic") === "phase-c")
    drafts.push(
      ...evaluateMetadata({ path, role: "phase-c", strings: null, gridsize: options.gridsize ?? 1 }).drafts.filter(
        (d) => d.rule === "data001/phasec-provenance",
      ),
    );
  return {
    violations: resolveDrafts(drafts, profile, options.strict),
    referenceVerdict: failedVerdict(err.code, err.message),
    notEvaluated: [],
  };
}

export function evaluate(facts: FileFacts, options: CheckOptions = {}): EngineResult {
  const drafts: Draft[] = [];
  const ctx = makeContext(facts, options, (d) => drafts.push(d));
  containerRules(ctx);
  keyRules(ctx);
  dtypeRules(ctx);
  shapeRules(ctx);
  valueRules(ctx);
  const metadata = metadataRules(ctx);
  const verdict = referenceVerdict({
    values: ctx.refValues,
    loadError: ctx.loadError,
    gridsize: ctx.gridsize,
    neighborCount: options.neighborCount ?? null,
  });
  return {
    violations: resolveDrafts(drafts, ctx.profile, options.strict),
    referenceVerdict: verdict,
    notEvaluated: [...ctx.notEvaluated],
    ...(metadata !== undefined ? { metadata } : {}),
  };
}
