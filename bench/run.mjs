// `npm run bench`: npzguard side by side with NumPy and with npyjs + jszip, in one run.
// See bench/README.md for what each row measures. Usage:
//   node bench/run.mjs [--quick] [--case A|B|F|T] [--runs N]
//     --quick   small data (256 frames, 64 positions) to smoke-test the bench itself; the
//               results are labelled quick and the targets are not judged
//     --case    only case A (study-sized archive), B (study pre-flight), F (fix/repack) or T
//               (case A's thread-scaling table alone)
//     --runs    best of N (default 3); a measurement stops early once it has used 60 s
// Needs the built package (npm run build) and python3 with numpy. Data is generated under
// bench/.data/ (git-ignored) and reused while its parameters and generator are unchanged.
// Over 400 lines on purpose: every case's npzguard and reference columns are run from this one
// driver so they share one machine state, one load check and one results.json; the reference
// programs and per-case helpers live beside it (bench/*.py, bench/*.mjs).
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(BENCH, "..");
const DATA = path.join(BENCH, ".data");
const CLI = path.join(ROOT, "bin", "npzguard"); // the package bin, as users run it
const rel = (p) => path.relative(ROOT, p) || ".";

const { values: args } = parseArgs({
  options: { quick: { type: "boolean" }, case: { type: "string" }, runs: { type: "string" }, help: { type: "boolean", short: "h" } },
});
if (args.help) {
  process.stdout.write(
    readFileSync(fileURLToPath(import.meta.url), "utf8")
      .split("\n")
      .slice(1, 9)
      .map((l) => l.slice(3))
      .join("\n") + "\n",
  );
  process.exit(0);
}
const QUICK = args.quick === true;
const RUNS = args.runs === undefined ? 3 : Number(args.runs);
if (!Number.isInteger(RUNS) || RUNS < 1 || RUNS > 20) {
  process.stderr.write(`bench: Expected an integer 1..20 for --runs, got '${args.runs}'\n`);
  process.exit(2);
}
if (args.case !== undefined && !["A", "B", "F", "T"].includes(args.case)) {
  process.stderr.write(`bench: Expected A, B, F or T for --case, got '${args.case}'\n`);
  process.exit(2);
}
const DO_A = args.case === undefined || args.case === "A";
const DO_B = args.case === undefined || args.case === "B";
const DO_F = args.case === undefined || args.case === "F"; // bench/fix.mjs
const DO_T = DO_A || args.case === "T"; // bench/threads.mjs
const BUDGET_S = 60; // per measurement: stop repeating once this much time was spent

const A_PARAMS = QUICK ? { m: 256, n: 128, object: 464, nphotons: 1e4, seed: 42 } : { m: 5088, n: 128, object: 464, nphotons: 1e4, seed: 42 };
const B_PARAMS = QUICK ? { positions: 64, size: 128, seed: 42 } : { positions: 4096, size: 128, seed: 42 };

const TIME = existsSync("/usr/bin/time") ? "/usr/bin/time" : null;
const MB = 1024 * 1024;

function log(msg) {
  process.stderr.write(msg + "\n");
}

function fail(msg) {
  process.stderr.write(`bench: ${msg}\n`);
  process.exit(1);
}

// ---------------------------------------------------------------------------------------------
// process helpers

/** Runs a command to completion (no timing); throws with its stderr on a bad exit code. */
function runChecked(cmd, argv, okCodes = [0]) {
  const r = spawnSync(cmd, argv, { cwd: ROOT, encoding: "utf8", maxBuffer: 512 * MB });
  if (r.error) throw r.error;
  if (!okCodes.includes(r.status)) {
    throw new Error(`${cmd} ${argv.join(" ")} exited with ${r.status ?? r.signal}:\n${(r.stderr || "").slice(-2000)}`);
  }
  return r;
}

/** Reads a file once so that every measurement runs on a warm page cache. */
function warm(file) {
  const fd = openSync(file, "r");
  const buf = Buffer.allocUnsafe(16 * MB);
  try {
    while (readSync(fd, buf, 0, buf.length, null) > 0);
  } finally {
    closeSync(fd);
  }
}

/**
 * Whole-process measurement: best wall time of up to RUNS runs (each wrapped in /usr/bin/time -v,
 * or bench/rusage.py when absent), the CPU time (user + system) of that best run and the largest
 * peak RSS seen. Exit codes outside okCodes fail the bench. Returns the stdout of the last run
 * for validation.
 */
