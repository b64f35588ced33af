// Thread scaling of the full check (`npm run bench`, case A; `--case T` runs only this): the
// whole CLI process `check FILE --profile study --json --threads N` on the study-sized stored
// and deflated archives, at 1, 2 and all usable CPUs where there are more, next to numpy's check
// of the same file (bench/ref_numpy.py: one thread, measured once per file in the same run).
// Per row: wall time / peak RSS, CPU time (user + system) and the cores that amounts to, numpy /
// npzguard, the speed-up over --threads 1, and throughput in GB/s of uncompressed member bytes,
// in total and per thread. The reports must agree at every thread count (same statistics, every
// CRC verified), else the bench lists a PROBLEM.

/** Thread counts to measure: 1, 2, and all usable CPUs (affinity mask / cgroup quota) if more. */
export function threadCounts(usable) {
  return [...new Set([1, 2, Math.max(1, usable)])].sort((a, b) => a - b);
}

import { spawnSync } from "node:child_process";

/** Total uncompressed size of an archive's members (the ZIP central directory, via python3). */
function uncompressedBytes(file) {
  const r = spawnSync("python3", ["-c", "import sys, zipfile; print(sum(i.file_size for i in zipfile.ZipFile(sys.argv[1]).infolist()))", file], {
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`cannot list ${file}: ${r.stderr}`);
  return Number(r.stdout.trim());
}

export function benchThreads(ctx) {
  const { files, cli, env, bench, measureProcess, fmtSeconds, fmtRatio, fmtRss, numpyCheck, counts, log, problem } = ctx;
  const result = { counts, files: {} };
  const rows = [];
  for (const kind of ["stored", "deflated"]) {
    const f = files[kind];
    log(`T thread scaling, ${kind}: check --threads ${counts.join(", ")} (whole process)`);
    const np = numpyCheck[kind] ?? measureProcess("numpy", "python3", [`${bench}/ref_numpy.py`, "check", f]);
    const bytes = uncompressedBytes(f);
    const per = [];
    let baseStats = null;
    let baseSeconds = null;
    for (const t of counts) {
      const o = measureProcess(`ours --threads ${t}`, cli, ["check", f, "--profile", "study", "--json", "--threads", String(t)], { okCodes: [0, 1], env });
      const rep = JSON.parse(o.stdout).files[0];
      const stats = JSON.stringify(rep.stats);
      if (rep.mode !== "full" || !Object.values(rep.crcVerified).every(Boolean)) problem(`T ${kind} --threads ${t}: not a full check with every CRC verified`);
      if (baseStats === null) {
        baseStats = stats;
        baseSeconds = o.seconds;
      } else if (stats !== baseStats) {
        problem(`T ${kind}: the statistics at --threads ${t} differ from --threads ${counts[0]}`);
      }
      const gbps = bytes / o.seconds / 1e9;
      const m = {
        threads: t,
        seconds: o.seconds,
        cpuSeconds: o.cpuSeconds,
        coresUsed: o.cpuSeconds == null ? null : o.cpuSeconds / o.seconds,
        peakRssMB: o.peakRssMB,
        runs: o.runs,
        uncompressedBytes: bytes,
        gbps,
        gbpsPerThread: gbps / t,
        vsNumpy: np.seconds / o.seconds,
        speedupVsOneThread: baseSeconds / o.seconds,
        ok: rep.ok,
      };
      per.push(m);
      rows.push({
        file: kind,
        threads: String(t),
        ours: fmtSeconds(o.seconds) + fmtRss(o.peakRssMB),
        cpu: o.cpuSeconds == null ? "-" : `${fmtSeconds(o.cpuSeconds)} (${m.coresUsed.toFixed(2)} cores)`,
        numpy: fmtSeconds(np.seconds) + fmtRss(np.peakRssMB),
        vsNumpy: fmtRatio(m.vsNumpy),
        scaling: fmtRatio(m.speedupVsOneThread),
        gbps: `${gbps.toFixed(2)} GB/s`,
        perThread: `${(gbps / t).toFixed(2)} GB/s`,
      });
    }
    result.files[kind] = { numpy: { seconds: np.seconds, peakRssMB: np.peakRssMB }, runs: per };
  }
  const head = {
    file: "file",
    threads: "--threads",
    ours: "npzguard",
    cpu: "CPU time (cores)",
    numpy: "numpy",
    vsNumpy: "numpy/ours",
    scaling: "vs 1 thread",
    gbps: "uncompressed",
    perThread: "per thread",
  };
  const cols = Object.keys(head);
  const width = Object.fromEntries(cols.map((c) => [c, Math.max(...[head, ...rows].map((r) => String(r[c]).length))]));
  const line = (r) =>
    cols
      .map((c) => String(r[c]).padEnd(width[c]))
      .join("  ")
      .trimEnd();
  const table = [line(head), cols.map((c) => "-".repeat(width[c])).join("  "), ...rows.map(line)];
  return { result, table };
}
