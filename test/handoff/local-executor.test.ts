// `npzguard run` / `npzguard status` and the hand-off library, driven against the fake trainer in
// test/helpers/fake-trainer (python stdlib only). Datasets are touched empty files with --no-verify
// (or hand-made verdicts), so these tests need neither the native addon nor numpy.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { run as runCli } from "../../src/cli/run.js";
import { buildPrivateDist } from "../helpers/private-dist.js";
import { FAKE, FAKE_VARS, capture, makeTree, readEvents, type CliResult, type TrainerEvent, type Tree } from "../helpers/study-harness.js";
import { run as statusCli } from "../../src/cli/status.js";
import { runHandoff } from "../../src/handoff/handoff.js";
import { LocalExecutor } from "../../src/handoff/local-executor.js";
import { planStudy } from "../../src/gate/preflight.js";
import { readRunRecord, type RunRecord } from "../../src/handoff/run-record.js";
import { TemplateError, buildTrainerCommand, cliLogPath, doseArg, expandTemplate, jobId, shellQuote } from "../../src/handoff/trainer-command.js";
import type { TrainingJob, VerifiedJob } from "../../src/study/types.js";

let tree: Tree;

function baseArgs(t: Tree): string[] {
  return ["--phase-c-root", t.c, "--phase-d-root", t.d, "--artifact-root", t.a, "--workdir", FAKE, "--no-verify"];
}

const cli = (argv: string[]): Promise<CliResult> => capture(() => runCli(argv));

interface Interval {
  key: string;
  cuda: string | null;
  start: number;
  end: number;
}

function intervals(events: TrainerEvent[]): Interval[] {
  const starts = new Map(events.filter((e) => e.event === "start").map((e) => [e.pid, e]));
  return events
    .filter((e) => e.event === "end")
    .map((e) => {
      const s = starts.get(e.pid);
      if (!s) throw new Error(`end without start for pid ${e.pid}`);
      return { key: `${e.view}:${e.dose}`, cuda: e.cuda, start: s.time, end: e.time };
    });
}

async function record(t: Tree): Promise<RunRecord> {
  const r = await readRunRecord(t.a);
  if (!r) throw new Error("no run record");
  return r;
}

function entry(r: RunRecord, id: string) {
  const e = r.jobs.find((j) => j.id === id);
  if (!e) throw new Error(`no record entry ${id}`);
  return e;
}

beforeEach(() => {
  for (const k of FAKE_VARS) delete process.env[k];
  tree = makeTree();
  process.env.FAKE_TRAINER_EVENTS = tree.events;
});
afterEach(() => {
  for (const k of FAKE_VARS) delete process.env[k];
  rmSync(tree.root, { recursive: true, force: true });
});