function measureProcess(label, cmd, argv, { okCodes = [0], runs = RUNS, env = process.env } = {}) {
  const statFile = path.join(os.tmpdir(), `npzguard-bench-${process.pid}.time`);
  let best = Infinity;
  let bestCpu = null;
  let peakKb = 0;
  let spent = 0;
  let done = 0;
  let last = null;
  for (let r = 0; r < runs; r++) {
    const wrapped = TIME ? [TIME, ["-v", "-o", statFile, cmd, ...argv]] : ["python3", [path.join(BENCH, "rusage.py"), statFile, cmd, ...argv]];
    const t0 = process.hrtime.bigint();
    const res = spawnSync(wrapped[0], wrapped[1], { cwd: ROOT, env, encoding: "utf8", maxBuffer: 512 * MB });
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    if (res.error) throw res.error;
    if (!okCodes.includes(res.status)) {
      throw new Error(`${label}: ${cmd} ${argv.join(" ")} exited with ${res.status ?? res.signal}:\n${(res.stderr || "").slice(-2000)}`);
    }
    const text = readFileSync(statFile, "utf8");
    const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(text);
    if (!m) throw new Error(`${label}: no peak RSS in the time report:\n${text}`);
    peakKb = Math.max(peakKb, Number(m[1]));
    const user = /User time \(seconds\): ([\d.]+)/.exec(text);
    const sys = /System time \(seconds\): ([\d.]+)/.exec(text);
    if (dt < best) bestCpu = user && sys ? Number(user[1]) + Number(sys[1]) : null;
    best = Math.min(best, dt);
    spent += dt;
    done++;
    last = res;
    if (spent > BUDGET_S) break;
  }
  rmSync(statFile, { force: true });
  log(`  ${label}: best ${fmtSeconds(best)} of ${done}, peak RSS ${(peakKb / 1024).toFixed(0)} MB`);
  return { seconds: best, cpuSeconds: bestCpu, peakRssMB: peakKb / 1024, runs: done, exitCode: last.status, stdout: last.stdout, stderr: last.stderr };
}

/** Runs a child that times itself and prints one JSON line. */
function measureInProcess(label, cmd, argv) {
  const r = runChecked(cmd, argv);
  const line = r.stdout.trim().split("\n").pop();
  const out = JSON.parse(line);
  log(`  ${label}: ${line}`);
  return out;
}

// ---------------------------------------------------------------------------------------------
// data

function sha256(file) {
  return createHash("sha256").update(readFileSync(file)).digest("hex").slice(0, 16);
}

/** Case A archives: regenerated only when the parameters or the generator changed. */
function ensureCaseAData() {
  const dir = path.join(DATA, `A-m${A_PARAMS.m}`);
  const stampFile = path.join(dir, "params.json");
  const stamp = JSON.stringify({ ...A_PARAMS, generator: sha256(path.join(BENCH, "gen_data.py")) });
  const files = { stored: path.join(dir, "study_stored.npz"), deflated: path.join(dir, "study_deflated.npz") };
  const fresh = existsSync(stampFile) && readFileSync(stampFile, "utf8") === stamp && existsSync(files.stored) && existsSync(files.deflated);
  if (!fresh) {
    log(`generating case A data in ${rel(dir)} (python3 + numpy; about 2 minutes at full size)...`);
    rmSync(stampFile, { force: true });
    mkdirSync(dir, { recursive: true });
    const p = A_PARAMS;
    const r = runChecked("python3", [path.join(BENCH, "gen_data.py"), dir, String(p.m), String(p.n), String(p.object), String(p.nphotons), String(p.seed)]);
    log(`  ${r.stdout.trim()}`);
    writeFileSync(stampFile, stamp);
  } else {
    log(`reusing case A data in ${rel(dir)}`);
  }
  return files;
}

/** Case B study tree written by `npzguard synth` (reused while the parameters are unchanged). */
function ensureCaseBData() {
  const dir = path.join(DATA, `study-p${B_PARAMS.positions}`);
  const stampFile = path.join(dir, "bench-params.json");
  const stamp = JSON.stringify({ ...B_PARAMS, cli: sha256(path.join(ROOT, "dist", "study", "synth.js")) });
  let synthSeconds = null;
  if (!(existsSync(stampFile) && readFileSync(stampFile, "utf8") === stamp)) {
    log(`generating case B study tree in ${rel(dir)} (npzguard synth)...`);
    rmSync(dir, { recursive: true, force: true });
    const t0 = process.hrtime.bigint();
    // --deflate-level 6: what np.savez_compressed writes (synth's own default is the faster 1).
    runChecked(CLI, [
      "synth",
      "--out",
      dir,
      "--size",
      String(B_PARAMS.size),
      "--positions",
      String(B_PARAMS.positions),
      "--seed",
      String(B_PARAMS.seed),
      "--deflate-level",
      "6",
      "--json",
    ]);
    synthSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    writeFileSync(stampFile, stamp);
  } else {
    log(`reusing case B study tree in ${rel(dir)}`);
  }
  const npz = [];
  const walk = (d) => {
    for (const e of readdirSorted(d)) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".npz")) npz.push(p);
    }
  };
  walk(dir);
  return {
    dir,
    phaseC: path.join(dir, "phase_c"),
    phaseD: path.join(dir, "phase_d"),
    artifacts: path.join(DATA, `study-p${B_PARAMS.positions}-artifacts`),
    npz,
    synthSeconds,
  };
}

