// Bench case F (`npzguard fix` and `npzguard repack` on a 1 GB study file), side by side with
// the numpy equivalent, whole processes (time + peak RSS). Kept in its own file and called from
// run.mjs with the helpers it needs, so the rest of the bench stays independent of it.
//
// Input: bench case A's study archive, broken by gen_fix_data.py (legacy (H, W, M) diffraction,
// complex128 probe, no *_start), stored and deflated. Rows:
//   F fix stored / deflated      `npzguard fix IN --out OUT --json` vs ref_fix_numpy.py fix
//   F repack stored / deflated   `npzguard repack IN --out OUT --json` (members copied raw,
//                                STORED ones aligned to 64) vs ref_fix_numpy.py rewrite
// Target: peak RSS <= 256 MB for npzguard (the bound for a 1 GB file).
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";

/**
 * @param {object} ctx  { bench, data, cli, caseAStored, quick, runs, measureProcess, runChecked,
 *                        sha256, log, problem, judge, fmtSeconds, fmtRss, fmtRatio, rel }
 * @returns {{ rows: object[], result: object }}
 */
export function benchFix(ctx) {
  const { bench, data, cli, caseAStored, measureProcess, runChecked, sha256, log, problem, judge, fmtSeconds, fmtRss, fmtRatio, rel } = ctx;
  const dir = path.join(data, `F-${path.basename(path.dirname(caseAStored))}`);
  const stampFile = path.join(dir, "params.json");
  const stamp = JSON.stringify({ source: sha256(caseAStored), generator: sha256(path.join(bench, "gen_fix_data.py")) });
  const files = { stored: path.join(dir, "fix_stored.npz"), deflated: path.join(dir, "fix_deflated.npz") };
  if (!(existsSync(stampFile) && readFileSync(stampFile, "utf8") === stamp && existsSync(files.stored) && existsSync(files.deflated))) {
    log(`generating case F data in ${rel(dir)} (python3 + numpy)...`);
    rmSync(stampFile, { force: true });
    mkdirSync(dir, { recursive: true });
    const r = runChecked("python3", [path.join(bench, "gen_fix_data.py"), caseAStored, dir]);
    log(`  ${r.stdout.trim()}`);
    writeFileSync(stampFile, stamp);
  } else {
    log(`reusing case F data in ${rel(dir)}`);
  }
  const outDir = path.join(dir, "out");
  mkdirSync(outDir, { recursive: true });
  const rows = [];
  const result = { files: {}, fix: {}, repack: {} };
  for (const kind of ["stored", "deflated"]) {
    const input = files[kind];
    result.files[kind] = { path: rel(input), bytes: statSync(input).size };
    const before = sha256(input);

    // fix
    const ours = path.join(outDir, `fixed_${kind}.npz`);
    const ref = path.join(outDir, `numpy_fixed_${kind}.npz`);
    log(`F fix ${kind} (${(statSync(input).size / 2 ** 20).toFixed(0)} MB)`);
    const o = measureProcess(`ours fix ${kind}`, cli, ["fix", input, "--out", ours, "--force", "--json"], { runs: 1 });
    const doc = JSON.parse(o.stdout);
    const rules = doc.remedies.map((x) => x.rule);
    for (const want of ["data001/legacy-layout", "data001/complex-precision", "data001/coords-start"]) {
      if (!rules.includes(want)) problem(`F fix ${kind}: remedy ${want} not applied (${rules.join(", ")})`);
    }
    if (!doc.written || !doc.verdict?.ok) problem(`F fix ${kind}: OUT not written or failing its check (${doc.reason ?? ""})`);
    if (sha256(input) !== before) problem(`F fix ${kind}: IN changed`);
    rmSync(ref, { force: true });
    const n = measureProcess(`numpy fix ${kind}`, "python3", [path.join(bench, "ref_fix_numpy.py"), "fix", input, ref, kind], { runs: 1 });
    result.fix[kind] = { ours: { seconds: o.seconds, peakRssMB: o.peakRssMB, remedies: rules }, numpy: { seconds: n.seconds, peakRssMB: n.peakRssMB } };
    rows.push({
      id: `F-fix-${kind}`,
      label: `F fix 1 GB ${kind} (legacy transpose, c128->c64, *_start) + check of OUT`,
      ours: fmtSeconds(o.seconds) + fmtRss(o.peakRssMB),
      numpy: fmtSeconds(n.seconds) + fmtRss(n.peakRssMB),
      jszip: "-",
      vsNumpy: fmtRatio(n.seconds / o.seconds),
      vsJszip: "-",
      target: "RSS <= 256 MB",
      met: judge(o.peakRssMB <= 256),
    });
    rmSync(ref, { force: true });
    rmSync(ours, { force: true });

    // repack (raw copy, STORED members aligned)
    const rp = path.join(outDir, `repacked_${kind}.npz`);
    log(`F repack ${kind}`);
    const r = measureProcess(`ours repack ${kind}`, cli, ["repack", input, "--out", rp, "--force", "--json"], { runs: 1 });
    const rdoc = JSON.parse(r.stdout);
    if (!rdoc.verified) problem(`F repack ${kind}: not verified`);
    const misaligned = rdoc.members.filter((m) => m.aligned === false);
    if (misaligned.length) problem(`F repack ${kind}: misaligned ${misaligned.map((m) => m.key).join(", ")}`);
    if (kind === "stored" && rdoc.members.some((m) => m.compression === "stored" && m.aligned !== true && m.arrayOffset !== null))
      problem("F repack stored: a STORED member is not aligned");
    rmSync(ref, { force: true });
    const nr = measureProcess(`numpy rewrite ${kind}`, "python3", [path.join(bench, "ref_fix_numpy.py"), "rewrite", input, ref, kind], { runs: 1 });
    result.repack[kind] = {
      ours: { seconds: r.seconds, peakRssMB: r.peakRssMB, bytesOut: rdoc.bytesOut },
      numpy: { seconds: nr.seconds, peakRssMB: nr.peakRssMB },
    };
    rows.push({
      id: `F-repack-${kind}`,
      label: `F repack 1 GB ${kind} (align 64, raw copy, every CRC verified) vs numpy load + savez`,
      ours: fmtSeconds(r.seconds) + fmtRss(r.peakRssMB),
      numpy: fmtSeconds(nr.seconds) + fmtRss(nr.peakRssMB),
      jszip: "-",
      vsNumpy: fmtRatio(nr.seconds / r.seconds),
      vsJszip: "-",
      target: "RSS <= 256 MB",
      met: judge(r.peakRssMB <= 256),
    });
    rmSync(ref, { force: true });
    rmSync(rp, { force: true });
  }
  return { rows, result };
}
