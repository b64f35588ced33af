// `npzguard run --executor slurm` against a real Slurm cluster (in CI: the one-node cluster of
// test/helpers/slurm-ci.sh, 2 fake GPUs) and the fake trainer of test/helpers/fake-trainer.
// Without a reachable cluster (sinfo fails) these tests skip, unless NPZGUARD_REQUIRE_SLURM=1
// (CI), where that is a failure. Datasets are touched empty files with --no-verify.
import { execFileSync, spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { run as runCli } from "../../src/cli/run.js";
import { buildPrivateDist } from "../helpers/private-dist.js";
import {
  FAKE,
  FAKE_VARS,
  capture,
  makeTree as makeStudyTree,
  makeTreeUnder as makeStudyTreeUnder,
  readEvents,
  type CliResult,
  type TrainerEvent,
  type Tree,
} from "../helpers/study-harness.js";
const makeTree = (doses?: number[]): Tree => makeStudyTree(doses, "npzguard-slurm-");
import { run as statusCli } from "../../src/cli/status.js";
import { runHandoff } from "../../src/handoff/handoff.js";
import { planStudy } from "../../src/gate/preflight.js";
import { readRunRecord, type RunRecord, type RunRecordEntry } from "../../src/handoff/run-record.js";
import { sbatchTestOnly } from "../../src/handoff/slurm.js";
import { SlurmExecutor } from "../../src/handoff/slurm-executor.js";
import type { VerifiedJob } from "../../src/study/types.js";

const POLL = ["--poll-interval", "0.5"];

const REQUIRE = process.env.NPZGUARD_REQUIRE_SLURM === "1";
function clusterReachable(): boolean {
  try {
    execFileSync("sinfo", ["-h"], { stdio: "pipe", timeout: 15_000 });
    return true;
  } catch {
    return false;
  }
}
const CLUSTER = clusterReachable();
const SKIP_NOTE =
  "Slurm cluster tests skipped: no cluster reachable (`sinfo` failed). As root: `. test/helpers/slurm-ci.sh; slurm_ci_up` " +
  "(exports SLURM_CONF), then re-run; NPZGUARD_REQUIRE_SLURM=1 turns this skip into a failure.";
if (!CLUSTER && !REQUIRE) process.stderr.write(`\n[test/handoff/slurm] ${SKIP_NOTE}\n\n`);

const baseArgs = (t: Tree): string[] => [
  "--phase-c-root",
  t.c,
  "--phase-d-root",
  t.d,
  "--artifact-root",
  t.a,
  "--workdir",
  FAKE,
  "--no-verify",
  "--executor",
  "slurm",
];

const cli = (argv: string[]): Promise<CliResult> => capture(() => runCli(argv));

const starts = (t: Tree): TrainerEvent[] => readEvents(t).filter((e) => e.event === "start");

async function record(t: Tree): Promise<RunRecord> {
  const r = await readRunRecord(t.a);
  if (!r) throw new Error("no run record");
  return r;
}
function entry(r: RunRecord, id: string): RunRecordEntry {
  const e = r.jobs.find((j) => j.id === id);
  if (!e) throw new Error(`no record entry ${id}`);
  return e;
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Array job ids this test submitted (from the record), so that afterEach can clean up. */
async function submittedArrays(t: Tree): Promise<string[]> {
  const r = existsSync(join(t.a, "npzguard_runs.json")) ? await readRunRecord(t.a).catch(() => null) : null;
  return [...new Set((r?.jobs ?? []).map((j) => (j.external_id ?? "").split("_")[0] ?? "").filter((x) => /^\d+$/.test(x)))];
}
function squeueIds(arrayId: string): string[] {
  try {
    return execFileSync("squeue", ["-h", "-r", "-j", arrayId, "-o", "%i"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
      .split("\n")
      .filter((l) => l.trim().length > 0);
  } catch {
    return [];
  }
}

let tree: Tree;

describe.skipIf(!CLUSTER && !REQUIRE)("npzguard run --executor slurm (real cluster)", () => {
  const t0 = Date.now();
  let dist: string;
  beforeAll(() => {
    dist = buildPrivateDist("slurm-"); // for the Ctrl-C test's child process
  });
  afterAll(() => {
    rmSync(dist, { recursive: true, force: true });
    process.stderr.write(`\n[test/handoff/slurm] Slurm cluster tests: ${((Date.now() - t0) / 1000).toFixed(1)} s wall time\n`);
  });
  beforeEach(() => {
    for (const k of FAKE_VARS) delete process.env[k];
    tree = makeTree();
    process.env.FAKE_TRAINER_EVENTS = tree.events;
    process.env.FAKE_TRAINER_SLEEP = "1";
  });
  afterEach(async () => {
    for (const id of await submittedArrays(tree)) {
      try {
        execFileSync("scancel", [id], { stdio: "ignore" });
      } catch {
        /* already gone */
      }
    }
    for (const k of FAKE_VARS) delete process.env[k];
    rmSync(tree.root, { recursive: true, force: true });
  });

  it("reaches the cluster", () => {
    expect(CLUSTER, SKIP_NOTE).toBe(true);
  });

  it("runs 9 jobs as one array, 2 at a time with their own GPU; judges failures from evidence; resume resubmits only those", async () => {
    process.env.FAKE_TRAINER_FAIL = "dense:1000"; // exits 0, status failed
    process.env.FAKE_TRAINER_EXIT = "sparse:10000=3"; // exits 3
    const r = await cli([...baseArgs(tree), "--array-limit", "2", ...POLL]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/submitted Slurm job array \d+ \(9 task\(s\)\)/);
    expect(r.stderr).toMatch(/Slurm job \d+: \d+ pending, 2 running/);

    const evs = readEvents(tree);
    const byPid = new Map(evs.filter((e) => e.event === "start").map((e) => [e.pid, e]));
    const ivs = evs
      .filter((e) => e.event === "end")
      .map((e) => ({ key: `${e.view}:${e.dose}`, cuda: e.cuda, start: (byPid.get(e.pid) as TrainerEvent).time, end: e.time }));
    expect(ivs).toHaveLength(9);
    for (const iv of ivs) expect(["0", "1"]).toContain(iv.cuda);
    for (const a of ivs) {
      const overlapping = ivs.filter((b) => b.start < a.end && a.start < b.end);
      expect(overlapping.length).toBeLessThanOrEqual(2);
      for (const b of overlapping) if (b !== a) expect(b.cuda).not.toBe(a.cuda);
    }

    const rec = await record(tree);
    expect(rec.jobs).toHaveLength(9);
    expect(entry(rec, "dense_gs2_dose1000")).toMatchObject({ status: "failed", exit_status: 0, result_status: "failed", executor: "slurm" });
    expect(entry(rec, "sparse_gs2_dose10000")).toMatchObject({ status: "failed", exit_status: 3 });
    const ok = rec.jobs.filter((j) => j.status === "success");
    expect(ok).toHaveLength(7);
    for (const j of ok) {
      expect(j.external_id).toMatch(/^\d+_\d$/);
      expect(["0", "1"]).toContain(j.gpu);
      expect(j.bundle_sha256).toMatch(/^[0-9a-f]{64}$/);
    }
    // Slurm's --output is the local executor's log path, with the same header.
    const logPath = join(tree.a, "logs", "phase_e_dense_gs2_dose10000.log");
    const lines = readFileSync(logPath, "utf8").split("\n");
    expect(lines[0]).toMatch(/^# Command: python3 -m studies\.fly64_dose_overlap\.training .*--dose 10000 --view dense --gridsize 2 --backend tensorflow$/);
    expect(lines[1]).toBe(`# CWD: ${FAKE.replace(/\/$/, "")}`);
    expect(lines[2]).toBe(`# Log: ${logPath}`);
    expect(lines[3]).toBe(`# ${"=".repeat(78)}`);
    expect(lines.join("\n")).toContain("Executing 1 training job(s)...");

    // Resume: only the two failed jobs are resubmitted.
    delete process.env.FAKE_TRAINER_FAIL;
    delete process.env.FAKE_TRAINER_EXIT;
    const again = await cli([...baseArgs(tree), "--array-limit", "2", ...POLL, "--json"]);
    expect(again.code).toBe(0);
    const out = JSON.parse(again.stdout) as { jobs: { id: string; status: string }[]; slurm: { job_id: string } };
    expect(out.jobs.filter((j) => j.status === "resumed")).toHaveLength(7);
    expect(
      out.jobs
        .filter((j) => j.status === "success")
        .map((j) => j.id)
        .sort(),
    ).toEqual(["dense_gs2_dose1000", "sparse_gs2_dose10000"]);
    expect(starts(tree)).toHaveLength(11);
    const final = await record(tree);
    expect(final.jobs.every((j) => j.status === "success")).toBe(true);
    expect(entry(final, "dense_gs2_dose1000").attempts).toBe(2);
    expect(entry(final, "dense_gs2_dose1000").external_id?.split("_")[0]).toBe(out.slurm.job_id);
  }, 120_000);

  it("cancels the array on Ctrl-C (SIGINT) and records the jobs as cancelled", async () => {
    const main = join(dist, "cli", "main.js");
    expect(existsSync(main)).toBe(true);
    const child = spawn(process.execPath, [main, "run", ...baseArgs(tree), "--dose", "1000", "--array-limit", "1", ...POLL], {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, FAKE_TRAINER_SLEEP: "30" },
    });
    let stderr = "";
    child.stderr?.on("data", (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    const deadline = Date.now() + 60_000;
    let running = false;
    while (Date.now() < deadline && !running) {
      // Recorded as running, and the trainer itself has started.
      const rec = existsSync(join(tree.a, "npzguard_runs.json")) ? await readRunRecord(tree.a).catch(() => null) : null;
      running = (rec?.jobs.some((j) => j.status === "running") ?? false) && starts(tree).length > 0;
      if (!running) await sleep(100);
    }
    expect(running).toBe(true);
    child.kill("SIGINT");
    const code = await exited;
    expect(code).toBe(130); // interrupted by SIGINT
    expect(stderr).toMatch(/scancel \d+/);
    const rec = await record(tree);
    expect(rec.jobs).toHaveLength(3);
    for (const j of rec.jobs) expect(j.status).toBe("cancelled");
    expect(rec.jobs.filter((j) => j.start !== null)).toHaveLength(1); // the running one; two never started
    const [arrayId] = await submittedArrays(tree);
    expect(squeueIds(arrayId as string).length).toBe(0);
    expect(starts(tree)).toHaveLength(1);
  }, 90_000);

  it("--detach submits and exits; status follows the array to the end", async () => {
    const r = await cli([...baseArgs(tree), "--dose", "1000", "--detach"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Submitted Slurm job array \d+/);
    const rec = await record(tree);
    for (const j of rec.jobs) expect(j).toMatchObject({ status: "pending", owner_pid: null, executor: "slurm" });

    // A second run while the array is queued refuses to submit duplicates.
    const dup = await cli([...baseArgs(tree), "--dose", "1000", ...POLL]);
    expect(dup.code).toBe(1);

    let last: CliResult = { code: -1, stdout: "", stderr: "" };
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      last = await capture(() => statusCli(["--artifact-root", tree.a]));
      if (last.code === 0) break;
      await sleep(500);
    }
    expect(last.code).toBe(0);
    expect(last.stdout).toMatch(/baseline_gs1_dose1000\s+success\s+slurm:\d+_0/);
    const json = JSON.parse((await capture(() => statusCli([tree.a, "--json"]))).stdout) as RunRecord;
    expect(json.jobs.map((j) => j.status)).toEqual(["success", "success", "success"]);
    for (const j of json.jobs) expect(["0", "1"]).toContain(j.gpu);
    expect(starts(tree)).toHaveLength(3);
  }, 90_000);

  it("never submits a blocked job", async () => {
    const plan = await planStudy({ phaseCRoot: tree.c, phaseDRoot: tree.d, artifactRoot: tree.a, filters: { dose: 1000 }, verify: false });
    const jobs: VerifiedJob[] = plan.jobs.map((j) => ({ ...j, verified: true }));
    const violation = { rule: "data001/required-keys", severity: "error" as const, key: null, message: "missing diffraction", finding: "DATA-001" };
    jobs[1] = { ...(jobs[1] as VerifiedJob), verified: false, violations: [violation] };
    const opts = {
      phaseCRoot: tree.c,
      phaseDRoot: tree.d,
      artifactRoot: tree.a,
      backend: "tensorflow" as const,
      workdir: FAKE,
    };
    const mk = (): SlurmExecutor => new SlurmExecutor({ artifactRoot: tree.a, workdir: FAKE, pollIntervalMs: 500 });

    const gated = await runHandoff({ jobs, skipped: [] }, { ...opts, executor: mk() });
    expect(gated.gated).toBe(true);
    expect(existsSync(join(tree.a, "slurm"))).toBe(false);

    const ex = mk();
    const res = await runHandoff({ jobs, skipped: [] }, { ...opts, executor: ex, skipBlocked: true });
    expect(res.exitCode).toBe(1);
    expect(res.jobs.map((j) => j.status)).toEqual(["success", "blocked", "success"]);
    expect(ex.submission?.tasks).toBe(2);
    const script = readFileSync(ex.submission?.script as string, "utf8");
    expect(script).toContain("#SBATCH --array=0-1\n");
    expect(script).not.toContain("--view dense");
    expect(
      starts(tree)
        .map((e) => e.view)
        .sort(),
    ).toEqual(["baseline", "sparse"]);
    expect(entry(await record(tree), "dense_gs2_dose1000").status).toBe("blocked");
  }, 60_000);

  it("--emit-script writes a script that sbatch --test-only accepts, and submits nothing", async () => {
    const r = await cli([
      ...baseArgs(tree),
      "--emit-script",
      "--array-limit",
      "2",
      "--slurm-partition",
      "debug",
      "--slurm-time",
      "10",
      "--sbatch-arg=--comment=npzguard-test",
    ]);
    expect(r.code).toBe(0);
    const path = r.stdout.trim();
    expect(path.startsWith(join(tree.a, "slurm"))).toBe(true);
    const script = readFileSync(path, "utf8");
    for (const l of ["#SBATCH --array=0-8%2", "#SBATCH --gres=gpu:1", "#SBATCH --partition=debug", "#SBATCH --time=10", "#SBATCH --comment=npzguard-test"]) {
      expect(script).toContain(`${l}\n`);
    }
    expect(await sbatchTestOnly(path)).toBeNull();
    expect(existsSync(join(tree.a, "npzguard_runs.json"))).toBe(false);
    expect(starts(tree)).toHaveLength(0);
    // The per-task outputs point at the local executor's log paths.
    const tasks = readdirSync(path.replace(/\.sbatch$/, ".tasks")).sort();
    expect(tasks).toHaveLength(9);
  });

  it("runs jobs under hostile artifact-root and workdir names: nothing in a path is executed, logs land in place", async () => {
    // Every root (Phase C/D, artifact, workdir) lies under a directory whose name has spaces,
    // both quotes, $(...), backticks, %, a leading '-', '#', non-ASCII and "packjob".
    const hostile = join(tree.root, `-x a'b"c $(touch pwned) \`touch pwned\` 100%a %j #h é packjob`);
    const t: Tree = makeStudyTreeUnder(hostile, [1000]);
    const workdir = join(hostile, `work %a $(touch pwned) 'dir'`);
    cpSync(FAKE, workdir, { recursive: true });
    process.env.FAKE_TRAINER_EVENTS = t.events;
    process.env.FAKE_TRAINER_SLEEP = "0";
    const r = await cli([
      "--phase-c-root",
      t.c,
      "--phase-d-root",
      t.d,
      "--artifact-root",
      t.a,
      "--workdir",
      workdir,
      "--no-verify",
      "--executor",
      "slurm",
      "--dose",
      "1000",
      ...POLL,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const rec = await record(t);
    expect(rec.jobs.map((j) => j.status)).toEqual(["success", "success", "success"]);
    expect(readEvents(t).filter((e) => e.event === "start")).toHaveLength(3);
    for (const j of rec.jobs) {
      const logPath = join(t.a, "logs", `phase_e_${j.id}.log`);
      const lines = readFileSync(logPath, "utf8").split("\n");
      expect(lines[1]).toBe(`# CWD: ${workdir}`);
      expect(lines[2]).toBe(`# Log: ${logPath}`);
      expect(lines.join("\n")).toContain("Executing 1 training job(s)...");
      expect(existsSync(join(t.a, "dose_1000", j.id.split("_")[0] as string, j.id.includes("baseline") ? "gs1" : "gs2", "wts.h5.zip"))).toBe(true);
    }
    // The script is valid bash, and no other file was written for the tasks (Slurm kept to --output).
    const script = readdirSync(join(t.a, "slurm")).find((f) => f.endsWith(".sbatch")) as string;
    execFileSync("bash", ["-n", join(t.a, "slurm", script)]);
    expect(readdirSync(join(t.a, "slurm", script.replace(/\.sbatch$/, ".tasks"))).sort()).toEqual(["0.log", "0.state", "1.log", "1.state", "2.log", "2.state"]);
    expect(findNamed(tree.root, "pwned")).toEqual([]);
    expect(existsSync(join(process.cwd(), "pwned"))).toBe(false);
    expect(existsSync(join(FAKE, "pwned"))).toBe(false);
    expect(existsSync(join(tmpdir(), "pwned"))).toBe(false);
  }, 90_000);

  it("refuses a newline in the artifact root or workdir with exit 2 and submits nothing", async () => {
    for (const where of ["artifact", "workdir"] as const) {
      const evil = join(tree.root, `x\n#SBATCH --wrap=touch pwned\ntouch pwned`);
      const workdir = where === "workdir" ? evil : FAKE;
      if (where === "workdir") cpSync(FAKE, evil, { recursive: true });
      const a = where === "artifact" ? evil : tree.a;
      const r = await cli([
        "--phase-c-root",
        tree.c,
        "--phase-d-root",
        tree.d,
        "--artifact-root",
        a,
        "--workdir",
        workdir,
        "--no-verify",
        "--executor",
        "slurm",
        "--dose",
        "1000",
        ...POLL,
      ]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/control character/);
      expect(existsSync(join(a, "slurm"))).toBe(false);
      expect(existsSync(join(a, "npzguard_runs.json"))).toBe(false);
      expect(starts(tree)).toHaveLength(0);
      rmSync(evil, { recursive: true, force: true });
    }
    expect(findNamed(tree.root, "pwned")).toEqual([]);
  });

  it("reports an sbatch rejection (unknown partition) and submits nothing", async () => {
    const r = await cli([...baseArgs(tree), "--dose", "1000", "--slurm-partition", "no-such-partition", ...POLL]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^ERR_SLURM_REJECTED: sbatch rejected the job array: .*partition/m);
    const rec = await readRunRecord(tree.a);
    expect(rec?.jobs.filter((j) => j.status === "pending" || j.status === "running") ?? []).toHaveLength(0);
    expect(starts(tree)).toHaveLength(0);
  });

  it("reports an unreachable controller (no SLURM_CONF) with exit 3", async () => {
    const saved = process.env.SLURM_CONF;
    process.env.SLURM_CONF = join(tree.root, "no-such-slurm.conf");
    try {
      const r = await cli([...baseArgs(tree), "--dose", "1000"]);
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/^ERR_SLURM_UNAVAILABLE: /m);
    } finally {
      if (saved === undefined) delete process.env.SLURM_CONF;
      else process.env.SLURM_CONF = saved;
    }
    expect(starts(tree)).toHaveLength(0);
  });
});

describe("npzguard run --executor slurm without Slurm", () => {
  let t: Tree;
  beforeEach(() => {
    t = makeTree([1000]);
  });
  afterEach(() => {
    rmSync(t.root, { recursive: true, force: true });
  });

  it("exits 3 with ERR_SLURM_UNAVAILABLE when sbatch is not on PATH", async () => {
    const saved = process.env.PATH;
    const empty = join(t.root, "empty-bin");
    mkdirSync(empty);
    process.env.PATH = empty;
    try {
      const r = await cli([...baseArgs(t), "--dose", "1000"]);
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/^ERR_SLURM_UNAVAILABLE: .*not found on PATH/m);
    } finally {
      process.env.PATH = saved;
    }
    expect(existsSync(join(t.a, "npzguard_runs.json"))).toBe(false);
  });

  it("treats Slurm flags without --executor slurm, and --gpus with it, as usage errors", async () => {
    const local = baseArgs(t).slice(0, -2);
    expect((await cli([...local, "--array-limit", "2"])).code).toBe(2);
    expect((await cli([...local, "--detach"])).code).toBe(2);
    expect((await cli([...baseArgs(t), "--gpus", "0,1"])).code).toBe(2);
    expect((await cli([...baseArgs(t), "--array-limit", "0"])).code).toBe(2);
    expect((await cli([...baseArgs(t), "--poll-interval", "soon"])).code).toBe(2);
    expect((await cli([...baseArgs(t), "--sbatch-arg", "exclusive"])).code).toBe(2);
    expect((await cli([...baseArgs(t), "--emit-script", "--detach"])).code).toBe(2);
  });
});

function findNamed(dir: string, name: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.name === name) out.push(p);
    if (e.isDirectory()) out.push(...findNamed(p, name));
  }
  return out;
}