function readdirSorted(d) {
  return readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
}

// ---------------------------------------------------------------------------------------------
// formatting

function fmtSeconds(s) {
  if (s == null) return "-";
  if (s < 0.01) return `${(s * 1000).toFixed(2)} ms`;
  if (s < 1) return `${(s * 1000).toFixed(0)} ms`;
  return `${s.toFixed(2)} s`;
}
const fmtRss = (mb) => (mb == null ? "" : ` / ${mb.toFixed(0)} MB`);
const fmtRatio = (x) => (x == null || !Number.isFinite(x) ? "-" : `${x >= 100 ? x.toFixed(0) : x.toFixed(1)}x`);

// ---------------------------------------------------------------------------------------------
// main

if (!existsSync(CLI) || !existsSync(path.join(ROOT, "dist", "index.js")))
  fail("dist/ is missing: run `npm run build` (or `npx tsc -p tsconfig.build.json`) first");
const { native } = await import("../dist/native.js");
let buildInfo = native.buildInfo();
// The whole-process rows measure the DEFAULT build (what `npm ci` gives without optional system
// packages: the core's own CRC-32 and inflate). When this checkout's addon links ISA-L, a
// default build (NPZ_USE_ISAL=OFF) is made under bench/.data/build-default and the CLI runs
// with NPZGUARD_ADDON pointing at it. BENCH_DEFAULT_BUILD=1 forces that separate build.
let cliEnv = process.env;
let buildLabel = "default build (the core's own CRC-32 and inflate; no optional packages linked)";
if (!buildInfo.inflate.startsWith("npzguard,") || process.env.BENCH_DEFAULT_BUILD === "1") {
  const out = path.join(DATA, "build-default");
  log(`building the default addon (NPZ_USE_ISAL=OFF) into ${rel(out)}`);
  runChecked("npx", ["cmake-js", "build", "-l", "warn", "--out", out, "--CDNPZ_USE_ISAL=OFF"]);
  const addon = path.join(out, "Release", "npzguard.node");
  if (!existsSync(addon)) fail(`default build did not produce ${rel(addon)}`);
  cliEnv = { ...process.env, NPZGUARD_ADDON: addon };
  const probe = runChecked("node", ["-e", `process.stdout.write(JSON.stringify(require(${JSON.stringify(addon)}).buildInfo()))`]);
  const def = JSON.parse(probe.stdout);
  buildLabel = `default build in ${rel(out)} (checkout's own addon: inflate ${buildInfo.inflate}, crc32 ${buildInfo.crc32})`;
  buildInfo = def;
  if (!def.inflate.startsWith("npzguard,")) fail(`the NPZ_USE_ISAL=OFF build still reports inflate ${def.inflate}`);
}
const numpyVersion = runChecked("python3", ["-c", "import numpy; print(numpy.__version__)"]).stdout.trim();

const rows = []; // { id, label, ours, numpy, jszip, target, met, note }
const numpyCheck = {}; // A3's numpy check per file kind, reused by the thread-scaling table
let threadTable = null;
const results = {
  date: new Date().toISOString(),
  quick: QUICK,
  machine: {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? "",
    memGB: +(os.totalmem() / 2 ** 30).toFixed(1),
    platform: `${os.platform()} ${os.release()}`,
  },
  versions: { node: process.version, numpy: numpyVersion },
  buildInfo,
  rssMethod: TIME ? "/usr/bin/time -v (Maximum resident set size)" : "bench/rusage.py (getrusage RUSAGE_CHILDREN ru_maxrss)",
  runsRequested: RUNS,
  loadAverage: { start: os.loadavg().map((x) => +x.toFixed(2)), end: null },
  params: { A: DO_A ? A_PARAMS : null, B: DO_B ? B_PARAMS : null },
  cases: {},
  problems: [],
};
const judge = (cond) => (QUICK ? "n/a (quick)" : cond ? "met" : "MISSED");
function problem(msg) {
  results.problems.push(msg);
  log(`  PROBLEM: ${msg}`);
}

