// Human output: one block per file, errors first (the report order), each finding with its hint.
import type { Report, Violation } from "../types.js";

const LABEL: Record<Violation["severity"], string> = { error: "error  ", warning: "warning", info: "info   " };

/** Keeps a finding on one line: control characters become visible escapes. */
function oneLine(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001F\u007F]/g, (c) => (c === "\n" ? "\\n" : c === "\r" ? "\\r" : c === "\t" ? "\\t" : `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`));
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

export function formatReportText(r: Report): string {
  const errors = r.violations.filter((v) => v.severity === "error").length;
  const warnings = r.violations.filter((v) => v.severity === "warning").length;
  const lines: string[] = [];
  const status = r.readError ? "UNREADABLE" : r.ok ? "PASS" : "FAIL";
  lines.push(`${status} ${oneLine(r.path)}  (profile ${r.profile}, ${r.mode} scan: ${count(errors, "error")}, ${count(warnings, "warning")})`);
  for (const v of r.violations) {
    lines.push(`  ${LABEL[v.severity]} ${v.rule}${v.key ? ` [${oneLine(v.key)}]` : ""}: ${oneLine(v.message)}`);
    if (v.hint) lines.push(`          hint: ${oneLine(v.hint)}`);
  }
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

export function formatText(reports: readonly Report[]): string {
  const blocks = reports.map(formatReportText);
  const failed = reports.filter((r) => !r.ok).length;
  const summary = `${count(reports.length, "file")} checked: ${reports.length - failed} passed, ${failed} failed`;
  return [...blocks, summary].join("\n\n") + "\n";
}
