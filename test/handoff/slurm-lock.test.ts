// One run per artifact root with the Slurm executor too: two concurrent `npzguard run --executor
// slurm` on one root submit every job exactly once (the second exits 1 naming the holder), and a
// detached submission's record is refreshed by `status` only while no run holds the lock.
// Needs the one-node cluster of test/helpers/slurm-ci.sh; skips without one unless
// NPZGUARD_REQUIRE_SLURM=1 (CI), where a missing cluster is a failure.
import { execFileSync } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { readRunRecord } from "../../src/handoff/run-record.js";
import { buildPrivateDist } from "../helpers/private-dist.js";
import { FAKE, FAKE_VARS, makeTree, readEvents, startCli, type Tree } from "../helpers/study-harness.js";

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
if (!CLUSTER && !REQUIRE)
  process.stderr.write("\n[test/handoff/slurm] slurm-lock tests skipped: no cluster reachable (`sinfo` failed); see slurm-cluster.test.ts\n\n");

let tree: Tree;
let dist: string;
/** `npzguard run` on the test tree with the Slurm executor, plus `extra`. */
const slurmRun = (...extra: string[]): string[] => [
  "run",
  "--phase-c-root",
  tree.c,
  "--phase-d-root",
  tree.d,
  "--artifact-root",
  tree.a,
  "--workdir",
  FAKE,
  "--no-verify",
  "--executor",
  "slurm",
  "--poll-interval",
  "0.5",
  ...extra,
];

describe.skipIf(!CLUSTER && !REQUIRE)("run lock with the Slurm executor (real cluster)", () => {
  beforeAll(() => {
    dist = buildPrivateDist("slurm-lock-");
  });
  afterAll(() => rmSync(dist, { recursive: true, force: true }));
  beforeEach(() => {
    for (const k of FAKE_VARS) delete process.env[k];
    tree = makeTree(undefined, "npzguard-slurm-lock-");
  });
  afterEach(async () => {
    const r = existsSync(join(tree.a, "npzguard_runs.json")) ? await readRunRecord(tree.a).catch(() => null) : null;
    for (const id of new Set((r?.jobs ?? []).map((j) => (j.external_id ?? "").split("_")[0] ?? "").filter((x) => /^\d+$/.test(x)))) {
      try {
        execFileSync("scancel", [id], { stdio: "ignore" });
      } catch {
        /* gone */
      }
    }
    rmSync(tree.root, { recursive: true, force: true });
  });

  it("two concurrent Slurm runs on one root: one array, every job submitted and trained exactly once", async () => {
    const env = { ...process.env, FAKE_TRAINER_EVENTS: tree.events, FAKE_TRAINER_SLEEP: "1" };
    const args = slurmRun();
    const first = startCli(dist, args, { env });
    // Start the second while the first holds the lock (it takes it before asking Slurm anything).
    const deadline = Date.now() + 30_000;
    while (!existsSync(join(tree.a, ".npzguard.lock")) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const second = await startCli(dist, args, { env }).done;
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/ERR_RUN_LOCKED: .* is in use by npzguard pid \d+/);
    const done = await first.done;
    expect(done.code, done.stderr).toBe(0);
    const starts = readEvents(tree).filter((e) => e.event === "start");
    expect(starts.length).toBe(9);
    expect(new Set(starts.map((e) => `${e.view}:${e.dose}`)).size).toBe(9);
    const rec = await readRunRecord(tree.a);
    expect(new Set(rec?.jobs.map((j) => (j.external_id ?? "").split("_")[0])).size).toBe(1);
    expect(rec?.jobs.every((j) => j.status === "success")).toBe(true);
  }, 180_000);

  it("a symlink planted at a job's log is replaced before submission: Slurm never writes through it", async () => {
    const victim = join(tree.root, "victim.txt");
    writeFileSync(victim, "precious\n");
    mkdirSync(join(tree.a, "logs"), { recursive: true });
    const log = join(tree.a, "logs", "phase_e_baseline_gs1_dose1000.log");
    symlinkSync(victim, log);
    const env = { ...process.env, FAKE_TRAINER_EVENTS: tree.events };
    const r = await startCli(dist, slurmRun("--dose", "1000", "--view", "baseline"), { env }).done;
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(victim, "utf8")).toBe("precious\n");
    expect(lstatSync(log).isSymbolicLink()).toBe(false);
    expect(readFileSync(log, "utf8")).toMatch(/^# Command: /);
  }, 120_000);
});