if (DO_A) {
  const files = ensureCaseAData();
  const size = { stored: statSync(files.stored).size, deflated: statSync(files.deflated).size };
  results.cases.A = { files: { stored: rel(files.stored), deflated: rel(files.deflated) }, fileBytes: size };
  log(`case A: stored ${(size.stored / MB).toFixed(0)} MB, deflated ${(size.deflated / MB).toFixed(0)} MB`);
  warm(files.stored);
  warm(files.deflated);

  // A1: openNpz + every header(), in process.
  log("A1 open + headers (in-process)");
  for (const kind of ["stored", "deflated"]) {
    const r = measureInProcess(`ours ${kind}`, "node", [path.join(BENCH, "inproc.mjs"), "headers", files[kind], String(Math.max(RUNS, 5))]);
    results.cases.A[`headers_${kind}`] = r;
    rows.push({
      id: `A1-${kind}`,
      label: `A1 openNpz + ${r.members} headers, ${kind} (in-process)`,
      ours: fmtSeconds(r.seconds),
      numpy: "-",
      jszip: "-",
      vsNumpy: "-",
      vsJszip: "-",
      target: "< 5 ms",
      met: judge(r.seconds < 0.005),
    });
  }

  // A2: array("diffraction") from the stored archive, in process.
  log("A2 array('diffraction') from the stored archive (in-process, open included)");
  const ours = measureInProcess("ours", "node", [path.join(BENCH, "inproc.mjs"), "array", files.stored, String(RUNS)]);
  const np = measureInProcess("numpy", "python3", [path.join(BENCH, "ref_numpy.py"), "array", files.stored, String(RUNS)]);
  const jz = measureInProcess("npyjs+jszip", "node", [path.join(BENCH, "ref_jszip.mjs"), "array", files.stored, String(RUNS)]);
  const gbps = (r) => r.bytes / r.seconds / 1e9;
  results.cases.A.array = {
    ours: { ...ours, autoGBps: gbps(ours.auto), copyGBps: gbps(ours.copy) },
    numpy: { ...np, GBps: gbps(np) },
    jszip: { ...jz, GBps: gbps(jz) },
  };
  if (ours.auto.bytes !== np.bytes || ours.copy.bytes !== np.bytes) problem(`A2: byte counts differ (ours ${ours.auto.bytes}, numpy ${np.bytes})`);
  const gb = (r) => `${fmtSeconds(r.seconds)} (${gbps(r).toFixed(2)} GB/s)`;
  rows.push({
    id: "A2-auto",
    label: `A2 array("diffraction") stored, default (${ours.auto.zeroCopy ? "zero-copy view" : "copied: member not aligned"})`,
    ours: gb(ours.auto),
    numpy: gb(np),
    jszip: gb(jz),
    vsNumpy: fmtRatio(np.seconds / ours.auto.seconds),
    vsJszip: fmtRatio(jz.seconds / ours.auto.seconds),
    target: "-",
    met: "-",
  });
  rows.push({
    id: "A2-copy",
    label: `A2 array("diffraction", {copy:true}) stored`,
    ours: gb(ours.copy),
    numpy: gb(np),
    jszip: gb(jz),
    vsNumpy: fmtRatio(np.seconds / ours.copy.seconds),
    vsJszip: fmtRatio(jz.seconds / ours.copy.seconds),
    target: ">= 5 GB/s",
    met: judge(gbps(ours.copy) >= 5),
  });

  // Machine context for A2: what copying the same number of bytes into a new buffer costs.
  const mcOurs = measureInProcess("node copy into a new buffer", "node", [path.join(BENCH, "inproc.mjs"), "memcpy", String(np.bytes), String(RUNS)]);
  const mcNp = measureInProcess("numpy copy into a new array", "python3", [path.join(BENCH, "ref_numpy.py"), "memcpy", String(np.bytes), String(RUNS)]);
  results.cases.A.copyContext = { node: { ...mcOurs, GBps: gbps(mcOurs) }, numpy: { ...mcNp, GBps: gbps(mcNp) } };
  rows.push({
    id: "A2-context",
    label: `  context: copy ${(np.bytes / MB).toFixed(0)} MiB into a new buffer (node / numpy)`,
    ours: gb(mcOurs),
    numpy: gb(mcNp),
    jszip: "-",
    vsNumpy: "-",
    vsJszip: "-",
    target: "-",
    met: "-",
  });

  // Context for A3: start-up alone of each whole process (runtime + modules, no data).
  log("A3 context: start-up only (whole process)");
  const suOurs = measureProcess("ours", CLI, ["check", "--help"], { runs: Math.max(RUNS, 5) });
  const suNp = measureProcess("numpy", "python3", ["-c", "import numpy, zipfile"], { runs: Math.max(RUNS, 5) });
  const suJz = measureProcess("npyjs+jszip", "node", ["--input-type=module", "-e", "await import('jszip'); await import('npyjs');"], {
    runs: Math.max(RUNS, 5),
  });
  // Bare Node start-up, and what NODE_EXTRA_CA_CERTS costs it when the environment sets it (Node
  // parses that bundle before any script runs; bin/npzguard skips it, the jszip column does not).
  const caSet = process.env.NODE_EXTRA_CA_CERTS !== undefined;
  const bare = measureProcess("node -e ''", "node", ["-e", ""], { runs: Math.max(RUNS, 5) });
  const { NODE_EXTRA_CA_CERTS: _ca, ...envNoCa } = process.env;
  const bareNoCa = caSet ? measureProcess("node -e '' without NODE_EXTRA_CA_CERTS", "node", ["-e", ""], { runs: Math.max(RUNS, 5), env: envNoCa }) : bare;
  results.cases.A.nodeStartup = { nodeExtraCaCertsSet: caSet, seconds: bare.seconds, secondsWithoutExtraCaCerts: bareNoCa.seconds };
  results.cases.A.startup = {
    ours: { seconds: suOurs.seconds, peakRssMB: suOurs.peakRssMB },
    numpy: { seconds: suNp.seconds, peakRssMB: suNp.peakRssMB },
    jszip: { seconds: suJz.seconds, peakRssMB: suJz.peakRssMB },
  };

  // A3: full check, whole process.
  for (const kind of ["stored", "deflated"]) {
    const f = files[kind];
    log(`A3 full check, ${kind} (whole process)`);
    const o = measureProcess("ours", CLI, ["check", f, "--profile", "study", "--json"], { okCodes: [0, 1], env: cliEnv });
    const n = measureProcess("numpy", "python3", [path.join(BENCH, "ref_numpy.py"), "check", f]);
    numpyCheck[kind] = n;
    const j = measureProcess("npyjs+jszip", "node", [path.join(BENCH, "ref_jszip.mjs"), "check", f]);
    // Validate that each side did the work its label claims.
    const rep = JSON.parse(o.stdout).files[0];
    const npOut = JSON.parse(n.stdout.trim());
    const jzOut = JSON.parse(j.stdout.trim());
    const crcAll = Object.values(rep.crcVerified).every(Boolean);
    if (rep.mode !== "full") problem(`A3 ${kind}: ours ran mode ${rep.mode}, not full`);
    if (!crcAll) problem(`A3 ${kind}: ours did not verify the CRC of every member`);
    if (o.exitCode !== 0 || !rep.ok) problem(`A3 ${kind}: ours reported the archive as failing (exit ${o.exitCode})`);
    const ds = rep.stats?.diffraction?.components?.[0];
    if (!ds || ds.zero !== npOut.diffractionZero || ds.finite !== npOut.diffractionElements - npOut.diffractionNonFinite || ds.max !== npOut.diffractionMax) {
      problem(
        `A3 ${kind}: ours' diffraction stats disagree with numpy (zero ${ds?.zero} vs ${npOut.diffractionZero}, max ${ds?.max} vs ${npOut.diffractionMax})`,
      );
    }
    if (jzOut.diffractionZero !== npOut.diffractionZero) problem(`A3 ${kind}: npyjs+jszip zero count disagrees with numpy`);
    if (!npOut.ok || !jzOut.ok) problem(`A3 ${kind}: a reference found the archive invalid`);
    results.cases.A[`check_${kind}`] = {
      ours: { seconds: o.seconds, peakRssMB: o.peakRssMB, runs: o.runs, crcVerifiedAll: crcAll, ok: rep.ok },
      numpy: { seconds: n.seconds, peakRssMB: n.peakRssMB, runs: n.runs, result: npOut },
      jszip: { seconds: j.seconds, peakRssMB: j.peakRssMB, runs: j.runs, result: jzOut },
      speedupVsNumpy: n.seconds / o.seconds,
      speedupVsJszip: j.seconds / o.seconds,
    };
    const speed = n.seconds / o.seconds;
    const target = kind === "stored" ? ">= 10x vs numpy" : ">= 4x vs numpy, RSS <= 256 MB";
    const met = kind === "stored" ? speed >= 10 : speed >= 4 && o.peakRssMB <= 256;
    rows.push({
      id: `A3-${kind}`,
      label: `A3 check --profile study (values + every CRC), ${kind}, default build`,
      ours: fmtSeconds(o.seconds) + fmtRss(o.peakRssMB),
      numpy: fmtSeconds(n.seconds) + fmtRss(n.peakRssMB),
      jszip: fmtSeconds(j.seconds) + fmtRss(j.peakRssMB),
      vsNumpy: fmtRatio(speed),
      vsJszip: fmtRatio(j.seconds / o.seconds),
      target,
      met: judge(met),
    });
  }

  // K: the kernels on one core (thread CPU time, so other processes' turns do not count),
  // against zlib on the same bytes: CRC-32 over 256 MiB, and inflate of the two big members of
  // the deflated study file. Built standalone (Release, NPZ_USE_ISAL=OFF) under bench/.data/.
  log("K kernels: CRC-32 and inflate per core vs zlib");
  const kdir = path.join(DATA, "build-kernels");
  const gen = spawnSync("ninja", ["--version"]).status === 0 ? ["-G", "Ninja"] : [];
  runChecked("cmake", ["-S", ROOT, "-B", kdir, ...gen, "-DNPZ_STANDALONE=ON", "-DCMAKE_BUILD_TYPE=Release", "-DNPZ_USE_ISAL=OFF"]);
  runChecked("cmake", ["--build", kdir, "--target", "npz_bench_kernels", "--parallel", "2"]);
  const kbin = path.join(kdir, "npz_bench_kernels");
  const jsonLines = (r) =>
    r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
  const crc = jsonLines(runChecked(kbin, ["crc", QUICK ? "32" : "256"]));
  const zc = crc.find((x) => x.kind === "crc32" && x.impl.startsWith("zlib"));
  const oc = crc.find((x) => x.kind === "crc32" && x.selected);
  const zcc = crc.find((x) => x.kind === "crc32-cached" && x.impl.startsWith("zlib"));
  const occ = crc.find((x) => x.kind === "crc32-cached" && x.selected);
  results.cases.A.kernels = { crc32: crc }; // includes the read-ceiling line
  rows.push({
    id: "K1-crc32",
    label: `K1 CRC-32 ${(oc.bytes / MB).toFixed(0)} MiB, one core: ${oc.impl} vs zlib ${zc.gbps.toFixed(2)} GB/s`,
    ours: `${oc.gbps.toFixed(2)} GB/s`,
    numpy: "-",
    jszip: "-",
    vsNumpy: `${(oc.gbps / zc.gbps).toFixed(2)}x zlib`,
    vsJszip: "-",
    target: ">= 5x zlib",
    met: judge(oc.gbps >= 5 * zc.gbps),
  });
  const ceil = crc.find((x) => x.kind === "read-ceiling");
  rows.push({
    id: "K1-read-ceiling",
    label: `  context: one core only reading the same ${(ceil.bytes / MB).toFixed(0)} MiB (${ceil.impl}, no work): 5x zlib would be ${(5 * zc.gbps).toFixed(2)} GB/s`,
    ours: `${ceil.gbps.toFixed(2)} GB/s`,
    numpy: "-",
    jszip: "-",
    vsNumpy: `CRC at ${((100 * oc.gbps) / ceil.gbps).toFixed(0)}% of it`,
    vsJszip: "-",
    target: "-",
    met: "-",
  });
  rows.push({
    id: "K1-crc32-cached",
    label: `  context: CRC-32 of a cache-resident 1 MiB buffer x 256, one core: vs zlib ${zcc.gbps.toFixed(2)} GB/s`,
    ours: `${occ.gbps.toFixed(2)} GB/s`,
    numpy: "-",
    jszip: "-",
    vsNumpy: `${(occ.gbps / zcc.gbps).toFixed(2)}x zlib`,
    vsJszip: "-",
    target: "-",
    met: "-",
  });
  results.cases.A.kernels.inflate = {};
  for (const key of ["ground_truth_patches", "diffraction"]) {
    const r = jsonLines(runChecked(kbin, ["inflate", files.deflated, key, String(RUNS)]));
    const zi = r.find((x) => x.impl.startsWith("zlib"));
    const oi = r.find((x) => x.impl === "npzguard");
    if (!oi.identical) problem(`K2 ${key}: npzguard's inflate output differs from zlib's`);
    results.cases.A.kernels.inflate[key] = r;
    rows.push({
      id: `K2-inflate-${key}`,
      label: `K2 inflate ${key} (${(oi.bytes / MB).toFixed(0)} MiB), one core: npzguard vs zlib ${zi.gbps.toFixed(3)} GB/s`,
      ours: `${oi.gbps.toFixed(3)} GB/s`,
      numpy: "-",
      jszip: "-",
      vsNumpy: `${(oi.gbps / zi.gbps).toFixed(2)}x zlib`,
      vsJszip: "-",
      target: key === "ground_truth_patches" ? ">= 1.8x zlib" : "-",
      met: key === "ground_truth_patches" ? judge(oi.gbps >= 1.8 * zi.gbps) : "-",
    });
  }

  rows.push({
    id: "A3-startup",
    label: "  context: start-up only (check --help / import numpy, zipfile / import jszip, npyjs)",
    ours: fmtSeconds(suOurs.seconds) + fmtRss(suOurs.peakRssMB),
    numpy: fmtSeconds(suNp.seconds) + fmtRss(suNp.peakRssMB),
    jszip: fmtSeconds(suJz.seconds) + fmtRss(suJz.peakRssMB),
    vsNumpy: "-",
    vsJszip: "-",
    target: "-",
    met: "-",
  });

  rows.push({
    id: "A3-node",
    label: `  context: bare \`node -e ''\`${caSet ? " (NODE_EXTRA_CA_CERTS set here / unset)" : ""}`,
    ours: "-",
    numpy: "-",
    jszip: fmtSeconds(bare.seconds) + (caSet ? ` / ${fmtSeconds(bareNoCa.seconds)}` : ""),
    vsNumpy: "-",
    vsJszip: "-",
    target: "-",
    met: "-",
  });

  log("A3 check --headers-only, deflated (whole process)");
  const h = measureProcess("ours", CLI, ["check", files.deflated, "--profile", "study", "--headers-only", "--json"], {
    okCodes: [0, 1],
    runs: Math.max(RUNS, 5),
  });
  const hrep = JSON.parse(h.stdout).files[0];
  if (hrep.mode !== "header") problem(`A3 headers-only: ours ran mode ${hrep.mode}`);
  results.cases.A.check_headers_only_deflated = { ours: { seconds: h.seconds, peakRssMB: h.peakRssMB, runs: h.runs, mode: hrep.mode } };
  rows.push({
    id: "A3-headers",
    label: "A3 check --headers-only, deflated",
    ours: fmtSeconds(h.seconds) + fmtRss(h.peakRssMB),
    numpy: "-",
    jszip: "-",
    vsNumpy: "-",
    vsJszip: "-",
    target: "<= 250 ms",
    met: judge(h.seconds <= 0.25),
  });

  // A8: npzguard report (bench/report.mjs).
  const { benchReport } = await import("./report.mjs");
  benchReport({ files, cli: CLI, env: cliEnv, bench: BENCH, measureProcess, fmtSeconds, fmtRatio, rows, results, log });
}

