// JUnit XML: one <testsuite> per file, one <testcase> per rule evaluated in the profile (a
// <failure> for error findings, warnings/info in <system-out>, value rules not evaluated as
// <skipped/>).
import { RULES, RULE_IDS } from "../rules.js";
import type { Report } from "../types.js";

// XML 1.0 forbids most C0 controls even as character references.
// eslint-disable-next-line no-control-regex
const INVALID_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

export function xmlEscape(s: string): string {
  return s.replace(INVALID_XML, "\uFFFD").replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");
}

export function formatJunit(reports: readonly Report[]): string {
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  let tests = 0;
  let failures = 0;
  const suites: string[] = [];
  for (const r of reports) {
    const cases: string[] = [];
    let suiteFailures = 0;
    let skipped = 0;
    const rules = r.readError ? [...new Set(r.violations.map((v) => v.rule))] : RULE_IDS.filter((id) => RULES[id]?.severity[r.profile] != null);
    for (const id of rules) {
      const found = r.violations.filter((v) => v.rule === id);
      const errors = found.filter((v) => v.severity === "error");
      const rest = found.filter((v) => v.severity !== "error");
      const attrs = `name="${xmlEscape(id)}" classname="${xmlEscape(r.path)}"`;
      const body: string[] = [];
      if (errors.length) {
        suiteFailures++;
        const text = errors.map((v) => (v.key ? `[${v.key}] ` : "") + v.message + (v.hint ? `\nhint: ${v.hint}` : "")).join("\n");
        body.push(`      <failure message="${xmlEscape(errors[0]!.message)}" type="${xmlEscape(id)}">${xmlEscape(text)}</failure>`);
      } else if (r.notEvaluated.includes(id)) {
        skipped++;
        body.push(`      <skipped message="not evaluated (${xmlEscape(r.mode)} mode)"/>`);
      }
      if (rest.length) {
        body.push(`      <system-out>${xmlEscape(rest.map((v) => `${v.severity}: ${v.key ? `[${v.key}] ` : ""}${v.message}`).join("\n"))}</system-out>`);
      }
      cases.push(body.length ? `    <testcase ${attrs}>\n${body.join("\n")}\n    </testcase>` : `    <testcase ${attrs}/>`);
    }
    tests += rules.length;
    failures += suiteFailures;
    suites.push(
      `  <testsuite name="${xmlEscape(r.path)}" tests="${rules.length}" failures="${suiteFailures}" errors="0" skipped="${skipped}" time="${(r.durationMs / 1000).toFixed(3)}">\n` +
        `    <properties>\n      <property name="profile" value="${xmlEscape(r.profile)}"/>\n      <property name="referenceVerdict" value="${xmlEscape(r.referenceVerdict.status === "fail" ? (r.referenceVerdict.error ?? "fail") : r.referenceVerdict.status)}"/>\n    </properties>\n` +
        cases.join("\n") +
        "\n  </testsuite>",
    );
  }
  out.push(`<testsuites name="npzguard check" tests="${tests}" failures="${failures}">`);
  out.push(...suites);
  out.push("</testsuites>");
  return out.join("\n") + "\n";
}
