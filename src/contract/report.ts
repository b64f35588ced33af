// Every Report is built here: from the engine's result over a file's facts, or, when the file
// cannot be opened (or its check failed outright), from the error alone. checkFile and the
// pre-flight gate both use these, so an unreadable file looks the same wherever it is reported.
import { statSync } from "node:fs";
import { isNpzError } from "../errors.js";
import type { NpzFile } from "../npz.js";
import { containerErrorResult, type CodedError, type EngineResult, type MemberFacts } from "./engine.js";
import { VALUE_RULE_IDS } from "./rules.js";
import type { CheckOptions, MemberReport, Report } from "./types.js";

/** Header mode cannot evaluate these: the value rules and the CRC check (npz/integrity). */
export const HEADER_MODE_NOT_EVALUATED: readonly string[] = ["npz/integrity", ...VALUE_RULE_IDS];
const HEADER_MODE_REASON = "headers only: member CRC-32s and array values were not read";

/**
 * Milliseconds from an arbitrary origin, monotonic, sub-millisecond (report durations). Not
 * `performance.now()`: the first use of the `performance` global loads ~10 built-in modules
 * (perf_hooks), a measurable part of a short CLI run.
 */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** The error as the engine sees it: its ERR_* code (ERR_NPZ_OPEN when it has none) and message. */
export function codedError(err: unknown): CodedError {
  const code = (err as { code?: unknown } | null)?.code;
  return { code: typeof code === "string" ? code : "ERR_NPZ_OPEN", message: err instanceof Error ? err.message : String(err) };
}

/** The report of a file that could not be read at all (open failed, or its check threw). */
export function errorReport(path: string, options: CheckOptions, err: unknown, startedMs = nowMs()): Report {
  const e = codedError(err);
  let st = { size: 0, mtimeMs: 0, ino: 0 };
  try {
    st = statSync(path);
  } catch {
    /* missing file: digest stays zero */
  }
  const res = containerErrorResult(e, path, options);
  const member = isNpzError(err) ? err.member : undefined;
  return {
    path,
    ok: !res.violations.some((v) => v.severity === "error"),
    profile: options.profile ?? "study",
    mode: options.mode ?? "full",
    referenceVerdict: res.referenceVerdict,
    violations: res.violations,
    notEvaluated: [...VALUE_RULE_IDS],
    members: [],
    stats: {},
    readError: { code: e.code, message: e.message, ...(member ? { member } : {}) },
    digest: { size: st.size, mtimeMs: st.mtimeMs, inode: st.ino, members: [] },
    durationMs: nowMs() - startedMs,
  };
}

/** The report of a file the engine evaluated. */
export function fileReport(path: string, options: CheckOptions, file: NpzFile, facts: MemberFacts[], res: EngineResult, startedMs: number): Report {
  const mode = options.mode ?? "full";
  const notEvaluated = new Set(res.notEvaluated);
  const members: MemberReport[] = [];
  const stats: Record<string, Report["stats"][string]> = {};
  for (const f of facts) {
    const h = f.info.header;
    members.push({
      key: f.info.key,
      descr: h?.descr ?? null,
      shape: h ? [...h.shape] : null,
      compression: f.info.compression,
      crcVerified: f.crcVerified,
      stats: f.stats,
    });
    if (!(f.info.key in stats)) stats[f.info.key] = f.stats;
  }
  if (mode === "header") for (const id of HEADER_MODE_NOT_EVALUATED) notEvaluated.add(id);
  return {
    path,
    ok: !res.violations.some((v) => v.severity === "error"),
    profile: options.profile ?? "study",
    mode,
    // The reference gate loads every array (CRC-checked by zipfile): from headers alone its
    // verdict is unknown, even where the headers already show a failure of our own rules.
    referenceVerdict: mode === "header" ? { status: "not-evaluated", reason: HEADER_MODE_REASON } : res.referenceVerdict,
    violations: res.violations,
    notEvaluated: HEADER_MODE_NOT_EVALUATED.filter((id) => notEvaluated.has(id)),
    members,
    stats,
    ...(res.metadata !== undefined ? { metadata: res.metadata } : {}),
    digest: {
      size: file.fileSize,
      mtimeMs: file.mtimeMs,
      inode: file.inode,
      members: facts.map((f) => ({ key: f.info.key, crc32: f.info.crc32, usize: f.info.uncompressedSize })),
    },
    durationMs: nowMs() - startedMs,
  };
}