if (DO_T) {
  const files = ensureCaseAData();
  if (!DO_A) {
    warm(files.stored);
    warm(files.deflated);
  }
  const { benchThreads, threadCounts } = await import("./threads.mjs");
  const usable = JSON.parse(
    runChecked("node", [
      "-e",
      "process.stdout.write(JSON.stringify(require(process.argv[1]).buildInfo()))",
      cliEnv.NPZGUARD_ADDON ?? path.join(ROOT, "build", "Release", "npzguard.node"),
    ]).stdout,
  ).threads;
  const t = benchThreads({
    files,
    cli: CLI,
    env: cliEnv,
    bench: BENCH,
    measureProcess,
    fmtSeconds,
    fmtRatio,
    fmtRss,
    numpyCheck,
    counts: threadCounts(usable.cpus),
    log,
    problem,
  });
  results.cases.T = { usableCpus: usable, ...t.result };
  threadTable = t.table;
}

if (DO_B) {
  const b = ensureCaseBData();
  const bytes = b.npz.reduce((s, f) => s + statSync(f).size, 0);
  log(`case B: ${b.npz.length} .npz files, ${(bytes / MB).toFixed(0)} MB${b.synthSeconds != null ? `, synth took ${b.synthSeconds.toFixed(1)} s` : ""}`);
  for (const f of b.npz) warm(f);
  const planArgs = ["plan", "--phase-c-root", b.phaseC, "--phase-d-root", b.phaseD, "--artifact-root", b.artifacts, "--json"];
  const cacheFile = path.join(b.artifacts, ".npzguard-cache.json");
  log("B plan, no verification cache (--no-cache), whole process");
  const cold = measureProcess("ours", CLI, [...planArgs, "--no-cache"], { okCodes: [0, 1] });
  const coldDoc = JSON.parse(cold.stdout);
  // Warm: rebuild the cache once (untimed), then time runs that should all be cache hits.
  rmSync(cacheFile, { force: true });
  runChecked(CLI, planArgs, [0, 1]);
  log("B plan, warm verification cache, whole process");
  const warmRun = measureProcess("ours", CLI, planArgs, { okCodes: [0, 1], runs: Math.max(RUNS, 5) });
  const warmDoc = JSON.parse(warmRun.stdout);
  const jobs = coldDoc.jobs.length;
  if (cold.exitCode !== 0 || !coldDoc.verified) problem(`B: plan did not verify every job (exit ${cold.exitCode}, blocked ${coldDoc.blocked.length})`);
  if (jobs !== 9) problem(`B: plan enumerated ${jobs} jobs, expected 9`);
  if (!warmDoc.cache || warmDoc.cache.hits !== warmDoc.cache.files || warmDoc.cache.checked !== 0) {
    problem(`B: warm plan was not served from the cache (${JSON.stringify(warmDoc.cache)})`);
  }
  results.cases.B = {
    dir: rel(b.dir),
    files: b.npz.length,
    bytes,
    synthSeconds: b.synthSeconds,
    jobs,
    cold: { seconds: cold.seconds, peakRssMB: cold.peakRssMB, runs: cold.runs, verified: coldDoc.verified, exitCode: cold.exitCode },
    warm: { seconds: warmRun.seconds, peakRssMB: warmRun.peakRssMB, runs: warmRun.runs, cache: warmDoc.cache, exitCode: warmRun.exitCode },
  };
  rows.push({
    id: "B-cold",
    label: `B plan ${jobs} jobs / ${b.npz.length} files, --no-cache (full verify)`,
    ours: fmtSeconds(cold.seconds) + fmtRss(cold.peakRssMB),
    numpy: "-",
    jszip: "-",
    vsNumpy: "-",
    vsJszip: "-",
    target: "-",
    met: "-",
  });
  rows.push({
    id: "B-warm",
    label: `B plan ${jobs} jobs / ${b.npz.length} files, warm cache`,
    ours: fmtSeconds(warmRun.seconds) + fmtRss(warmRun.peakRssMB),
    numpy: "-",
    jszip: "-",
    vsNumpy: "-",
    vsJszip: "-",
    target: "<= 150 ms",
    met: judge(warmRun.seconds <= 0.15),
  });
}

