// Human output: one block per file, errors first (the report order), each finding with its hint
// and, for a value finding that points at frames, a line naming them. Info findings are counted on
// one line unless `verbose`, except those that point at frames (a zero-energy frame is data the
// user needs to see, not a note).
import type { Report, Violation } from "../types.js";

const LABEL: Record<Violation["severity"], string> = { error: "error  ", warning: "warning", info: "info   " };

/** Keeps a finding on one line: control characters become visible escapes. */
function oneLine(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001F\u007F]/g, (c) =>
    c === "\n" ? "\\n" : c === "\r" ? "\\r" : c === "\t" ? "\\t" : `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
}

function count(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function verdictText(v: Report["referenceVerdict"]): string {
  switch (v.status) {
    case "pass":
      return "pass";
    case "fail":
      return `fail (${oneLine(v.error ?? "")})`;
    case "not-evaluated":
      return `not evaluated (${oneLine(v.reason ?? "")})`;
  }
}

/** Options of the human formatter (the `check` CLI passes them; defaults keep older callers' output short). */
export interface TextFormatOptions {
  /** Print info findings too (default false: they are counted on one line instead, except those with `frames`). */
  verbose?: boolean;
  /** Extra lines under a finding (e.g. the frames a value finding points at). */
  notes?: ReadonlyMap<Violation, readonly string[]>;
}

/**
 * "frames: diffraction: 100 non-finite values in 1 frame: 17": the frames a value finding points
 * at, for findings whose message does not name them already (the zero-energy finding does).
 */
export function framesNote(v: Violation): string | null {
  const f = v.frames;
  if (!f || v.rule === "data001/diffraction-nonzero") return null;
  const list = f.first.join(", ") + (f.total > f.first.length ? ", ..." : "");
  const what = v.rule === "data001/diffraction-nonnegative" ? "negative" : "non-finite";
  return `frames: ${v.key}: ${f.values} ${what} value${f.values === 1 ? "" : "s"} in ${count(f.total, "frame")}: ${list}`;
}

export function formatReportText(r: Report, options: TextFormatOptions = {}): string {
  const errors = r.violations.filter((v) => v.severity === "error").length;
  const warnings = r.violations.filter((v) => v.severity === "warning").length;
  const lines: string[] = [];
  const status = r.readError ? "UNREADABLE" : r.ok ? "PASS" : "FAIL";
  lines.push(`${status} ${oneLine(r.path)}  (profile ${r.profile}, ${r.mode} scan: ${count(errors, "error")}, ${count(warnings, "warning")})`);
  // Repeated findings (same severity, rule and message) are printed once, with their keys.
  const groups = new Map<string, { v: Violation; keys: string[] }>();
  let hidden = 0;
  for (const v of r.violations) {
    if (v.severity === "info" && !options.verbose && !v.frames) {
      hidden++;
      continue;
    }
    const id = `${v.severity}\u0000${v.rule}\u0000${v.message}\u0000${v.hint ?? ""}`;
    const g = groups.get(id);
    if (g) {
      if (v.key) g.keys.push(v.key);
    } else {
      groups.set(id, { v, keys: v.key ? [v.key] : [] });
    }
  }
  for (const { v, keys } of groups.values()) {
    lines.push(`  ${LABEL[v.severity]} ${v.rule}${keys.length ? ` [${keys.map(oneLine).join(", ")}]` : ""}: ${oneLine(v.message)}`);
    const note = framesNote(v);
    const notes = options.notes?.get(v) ?? (note ? [note] : []);
    for (const n of notes) lines.push(`          ${oneLine(n)}`);
    if (v.hint) lines.push(`          hint: ${oneLine(v.hint)}`);
  }
  if (hidden) lines.push(`  (${count(hidden, "info note")} not shown; --verbose shows them)`);
  lines.push(`  reference gate: ${verdictText(r.referenceVerdict)}`);
  if (r.notEvaluated.length) lines.push(`  not evaluated: ${r.notEvaluated.join(", ")}`);
  if (!r.readError && r.mode === "full" && /\.npy$/i.test(r.path)) {
    lines.push("  CRC: none (plain .npy file)");
  } else if (!r.readError && r.mode === "full") {
    const bad = r.members.filter((m) => !m.crcVerified).map((m) => m.key);
    lines.push(bad.length ? `  CRC verified: all but ${bad.join(", ")}` : `  CRC verified: all ${r.members.length} members`);
  }
  return lines.join("\n");
}

export function formatText(reports: readonly Report[], options: TextFormatOptions = {}): string {
  const blocks = reports.map((r) => formatReportText(r, options));
  const failed = reports.filter((r) => !r.ok).length;
  const summary = `${count(reports.length, "file")} checked: ${reports.length - failed} passed, ${failed} failed`;
  return [...blocks, summary].join("\n\n") + "\n";
}
