// Study form of `npzguard report`: the pre-flight of every Phase E job (planStudy, exactly as
// `npzguard plan` runs it), rendered as the dose x view matrix with each job's state (verified;
// blocked with the file and rules; skipped with the reason; plus the hand-off state from
// <A>/npzguard_runs.json when a run record exists), each cell linking to the section of the
// files it reads; then one section per distinct file (see html.ts).
import { existsSync } from "node:fs";
import type { Report } from "../contract/types.js";
import { planStudy, type PlanStudyOptions, type PlanStudyResult } from "../gate/preflight.js";
import { readRunRecord, type RunRecord } from "../handoff/run-record.js";
import { jobId } from "../handoff/trainer-command.js";
import { escapeControls, escapeHtml } from "./format.js";
import { fileSection, page, type HtmlReportOptions } from "./html.js";

export interface StudyReportResult {
  html: string;
  plan: PlanStudyResult;
  record: RunRecord | null;
  /** Reports of the files drawn, by path. */
  reports: Report[];
}

function doseLabel(d: number): string {
  return Number.isInteger(d) ? d.toExponential(0).replace("+", "") : String(d);
}

export async function renderStudyReport(plan: PlanStudyOptions, options: HtmlReportOptions = {}): Promise<StudyReportResult> {
  const r = await planStudy(plan);
  let record: RunRecord | null = null;
  let recordProblem = "";
  try {
    record = await readRunRecord(plan.artifactRoot);
  } catch (e) {
    recordProblem = e instanceof Error ? e.message : String(e);
  }
  // Files: every input a selected job reads that exists, in job order.
  const files: string[] = [];
  for (const j of r.jobs) for (const p of [j.trainDataPath, j.testDataPath]) if (!files.includes(p) && existsSync(p)) files.push(p);
  for (const b of r.blocked) if (!files.includes(b.path) && existsSync(b.path)) files.push(b.path);
  const idOf = new Map(files.map((f, i) => [f, `file-${i}`]));
  const link = (p: string) => (idOf.has(p) ? `<a href="#${idOf.get(p)}">${escapeHtml(escapeControls(p))}</a>` : escapeHtml(escapeControls(p)));

  const doses = [...new Set([...r.jobs.map((j) => j.dose), ...r.skipped.map((s) => s.dose)])].sort((a, b) => a - b);
  const columns: { view: string; gridsize: number }[] = [];
  for (const j of r.jobs) if (!columns.some((c) => c.view === j.view && c.gridsize === j.gridsize)) columns.push({ view: j.view, gridsize: j.gridsize });
  for (const s of r.skipped) if (!columns.some((c) => c.view === s.view)) columns.push({ view: s.view, gridsize: 0 });
  const cell = (dose: number, view: string, gs: number): string => {
    const job = r.jobs.find((j) => j.dose === dose && j.view === view && j.gridsize === gs);
    if (!job) {
      const sk = r.skipped.find((s) => s.dose === dose && s.view === view);
      return sk ? `<td class="st-skipped"><b>skipped</b><br><small>${escapeHtml(sk.reason)}</small></td>` : "<td>–</td>";
    }
    const rec = record?.jobs.find((e) => e.id === jobId(job));
    const recText = rec ? `<br><small>run record: <b>${escapeHtml(rec.status)}</b></small>` : "";
    const inputs = `<br><small>${link(job.trainDataPath)}<br>${link(job.testDataPath)}</small>`;
    if (!r.verifiedRun) return `<td class="st-planned"><b>planned</b>${inputs}${recText}</td>`;
    if (job.verified) return `<td class="st-verified"><b>verified</b>${inputs}${recText}</td>`;
    const blocks = r.blocked.filter((b) => b.dose === dose && b.view === view && b.gridsize === gs);
    const why = blocks
      .map(
        (b) =>
          `${link(b.path)}: ${[...new Set(b.violations.filter((v) => v.severity === "error").map((v) => v.rule))].map((x) => `<code>${escapeHtml(x)}</code>`).join(", ")}`,
      )
      .join("<br>");
    return `<td class="st-blocked"><b>blocked</b><br><small>${why}</small>${recText}</td>`;
  };
  const head = `<tr><th>dose</th>${columns.map((c) => `<th>${escapeHtml(c.view)}${c.gridsize ? ` gs${c.gridsize}` : ""}</th>`).join("")}</tr>`;
  const body = doses.map((d) => `<tr><th>${escapeHtml(doseLabel(d))}</th>${columns.map((c) => cell(d, c.view, c.gridsize)).join("")}</tr>`).join("");
  const nVerified = r.jobs.filter((j) => j.verified).length;
  let html = `<h2>Study</h2><p>Phase C <code>${escapeHtml(plan.phaseCRoot)}</code>, Phase D <code>${escapeHtml(plan.phaseDRoot)}</code>, artifacts <code>${escapeHtml(plan.artifactRoot)}</code></p>`;
  html += `<p>${r.jobs.length} job(s): ${nVerified} verified, ${r.jobs.length - nVerified} blocked, ${r.skipped.length} view(s) skipped${record ? `; run record updated ${escapeHtml(record.updated)}` : "; no run record"}${recordProblem ? `; run record unreadable: ${escapeHtml(recordProblem)}` : ""}</p>`;
  html += `<table class="matrix"><thead>${head}</thead><tbody>${body}</tbody></table>`;
  const reports: Report[] = [];
  for (const f of files) {
    const s = await fileSection(f, idOf.get(f)!, options, r.reports[f]);
    reports.push(s.report);
    html += s.html;
  }
  return { html: page("npzguard study report", html), plan: r, record, reports };
}