// Case F: fix + repack on a 1 GB study file (bench/fix.mjs, self-contained).
if (DO_F) {
  const { benchFix } = await import("./fix.mjs");
  const f = benchFix({
    bench: BENCH,
    data: DATA,
    cli: CLI,
    caseAStored: ensureCaseAData().stored,
    measureProcess,
    runChecked,
    sha256,
    log,
    problem,
    judge,
    fmtSeconds,
    fmtRss,
    fmtRatio,
    rel,
  });
  results.cases.F = f.result;
  rows.push(...f.rows);
}

// ---------------------------------------------------------------------------------------------
// report

results.rows = rows;
results.loadAverage.end = os.loadavg().map((x) => +x.toFixed(2));
const busy = Math.max(results.loadAverage.start[0], results.loadAverage.end[0]) > os.cpus().length * 0.75;
const head = { label: "case", ours: "npzguard", numpy: "numpy", jszip: "npyjs+jszip", vsNumpy: "numpy/ours", vsJszip: "jszip/ours", target: "target", met: "" };
const cols = ["label", "ours", "numpy", "jszip", "vsNumpy", "vsJszip", "target", "met"];
const width = Object.fromEntries(cols.map((c) => [c, Math.max(...[head, ...rows].map((r) => String(r[c]).length))]));
const line = (r) =>
  cols
    .map((c) => String(r[c]).padEnd(width[c]))
    .join("  ")
    .trimEnd();