describe("trainer command construction", () => {
  const job: TrainingJob = {
    dose: 1000,
    view: "dense",
    gridsize: 2,
    trainDataPath: "d/dose_1000/dense/train.npz",
    testDataPath: "d/dose_1000/dense/test.npz",
    artifactDir: "e/dose_1000/dense/gs2",
    logPath: "e/dose_1000/dense/gs2/train.log",
  };
  const input = { job, python: "python3", phaseCRoot: "c", phaseDRoot: "d", artifactRoot: "e", backend: "tensorflow" as const };

  it("passes a root that begins with '-' as --flag=value (argparse would read it as a flag)", () => {
    const c = buildTrainerCommand({ ...input, phaseCRoot: "-c", artifactRoot: "--e" });
    expect(c.args).toContain("--phase-c-root=-c");
    expect(c.args).toContain("--artifact-root=--e");
    expect(c.args).toContain("--phase-d-root");
    expect(c.display).toContain("--phase-c-root=-c --phase-d-root d --artifact-root=--e");
  });

  it("quotes template values for where they stand: bare, in '...', in \"...\"", () => {
    const nasty = { ...input, job: { ...job, trainDataPath: `/x/a'b"c$(touch p)\`q\`` } };
    expect(expandTemplate("echo {train}", nasty)).toBe(`echo '/x/a'\\''b"c$(touch p)\`q\`'`);
    expect(expandTemplate("echo '{train}'", nasty)).toBe(`echo '/x/a'\\''b"c$(touch p)\`q\`'`);
    expect(expandTemplate('echo "{train}"', nasty)).toBe(`echo "/x/a'b\\"c\\$(touch p)\\\`q\\\`"`);
    for (const t of ["echo {train}", "echo '{train}'", 'echo "{train}"']) {
      const out = execFileSync("/bin/sh", ["-c", expandTemplate(t, nasty)], { encoding: "utf8", cwd: tmpdir() });
      expect(out).toBe(`/x/a'b"c$(touch p)\`q\`\n`);
    }
    expect(() => expandTemplate("echo $(cat {train})", nasty)).toThrow(TemplateError);
    expect(() => expandTemplate("echo `cat {train}`", nasty)).toThrow(TemplateError);
  });

  it("builds the orchestrator's command line", () => {
    expect(buildTrainerCommand(input).display).toBe(
      "python3 -m studies.fly64_dose_overlap.training --phase-c-root c --phase-d-root d --artifact-root e --dose 1000 --view dense --gridsize 2 --backend tensorflow",
    );
  });
  it("passes integral doses as integer text, others as Python floats", () => {
    expect(doseArg(1000)).toBe("1000");
    expect(doseArg(1e5)).toBe("100000");
    expect(doseArg(1500.5)).toBe("1500.5");
    expect(doseArg(1e16)).toBe("1e+16");
  });
  it("names ids and CLI logs after view, gridsize and dose_<int>", () => {
    expect(jobId(job)).toBe("dense_gs2_dose1000");
    expect(cliLogPath("e/", { ...job, dose: 1500.7 })).toBe("e/logs/phase_e_dense_gs2_dose1500.log");
  });
  it("shell-quotes template values", () => {
    expect(shellQuote("a b'c")).toBe(`'a b'\\''c'`);
    const cmd = expandTemplate("cd {artifact_dir} && {python} x.py --dose {dose} {{literal}}", { ...input, python: "/opt/my python/bin/python" });
    expect(cmd).toBe("cd e/dose_1000/dense/gs2 && '/opt/my python/bin/python' x.py --dose 1000 {literal}");
    expect(buildTrainerCommand({ ...input, template: "{python} {train}" })).toMatchObject({
      file: "/bin/sh",
      args: ["-c", "python3 d/dose_1000/dense/train.npz"],
    });
  });
  it("rejects unknown placeholders", () => {
    expect(() => expandTemplate("{python} {gpu}", input)).toThrow(TemplateError);
    expect(() => expandTemplate("{python", input)).toThrow(TemplateError);
  });
});

