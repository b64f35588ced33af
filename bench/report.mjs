// Bench section for `npzguard report` (issue 13), called from bench/run.mjs for case A: the
// report of the study-sized archive (stored and deflated), whole-process wall time and peak RSS,
// beside bench/ref_report.py, a NumPy script doing what a notebook does to look at the same file
// (np.load + per-frame totals, mean pattern, three frames, probe/object; no CRC, no page).
import { rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";

/**
 * ctx: { files: {stored, deflated}, cli, env (the default build's, like A3), bench, measureProcess, fmtSeconds, fmtRatio, rows, results, log }
 * Adds rows A8-report-<kind> and results.cases.A.report_<kind>.
 */
export function benchReport(ctx) {
  const { files, cli, env, bench, measureProcess, fmtSeconds, fmtRatio, rows, results, log } = ctx;
  log("A8 npzguard report FILE --out page.html (whole process) vs numpy notebook-style look");
  for (const kind of ["stored", "deflated"]) {
    const out = path.join(os.tmpdir(), `npzguard-bench-report-${process.pid}-${kind}.html`);
    const ours = measureProcess(`ours ${kind}`, cli, ["report", files[kind], "--out", out], { okCodes: [0, 1], env });
    const pageBytes = statSync(out).size;
    rmSync(out, { force: true });
    const np = measureProcess(`numpy ${kind}`, "python3", [path.join(bench, "ref_report.py"), files[kind]]);
    const fileMB = statSync(files[kind]).size / 2 ** 20;
    results.cases.A[`report_${kind}`] = {
      ours: { seconds: ours.seconds, peakRssMB: ours.peakRssMB, runs: ours.runs, exitCode: ours.exitCode, pageBytes },
      numpy: { seconds: np.seconds, peakRssMB: np.peakRssMB, runs: np.runs },
      fileMB,
    };
    rows.push({
      id: `A8-${kind}`,
      label: `A8 report of the ${fileMB.toFixed(0)} MB ${kind} archive (page ${(pageBytes / 1024).toFixed(0)} KiB)`,
      ours: `${fmtSeconds(ours.seconds)} / ${ours.peakRssMB.toFixed(0)} MB`,
      numpy: `${fmtSeconds(np.seconds)} / ${np.peakRssMB.toFixed(0)} MB`,
      jszip: "-",
      vsNumpy: fmtRatio(np.seconds / ours.seconds),
      vsJszip: "-",
      target: "few s, RSS << file",
      met: "-",
    });
  }
}