const out = [];
out.push("");
out.push(`npzguard bench${QUICK ? " (QUICK: small data, targets not judged)" : ""} - ${results.date}`);
out.push(`machine: ${results.machine.cpus} CPUs (${results.machine.cpuModel}), ${results.machine.memGB} GB; node ${process.version}, numpy ${numpyVersion}`);
out.push(
  `native: inflate ${buildInfo.inflate}, crc32 ${buildInfo.crc32} (selected at run time), ${buildInfo.compiler}${buildInfo.sanitizers ? ", SANITIZERS ON" : ""}`,
);
out.push(`build measured by the whole-process rows: ${buildLabel}`);
out.push(
  `load average (1 min) at start ${results.loadAverage.start[0]}, at end ${results.loadAverage.end[0]}${busy ? " - MACHINE BUSY: other processes competed for the CPUs, timings are noisy; rerun on an idle machine" : ""}`,
);
out.push(
  `times: best of up to ${RUNS} runs (warm page cache); "t / N MB" = whole-process wall time / peak RSS (${TIME ? "/usr/bin/time -v" : "getrusage"}); ratios = reference time / npzguard time`,
);
out.push("");
if (rows.length) {
  out.push(line(head));
  out.push(cols.map((c) => "-".repeat(width[c])).join("  "));
  for (const r of rows) out.push(line(r));
  out.push("");
}
if (threadTable) {
  const u = results.cases.T.usableCpus;
  out.push(
    `thread scaling: check --profile study --json --threads N, whole process (usable CPUs here: ${u.cpus}, from ${u.source}); numpy: bench/ref_numpy.py check, one thread; GB/s of uncompressed member bytes`,
  );
  for (const l of threadTable) out.push(l);
  out.push("");
}
if (results.problems.length) {
  out.push("PROBLEMS (measurements may not mean what their labels say):");
  for (const p of results.problems) out.push(`  - ${p}`);
  out.push("");
}
const missed = rows.filter((r) => r.met === "MISSED").map((r) => r.id);
out.push(QUICK ? "targets: not judged in --quick mode" : missed.length ? `targets MISSED: ${missed.join(", ")}` : "all targets met");
process.stdout.write(out.join("\n") + "\n");
const resultsFile = QUICK ? path.join(DATA, "results-quick.json") : path.join(BENCH, "results.json");
writeFileSync(resultsFile, JSON.stringify(results, null, 2) + "\n");
log(`wrote ${rel(resultsFile)}`);
