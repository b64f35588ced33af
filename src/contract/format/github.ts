// GitHub Actions workflow commands: `::error file=<path>,title=<rule>::<message>` (warnings as
// `::warning`); info findings are not annotated. Escaping follows GitHub's rules: data escapes
// % \r \n; property values additionally escape : and ,.
import type { Report } from "../types.js";

export function escapeData(s: string): string {
  return s.replace(/%/g, "%25").replace(/\r/g, "%0D").replace(/\n/g, "%0A");
}

export function escapeProperty(s: string): string {
  return escapeData(s).replace(/:/g, "%3A").replace(/,/g, "%2C");
}

export function formatGithub(reports: readonly Report[]): string {
  const lines: string[] = [];
  for (const r of reports) {
    for (const v of r.violations) {
      if (v.severity === "info") continue;
      const cmd = v.severity === "error" ? "error" : "warning";
      const msg = (v.key ? `[${v.key}] ` : "") + v.message + (v.hint ? `\nhint: ${v.hint}` : "");
      lines.push(`::${cmd} file=${escapeProperty(r.path)},title=${escapeProperty(v.rule)}::${escapeData(msg)}`);
    }
    if (r.referenceVerdict.status === "not-evaluated") {
      const msg = `reference gate not evaluated (${r.referenceVerdict.reason ?? r.mode}); not evaluated: ${r.notEvaluated.join(", ")}`;
      lines.push(`::notice file=${escapeProperty(r.path)},title=${escapeProperty("reference gate")}::${escapeData(msg)}`);
    }
  }
  return lines.length ? lines.join("\n") + "\n" : "";
}