describe("npzguard run (local executor)", () => {
  it("keeps at most one job per GPU and sets CUDA_VISIBLE_DEVICES per job", async () => {
    process.env.FAKE_TRAINER_SLEEP = "0.3";
    const r = await cli([...baseArgs(tree), "--gpus", "0,1"]);
    expect(r.code).toBe(0);
    const ivs = intervals(readEvents(tree));
    expect(ivs).toHaveLength(9);
    for (const iv of ivs) expect(["0", "1"]).toContain(iv.cuda);
    for (const a of ivs) {
      const overlapping = ivs.filter((b) => b.start < a.end && a.start < b.end);
      expect(overlapping.length).toBeLessThanOrEqual(2);
      for (const b of overlapping) if (b !== a) expect(b.cuda).not.toBe(a.cuda);
    }
    const rec = await record(tree);
    expect(rec.jobs).toHaveLength(9);
    for (const j of rec.jobs) {
      expect(j).toMatchObject({ status: "success", result_status: "success", exit_status: 0, executor: "local" });
      expect(["0", "1"]).toContain(j.gpu);
      expect(j.bundle_sha256).toMatch(/^[0-9a-f]{64}$/);
    }
    const log = readFileSync(join(tree.a, "logs", "phase_e_dense_gs2_dose10000.log"), "utf8");
    const lines = log.split("\n");
    expect(lines[0]).toMatch(/^# Command: python3 -m studies\.fly64_dose_overlap\.training .*--dose 10000 --view dense --gridsize 2 --backend tensorflow$/);
    expect(lines[1]).toBe(`# CWD: ${FAKE}`);
    expect(lines[2]).toBe(`# Log: ${join(tree.a, "logs", "phase_e_dense_gs2_dose10000.log")}`);
    expect(lines[3]).toBe(`# ${"=".repeat(78)}`);
    expect(lines[4]).toBe("");
    expect(log).toContain("Executing 1 training job(s)...");
    expect(r.stderr).toMatch(/started on GPU [01]/);
  });

  it("runs one job at a time without --gpus and leaves CUDA_VISIBLE_DEVICES alone", async () => {
    const r = await cli([...baseArgs(tree), "--dose", "1000"]);
    expect(r.code).toBe(0);
    const ivs = intervals(readEvents(tree));
    expect(ivs).toHaveLength(3);
    for (const a of ivs) {
      expect(a.cuda).toBeNull();
      expect(ivs.filter((b) => b.start < a.end && a.start < b.end)).toHaveLength(1);
    }
  });

  it("detects a failed job although the trainer exits 0", async () => {
    process.env.FAKE_TRAINER_FAIL = "dense:1000";
    const r = await cli([...baseArgs(tree), "--dose", "1000", "--json"]);
    expect(r.code).toBe(1);
    const rec = await record(tree);
    expect(entry(rec, "dense_gs2_dose1000")).toMatchObject({ status: "failed", exit_status: 0, result_status: "failed" });
    expect(entry(rec, "baseline_gs1_dose1000").status).toBe("success");
    expect(entry(rec, "sparse_gs2_dose1000").status).toBe("success");
    const out = JSON.parse(r.stdout) as { jobs: { id: string; status: string }[] };
    expect(out.jobs.find((j) => j.id === "dense_gs2_dose1000")?.status).toBe("failed");
  });

  it("fails a job whose trainer exits non-zero", async () => {
    process.env.FAKE_TRAINER_EXIT = "baseline:1000=3";
    const r = await cli([...baseArgs(tree), "--dose", "1000"]);
    expect(r.code).toBe(1);
    const rec = await record(tree);
    expect(entry(rec, "baseline_gs1_dose1000")).toMatchObject({ status: "failed", exit_status: 3 });
    expect(entry(rec, "dense_gs2_dose1000").status).toBe("success");
  });

  it("fails a job whose reported SHA-256 does not match the bundle", async () => {
    process.env.FAKE_TRAINER_BAD_SHA = "sparse:1000";
    const r = await cli([...baseArgs(tree), "--dose", "1000", "--view", "sparse"]);
    expect(r.code).toBe(1);
    expect(entry(await record(tree), "sparse_gs2_dose1000")).toMatchObject({ status: "failed", result_status: "success" });
  });

  it("skips jobs that already succeeded on a re-run, redoes them with --force or a changed bundle", async () => {
    expect((await cli([...baseArgs(tree), "--dose", "1000"])).code).toBe(0);
    expect(readEvents(tree).filter((e) => e.event === "start")).toHaveLength(3);

    const again = await cli([...baseArgs(tree), "--dose", "1000", "--json"]);
    expect(again.code).toBe(0);
    expect((JSON.parse(again.stdout) as { jobs: { status: string }[] }).jobs.map((j) => j.status)).toEqual(["resumed", "resumed", "resumed"]);
    expect(readEvents(tree).filter((e) => e.event === "start")).toHaveLength(3);

    writeFileSync(join(tree.a, "dose_1000", "dense", "gs2", "wts.h5.zip"), "tampered");
    expect((await cli([...baseArgs(tree), "--dose", "1000"])).code).toBe(0);
    expect(
      readEvents(tree)
        .filter((e) => e.event === "start")
        .map((e) => e.view),
    ).toEqual(["baseline", "dense", "sparse", "dense"]);

    expect((await cli([...baseArgs(tree), "--dose", "1000", "--force"])).code).toBe(0);
    expect(readEvents(tree).filter((e) => e.event === "start")).toHaveLength(7);
    expect(entry(await record(tree), "dense_gs2_dose1000").attempts).toBe(3);
  });

  it("--dry-run prints the commands and launches nothing", async () => {
    const r = await cli([...baseArgs(tree), "--dose", "1000", "--dry-run", "--python", "/usr/bin/python3"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      `/usr/bin/python3 -m studies.fly64_dose_overlap.training --phase-c-root ${tree.c} --phase-d-root ${tree.d} --artifact-root ${tree.a} --dose 1000 --view baseline --gridsize 1 --backend tensorflow`,
    );
    expect(readEvents(tree)).toHaveLength(0);
    expect(existsSync(join(tree.a, "npzguard_runs.json"))).toBe(false);
    expect(existsSync(join(tree.a, "logs"))).toBe(false);
  });

  it("runs a --trainer-cmd template through the shell", async () => {
    const tmpl =
      "FAKE_TRAINER_SLEEP=0 {python} -m studies.fly64_dose_overlap.training --phase-c-root {phase_c_root} --phase-d-root {phase_d_root} --artifact-root {artifact_root} --dose {dose} --view {view} --gridsize {gridsize}";
    const r = await cli([...baseArgs(tree), "--dose", "1000", "--view", "baseline", "--trainer-cmd", tmpl]);
    expect(r.code).toBe(0);
    expect(entry(await record(tree), "baseline_gs1_dose1000").command).toContain(`--dose 1000 --view baseline --gridsize 1`);
  });

  it("rejects other executors, bad GPU lists and bad templates as usage errors", async () => {
    expect((await cli([...baseArgs(tree), "--executor", "slurm", "--gpus", "0,1"])).code).toBe(2);
    expect((await cli([...baseArgs(tree), "--executor", "k8s"])).code).toBe(2);
    expect((await cli([...baseArgs(tree), "--gpus", "0,,1"])).code).toBe(2);
    expect((await cli([...baseArgs(tree), "--gpus", "0,0"])).code).toBe(2);
    expect((await cli([...baseArgs(tree), "--trainer-cmd", "{python} {nope}"])).code).toBe(2);
    expect((await cli([...baseArgs(tree), "--bogus"])).code).toBe(2);
    expect(readEvents(tree)).toHaveLength(0);
  });

  it("exits 3 when the Phase C root does not exist", async () => {
    const r = await cli(["--phase-c-root", join(tree.root, "nope"), "--phase-d-root", tree.d, "--artifact-root", tree.a, "--workdir", FAKE, "--no-verify"]);
    expect(r.code).toBe(3);
    expect(readEvents(tree)).toHaveLength(0);
  });
});

describe("runHandoff() gate and drift", () => {
  async function planned(t: Tree): Promise<VerifiedJob[]> {
    const p = await planStudy({ phaseCRoot: t.c, phaseDRoot: t.d, artifactRoot: t.a, filters: { dose: 1000 }, verify: false });
    return p.jobs.map((j) => ({ ...j, verified: true }));
  }
  const opts = (t: Tree) => ({
    phaseCRoot: t.c,
    phaseDRoot: t.d,
    artifactRoot: t.a,
    backend: "tensorflow" as const,
    workdir: FAKE,
    executor: new LocalExecutor(),
  });
  const violation = { rule: "data001/required-keys", severity: "error" as const, key: null, message: "missing diffraction", finding: "DATA-001" };

  it("launches nothing while a selected job is blocked", async () => {
    const jobs = await planned(tree);
    jobs[1] = { ...(jobs[1] as VerifiedJob), verified: false, violations: [violation] };
    const res = await runHandoff({ jobs, skipped: [] }, opts(tree));
    expect(res.exitCode).toBe(1);
    expect(res.gated).toBe(true);
    expect(readEvents(tree)).toHaveLength(0);
    expect(entry(await record(tree), "dense_gs2_dose1000").status).toBe("blocked");
  });

  it("with skipBlocked runs the others but never the blocked job, and still exits 1", async () => {
    const jobs = await planned(tree);
    jobs[1] = { ...(jobs[1] as VerifiedJob), verified: false, violations: [violation] };
    const res = await runHandoff({ jobs, skipped: [] }, { ...opts(tree), skipBlocked: true });
    expect(res.exitCode).toBe(1);
    expect(
      readEvents(tree)
        .filter((e) => e.event === "start")
        .map((e) => e.view),
    ).toEqual(["baseline", "sparse"]);
    expect(res.jobs.map((j) => j.status)).toEqual(["success", "blocked", "success"]);
  });

  it("blocks a job whose input changed after verification", async () => {
    const jobs = await planned(tree);
    const dense = jobs[1] as VerifiedJob;
    const stamps = new Map([[dense.trainDataPath, { size: 123, mtimeMs: 1, inode: 1 }]]);
    const res = await runHandoff({ jobs, skipped: [], stamps }, opts(tree));
    expect(res.exitCode).toBe(1);
    expect(res.jobs.map((j) => j.status)).toEqual(["success", "blocked", "success"]);
    expect(readEvents(tree).some((e) => e.view === "dense")).toBe(false);
    expect(entry(await record(tree), "dense_gs2_dose1000").status).toBe("blocked");
  });
});

describe("npzguard status", () => {
  it("prints the record and exits 1 while a job is not successful", async () => {
    process.env.FAKE_TRAINER_FAIL = "sparse:1000";
    await cli([...baseArgs(tree), "--dose", "1000"]);
    const human = await capture(() => statusCli(["--artifact-root", tree.a]));
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/sparse_gs2_dose1000\s+failed/);
    const json = await capture(() => statusCli([tree.a, "--json"]));
    const rec = JSON.parse(json.stdout) as RunRecord;
    expect(rec.jobs.map((j) => j.status).sort()).toEqual(["failed", "success", "success"]);
  });
  it("exits 3 without a record and 2 on usage errors", async () => {
    expect((await capture(() => statusCli(["--artifact-root", tree.a]))).code).toBe(3);
    expect((await capture(() => statusCli([]))).code).toBe(2);
  });
});

describe("resume after SIGKILL of npzguard", () => {
  let dist: string;
  beforeAll(() => {
    dist = buildPrivateDist("dist-");
  });
  afterAll(() => {
    rmSync(dist, { recursive: true, force: true });
  });

  it("loses no finished job, adopts the trainer left running, and launches every job exactly once", async () => {
    expect(existsSync(join(dist, "cli", "main.js"))).toBe(true);
    const args = ["run", ...baseArgs(tree), "--dose", "1000"];
    const child = spawn(process.execPath, [join(dist, "cli", "main.js"), ...args], {
      detached: true,
      stdio: "ignore",
      env: { ...process.env, FAKE_TRAINER_SLEEP: "0.8" },
    });
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const deadline = Date.now() + 90_000;
    let finished: string[] = [];
    let runningId: string | null = null;
    while (Date.now() < deadline) {
      const rec = existsSync(join(tree.a, "npzguard_runs.json")) ? await readRunRecord(tree.a).catch(() => null) : null;
      finished = rec?.jobs.filter((j) => j.status === "success").map((j) => j.id) ?? [];
      runningId = rec?.jobs.find((j) => j.status === "running" && typeof j.trainer_pgid === "number")?.id ?? null;
      if (finished.length >= 1 && runningId !== null) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(finished.length).toBeGreaterThanOrEqual(1);
    expect(runningId).not.toBeNull();
    process.kill(child.pid as number, "SIGKILL");
    await exited;

    const after = await record(tree);
    for (const id of finished) expect(entry(after, id).status).toBe("success");
    expect(after.jobs.filter((j) => j.status === "success").length).toBeLessThan(3);

    // Immediately: the trainer npzguard left behind still runs in its own process group; the
    // re-run waits for it and takes its result instead of starting a second trainer.
    const r = await cli([...baseArgs(tree), "--dose", "1000", "--json"]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { jobs: { id: string; status: string }[] };
    for (const j of out.jobs) {
      expect(j.status).toBe(finished.includes(j.id) ? "resumed" : j.id === runningId ? "adopted" : "success");
    }
    const starts = readEvents(tree).filter((e) => e.event === "start");
    expect(starts.length).toBe(3);
    expect(new Set(starts.map((e) => `${e.view}:${e.dose}`)).size).toBe(3);
    const final = await record(tree);
    expect(final.jobs.every((j) => j.status === "success")).toBe(true);
  }, 180_000);
});
