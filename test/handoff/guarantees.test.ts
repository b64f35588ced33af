// The hand-off's guarantees (issue #10), driven through the CLI as a user would: the trainer trains
// exactly the files that were verified (absolute paths, whatever --workdir is), once (one run per
// artifact root, no second trainer after kill -9), only while its inputs, settings and command are
// those of the recorded success, under the trainer's own settings, stoppable (process groups), and
// the record / status say what happened (skips, blocks, interruptions, damaged state).
// The fake trainer (test/helpers/fake-trainer) reads and hashes its inputs relative to its own cwd,
// like the real one, and logs what it read (FAKE_TRAINER_EVENTS).
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { run as runCli } from "../../src/cli/run.js";
import { run as planCli } from "../../src/cli/plan.js";
import { run as statusCli } from "../../src/cli/status.js";
import { readRunRecord, type RunRecord, type RunRecordEntry } from "../../src/handoff/run-record.js";
import { buildPrivateDist } from "../helpers/private-dist.js";
import { FAKE, FAKE_VARS, capture, makeTree, readEvents, startCli, type ChildRun, type Tree } from "../helpers/study-harness.js";
import { synthesizeStudy } from "../../src/synth/synth.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const sha = (p: string): string => createHash("sha256").update(readFileSync(p)).digest("hex");
const roots = (t: Tree): string[] => ["--phase-c-root", t.c, "--phase-d-root", t.d, "--artifact-root", t.a];
const cli = (argv: string[]) => capture(() => runCli(argv));

async function record(a: string): Promise<RunRecord> {
  const r = await readRunRecord(a);
  if (!r) throw new Error("no run record");
  return r;
}
function entry(r: RunRecord, id: string): RunRecordEntry {
  const e = r.jobs.find((j) => j.id === id);
  if (!e) throw new Error(`no record entry ${id}`);
  return e;
}
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}
/** Polls the record until `pred` holds (or fails the test after `ms`). */
async function waitRecord(a: string, pred: (r: RunRecord) => boolean, ms = 60_000): Promise<RunRecord> {
  const deadline = Date.now() + ms;
  for (;;) {
    const r = existsSync(join(a, "npzguard_runs.json")) ? await readRunRecord(a).catch(() => null) : null;
    if (r && pred(r)) return r;
    if (Date.now() > deadline) throw new Error(`record never reached the expected state: ${JSON.stringify(r?.jobs.map((j) => [j.id, j.status]))}`);
    await sleep(50);
  }
}

let tree: Tree;
let dist: string;
beforeAll(() => {
  dist = buildPrivateDist("handoff-");
  expect(existsSync(join(dist, "cli", "main.js"))).toBe(true);
});
afterAll(() => rmSync(dist, { recursive: true, force: true }));
beforeEach(() => {
  for (const k of FAKE_VARS) delete process.env[k];
  tree = makeTree();
  // Distinct content per file, so that a hash says which file a trainer read.
  for (const f of execFileSync("find", [tree.root, "-name", "*.npz"], { encoding: "utf8" }).trim().split("\n")) writeFileSync(f, `data of ${f}\n`);
  process.env.FAKE_TRAINER_EVENTS = tree.events;
});
afterEach(() => {
  for (const k of FAKE_VARS) delete process.env[k];
  rmSync(tree.root, { recursive: true, force: true });
});
const childEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({ ...process.env, FAKE_TRAINER_EVENTS: tree.events, ...extra });

describe("absolute paths everywhere a path leaves npzguard", () => {
  it("relative roots + --workdir: the trainer reads the verified files, not same-named files in its workdir", async () => {
    // A workdir with the trainer and a decoy study tree at the same relative paths.
    const work = mkdtempSync(join(tmpdir(), "npzguard-work-"));
    try {
      cpSync(join(FAKE, "studies"), join(work, "studies"), { recursive: true });
      const decoy = makeTree([1000], "npzguard-decoy-");
      cpSync(decoy.c, join(work, "phase_c"), { recursive: true });
      cpSync(decoy.d, join(work, "phase_d"), { recursive: true });
      rmSync(decoy.root, { recursive: true, force: true });
      for (const f of execFileSync("find", [work, "-name", "*.npz"], { encoding: "utf8" }).trim().split("\n")) writeFileSync(f, "DECOY\n");

      const rel = ["--phase-c-root", "phase_c", "--phase-d-root", "phase_d", "--artifact-root", "phase_e"];
      const dry = await startCli(dist, ["run", ...rel, "--dose", "1000", "--workdir", work, "--no-verify", "--dry-run"], { cwd: tree.root, env: childEnv() })
        .done;
      expect(dry.code).toBe(0);
      expect(dry.stdout).toContain(`--phase-c-root ${tree.c} `);
      expect(dry.stdout).toContain(`--artifact-root ${tree.a} `);

      const r = await startCli(dist, ["run", ...rel, "--dose", "1000", "--workdir", work, "--no-verify"], { cwd: tree.root, env: childEnv() }).done;
      expect(r.stderr).not.toContain("Error");
      expect(r.code).toBe(0);
      const starts = readEvents(tree).filter((e) => e.event === "start");
      expect(starts.length).toBe(3);
      for (const e of starts) {
        expect(e.train.startsWith(tree.root)).toBe(true);
        expect(e.train_sha256).toBe(sha(e.train));
        expect(e.train_sha256).not.toBe(createHash("sha256").update("DECOY\n").digest("hex"));
      }
      const rec = await record(tree.a);
      expect(rec.artifact_root).toBe(tree.a);
      for (const j of rec.jobs) {
        expect(j.command).toContain(`--phase-c-root ${tree.c}`);
        expect(j.inputs?.train?.path.startsWith(tree.root)).toBe(true);
        expect(readFileSync(j.log_path as string, "utf8")).toContain(`# Command: python3 -m studies.fly64_dose_overlap.training --phase-c-root ${tree.c}`);
      }
      expect(existsSync(join(work, "phase_e"))).toBe(false);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});

describe("one run per artifact root", () => {
  it("two concurrent runs: the second exits 1 naming the holder; every job is launched exactly once", async () => {
    const args = ["run", ...roots(tree), "--workdir", FAKE, "--no-verify"];
    const first = startCli(dist, args, { env: childEnv({ FAKE_TRAINER_SLEEP: "0.4" }) });
    await waitRecord(tree.a, (r) => r.jobs.some((j) => j.status === "running"));
    const second = await startCli(dist, args, { env: childEnv() }).done;
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/ERR_RUN_LOCKED: .* is in use by npzguard pid \d+ on \S+/);
    expect(second.stderr).toContain(`pid ${first.child.pid}`);
    const done = await first.done;
    expect(done.code).toBe(0);
    const starts = readEvents(tree).filter((e) => e.event === "start");
    expect(starts.length).toBe(9);
    expect(new Set(starts.map((e) => `${e.view}:${e.dose}`)).size).toBe(9);
    expect((await record(tree.a)).jobs.filter((j) => j.status === "success").length).toBe(9);
  });

  it("--wait-lock waits for the holder, then reuses its successes instead of training again", async () => {
    const args = ["run", ...roots(tree), "--workdir", FAKE, "--no-verify", "--dose", "1000"];
    const first = startCli(dist, args, { env: childEnv({ FAKE_TRAINER_SLEEP: "0.3" }) });
    await waitRecord(tree.a, (r) => r.jobs.some((j) => j.status === "running"));
    const second = await startCli(dist, [...args, "--wait-lock", "--json"], { env: childEnv() }).done;
    expect((await first.done).code).toBe(0);
    expect(second.stderr).toContain("waiting for it (--wait-lock)");
    expect(second.code).toBe(0);
    const out = JSON.parse(second.stdout) as { jobs: { status: string }[] };
    expect(out.jobs.map((j) => j.status)).toEqual(["resumed", "resumed", "resumed"]);
    expect(readEvents(tree).filter((e) => e.event === "start").length).toBe(3);
  });
});

describe("resume only for the same inputs, settings and command", () => {
  it("a changed input re-runs exactly the jobs that read it, and says why", async () => {
    const base = [...roots(tree), "--workdir", FAKE, "--no-verify"];
    expect((await cli(base)).code).toBe(0);
    const before = readEvents(tree).filter((e) => e.event === "start").length;
    expect(before).toBe(9);
    writeFileSync(join(tree.d, "dose_10000", "dense", "train.npz"), "regenerated dense train data\n");

    const plan = await capture(() => planCli([...roots(tree), "--no-verify", "--json"]));
    const resume = (JSON.parse(plan.stdout) as { resume: { id: string; reuse: boolean; reason: string }[] }).resume;
    expect(resume.filter((d) => !d.reuse).map((d) => d.id)).toEqual(["dense_gs2_dose10000"]);
    expect(resume.find((d) => !d.reuse)?.reason).toMatch(
      /^train input changed since the last success \(size \d+ -> \d+ bytes, content changed|^train input changed since the last success/,
    );

    const r = await cli([...base, "--json"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("rerun dense_gs2_dose10000: train input changed since the last success");
    const out = JSON.parse(r.stdout) as { jobs: { id: string; status: string }[] };
    expect(out.jobs.filter((j) => j.status === "success").map((j) => j.id)).toEqual(["dense_gs2_dose10000"]);
    expect(out.jobs.filter((j) => j.status === "resumed").length).toBe(8);
    const after = readEvents(tree).filter((e) => e.event === "start");
    expect(after.length).toBe(10);
    expect(after[9]?.train_sha256).toBe(sha(join(tree.d, "dose_10000", "dense", "train.npz")));
  });

  it("a different trainer command re-runs the job", async () => {
    const base = [...roots(tree), "--workdir", FAKE, "--no-verify", "--dose", "1000", "--view", "baseline"];
    expect((await cli(base)).code).toBe(0);
    const r = await cli([...base, "--python", "python3.11"]);
    expect(r.stderr).toContain("rerun baseline_gs1_dose1000: trainer command changed since the last success");
  });
});

describe("check settings are the trainer's settings", () => {
  it("run refuses --n-groups / --neighbor-count the trainer does not use; nothing is launched", async () => {
    for (const extra of [
      ["--n-groups", "26"],
      ["--neighbor-count", "7"],
    ]) {
      const r = await cli([...roots(tree), "--workdir", FAKE, "--no-verify", ...extra]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/is not what the trainer uses/);
    }
    expect(readEvents(tree).length).toBe(0);
    expect(existsSync(join(tree.a, "npzguard_runs.json"))).toBe(false);
  });

  it("--trainer-cmd that passes {n_groups} on may use other values", async () => {
    const r = await cli([
      ...roots(tree),
      "--workdir",
      FAKE,
      "--no-verify",
      "--dose",
      "1000",
      "--view",
      "baseline",
      "--n-groups",
      "26",
      "--trainer-cmd",
      "echo n_groups={n_groups} >&2; exit 1",
    ]);
    expect(r.code).toBe(1); // the job fails (no evidence), but it was launched with the value
    const rec = await record(tree.a);
    expect(entry(rec, "baseline_gs1_dose1000").check_settings?.n_groups).toBe(26);
    expect(readFileSync(entry(rec, "baseline_gs1_dose1000").log_path as string, "utf8")).toContain("n_groups=26");
  });

  it("plan may explore other settings and says they are not the trainer's", async () => {
    const r = await capture(() => planCli([...roots(tree), "--no-verify", "--n-groups", "26", "--json"]));
    const doc = JSON.parse(r.stdout) as { settings_are_trainers: boolean; trainer_settings: { n_groups: number }; check_settings: { n_groups: number } };
    expect(doc.settings_are_trainers).toBe(false);
    expect(doc.trainer_settings.n_groups).toBe(512);
    expect(doc.check_settings.n_groups).toBe(26);
    const text = await capture(() => planCli([...roots(tree), "--no-verify", "--n-groups", "26"]));
    expect(text.stdout).toContain("These verdicts are not the trainer's");
  });
});

describe("trainers run in their own process groups", () => {
  it("SIGINT with --trainer-cmd 'sleep 30' stops the whole group, records interrupted (exit 130), and the next run resumes it", async () => {
    const args = ["run", ...roots(tree), "--workdir", FAKE, "--no-verify", "--dose", "1000", "--view", "baseline", "--trainer-cmd", "sleep 30"];
    const run = startCli(dist, args, { env: childEnv() });
    const rec = await waitRecord(tree.a, (r) => r.jobs.some((j) => j.status === "running" && typeof j.trainer_pgid === "number"));
    const pgid = entry(rec, "baseline_gs1_dose1000").trainer_pgid as number;
    expect(groupAlive(pgid)).toBe(true);
    const t0 = Date.now();
    run.child.kill("SIGINT");
    const done = await run.done;
    expect(done.code).toBe(130);
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(groupAlive(pgid)).toBe(false);
    expect(spawnSync("pgrep", ["-f", "^sleep 30$"]).stdout.toString().trim()).toBe("");
    const after = await record(tree.a);
    expect(entry(after, "baseline_gs1_dose1000").status).toBe("interrupted");
    const st = await capture(() => statusCli(["--artifact-root", tree.a]));
    expect(st.stdout).toMatch(/baseline_gs1_dose1000\s+interrupted/);

    const again = await cli([...roots(tree), "--workdir", FAKE, "--no-verify", "--dose", "1000", "--view", "baseline"]);
    expect(again.code).toBe(0);
    expect(entry(await record(tree.a), "baseline_gs1_dose1000").status).toBe("success");
  });

  it("kill -9 of npzguard and its trainer: the next run records the job interrupted and runs it again", async () => {
    const args = ["run", ...roots(tree), "--workdir", FAKE, "--no-verify", "--dose", "1000", "--view", "baseline"];
    const run = startCli(dist, args, { env: childEnv({ FAKE_TRAINER_SLEEP: "30" }) });
    const rec = await waitRecord(tree.a, (r) => r.jobs.some((j) => j.status === "running" && typeof j.trainer_pgid === "number"));
    const pgid = entry(rec, "baseline_gs1_dose1000").trainer_pgid as number;
    while (readEvents(tree).length === 0) await sleep(20); // the trainer is training
    run.child.kill("SIGKILL");
    await run.done;
    process.kill(-pgid, "SIGKILL");
    while (groupAlive(pgid)) await sleep(20);
    const r = await cli([...args.slice(1), "--json"]);
    expect(r.stderr).toContain("interrupted in an earlier run");
    expect(r.code).toBe(0);
    expect(readEvents(tree).filter((e) => e.event === "start").length).toBe(2);
  });
});

describe("hostile paths through the local executor", () => {
  const hostile = `-a b'c"d$(touch PWNED)\`touch PWNED2\`%e ü`;

  it("spaces, quotes, $(...), backticks, %, a leading '-' and non-ASCII: nothing runs that should not, logs land right", async () => {
    const root = join(tree.root, hostile);
    mkdirSync(root);
    for (const d of ["phase_c", "phase_d"]) cpSync(join(tree.root, d), join(root, d), { recursive: true });
    const t: Tree = { root, c: join(root, "phase_c"), d: join(root, "phase_d"), a: join(root, "phase_e"), events: tree.events };
    const r = await startCli(dist, ["run", ...roots(t), "--workdir", FAKE, "--no-verify", "--dose", "1000"], { cwd: tree.root, env: childEnv() }).done;
    expect(r.stderr).toBe(r.stderr); // (printed on failure below)
    expect(r.code, r.stderr).toBe(0);
    const rec = await record(t.a);
    expect(rec.jobs.map((j) => j.status)).toEqual(["success", "success", "success"]);
    for (const j of rec.jobs) expect(existsSync(j.log_path as string)).toBe(true);
    for (const e of readEvents(tree)) expect(e.train.startsWith(root)).toBe(true);
    // A template with placeholders bare, inside double quotes and inside single quotes.
    const tpl = `printf '%s\\n' {train} "{test}" '{artifact_dir}' > "{artifact_dir}/seen.txt"`;
    const r2 = await startCli(
      dist,
      ["run", ...roots(t), "--workdir", FAKE, "--no-verify", "--dose", "1000", "--view", "baseline", "--force", "--trainer-cmd", tpl],
      {
        cwd: tree.root,
        env: childEnv(),
      },
    ).done;
    expect(r2.code).toBe(1); // no evidence from printf, but it ran with the exact values
    const seen = readFileSync(join(t.a, "dose_1000", "baseline", "gs1", "seen.txt"), "utf8").split("\n");
    expect(seen.slice(0, 3)).toEqual([
      join(t.c, "dose_1000", "patched_train.npz"),
      join(t.c, "dose_1000", "patched_test.npz"),
      join(t.a, "dose_1000", "baseline", "gs1"),
    ]);
    const found = execFileSync("find", [tree.root, FAKE, "-name", "PWNED*"], { encoding: "utf8" }).trim();
    expect(found).toBe("");
    expect(existsSync(join(process.cwd(), "PWNED"))).toBe(false);
  });

  it("refuses placeholders inside a command substitution", async () => {
    const r = await cli([...roots(tree), "--workdir", FAKE, "--no-verify", "--trainer-cmd", "echo $(cat {train})"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("inside a command substitution");
  });

  it("a newline or a non-UTF-8 byte in a root is a usage error; nothing is launched", async () => {
    const nl = join(tree.root, "a\nb");
    mkdirSync(nl);
    const r = await cli(["--phase-c-root", tree.c, "--phase-d-root", tree.d, "--artifact-root", nl, "--workdir", FAKE, "--no-verify"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("without control characters");
    // Raw bytes cannot go through a JS string: exec the CLI from Python with a bytes argument.
    const py = spawnSync(
      "python3",
      [
        "-c",
        "import os,sys; a=sys.argv; os.execv(a[1], [a[1], a[2], 'run', '--phase-c-root', a[3], '--phase-d-root', a[4], '--artifact-root', a[5].encode() + b'/bad\\xff', '--workdir', a[6], '--no-verify'])",
        process.execPath,
        join(dist, "cli", "main.js"),
        tree.c,
        tree.d,
        tree.root,
        FAKE,
      ],
      { encoding: "utf8" },
    );
    expect(py.status).toBe(2);
    expect(py.stderr).toContain("valid UTF-8");
    expect(readEvents(tree).length).toBe(0);
  });
});

describe("logs are written without following symlinks", () => {
  it("a planted symlink at a job's log is replaced, its target untouched", async () => {
    const victim = join(tree.root, "victim.txt");
    writeFileSync(victim, "precious\n");
    mkdirSync(join(tree.a, "logs"), { recursive: true });
    const log = join(tree.a, "logs", "phase_e_baseline_gs1_dose1000.log");
    symlinkSync(victim, log);
    const r = await cli([...roots(tree), "--workdir", FAKE, "--no-verify", "--dose", "1000", "--view", "baseline"]);
    expect(r.code).toBe(0);
    expect(readFileSync(victim, "utf8")).toBe("precious\n");
    expect(lstatSync(log).isSymbolicLink()).toBe(false);
    expect(readFileSync(log, "utf8")).toMatch(/^# Command: /);
  });

  it("a symlinked logs directory is refused: the job fails with a clear reason", async () => {
    const elsewhere = mkdtempSync(join(tmpdir(), "npzguard-elsewhere-"));
    try {
      mkdirSync(tree.a, { recursive: true });
      symlinkSync(elsewhere, join(tree.a, "logs"));
      const r = await cli([...roots(tree), "--workdir", FAKE, "--no-verify", "--dose", "1000", "--view", "baseline"]);
      expect(r.code).toBe(1);
      expect(r.stdout).toContain("is a symbolic link");
      expect(readdirSync(elsewhere)).toEqual([]);
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });
});

describe("skips and blocks are facts in the record", () => {
  it("a skipped view stays in the record and status ('8 of 9 jobs')", async () => {
    rmSync(join(tree.d, "dose_1000", "sparse"), { recursive: true });
    const r = await cli([...roots(tree), "--workdir", FAKE, "--no-verify"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("8 of 9 jobs (1 view(s) skipped)");
    const rec = await record(tree.a);
    expect(rec.skipped).toEqual([{ dose: 1000, view: "sparse", reason: expect.stringContaining("NPZ files not found") }]);
    const st = await capture(() => statusCli(["--artifact-root", tree.a]));
    expect(st.stdout).toContain("Skipped views");
    expect(st.stdout).toContain("8 of 9 jobs");
    const js = JSON.parse((await capture(() => statusCli(["--artifact-root", tree.a, "--json"]))).stdout) as RunRecord;
    expect(js.skipped?.length).toBe(1);
  });
});

describe("failures say why", () => {
  it("a workdir where the trainer module does not import: exit 2 before anything is launched", async () => {
    const empty = mkdtempSync(join(tmpdir(), "npzguard-noworkdir-"));
    try {
      const r = await cli([...roots(tree), "--workdir", empty, "--no-verify"]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("ERR_TRAINER_IMPORT");
      expect(r.stderr).toContain("No module named 'studies'");
      expect(readEvents(tree).length).toBe(0);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it("a failed job's reason quotes the last line of its log; --max-failures stops launching", async () => {
    process.env.FAKE_TRAINER_EXIT = "3";
    const r = await cli([...roots(tree), "--workdir", FAKE, "--no-verify", "--max-failures", "1", "--json"]);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as { jobs: { id: string; status: string; reasons: string[] }[] };
    expect(out.jobs[0]?.status).toBe("failed");
    expect(out.jobs[0]?.reasons).toContain("log: fake trainer: exiting with 3");
    expect(out.jobs.slice(1).every((j) => j.status === "cancelled" && j.reasons.some((x) => x.includes("--max-failures 1")))).toBe(true);
    expect(readEvents(tree).filter((e) => e.event === "start").length).toBe(1);
  });

  it("a NaN final_loss in a success is a warning in the record", async () => {
    process.env.FAKE_TRAINER_NAN_LOSS = "1";
    const r = await cli([...roots(tree), "--workdir", FAKE, "--no-verify", "--dose", "1000", "--view", "baseline"]);
    expect(r.code).toBe(0);
    const e = entry(await record(tree.a), "baseline_gs1_dose1000");
    expect(e.status).toBe("success");
    expect(e.warnings?.[0]).toMatch(/final_loss is NaN/);
    delete process.env.FAKE_TRAINER_NAN_LOSS;
  });

  it("run exits 1 when the filters select no job; plan exits 0 with a warning", async () => {
    for (const v of ["dense", "sparse"]) for (const d of [1000, 10000, 100000]) rmSync(join(tree.d, `dose_${d}`, v), { recursive: true });
    const r = await cli([...roots(tree), "--workdir", FAKE, "--no-verify", "--view", "dense"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("no job matches the filters");
    const p = await capture(() => planCli([...roots(tree), "--no-verify", "--view", "dense"]));
    expect(p.code).toBe(0);
    expect(p.stderr).toContain("no job matches the filters");
  });
});

describe("damaged state files", () => {
  const damaged: [string, (p: string) => void][] = [
    ["truncated", (p) => writeFileSync(p, '{"version": 1, "jobs": [{"id": "base')],
    ["not JSON", (p) => writeFileSync(p, "hello\n")],
    ["a directory", (p) => mkdirSync(p)],
    ["jobs: [null]", (p) => writeFileSync(p, '{"jobs":[null]}')],
    ["an entry without status", (p) => writeFileSync(p, '{"jobs":[{"id":"x","executor":"local"}]}')],
  ];
  for (const [what, make] of damaged) {
    it(`a record that is ${what}: one ERR_RUN_RECORD line naming the file and what to do (run and status exit 3)`, async () => {
      mkdirSync(tree.a, { recursive: true });
      const p = join(tree.a, "npzguard_runs.json");
      make(p);
      const r = await cli([...roots(tree), "--workdir", FAKE, "--no-verify"]);
      expect(r.code).toBe(3);
      const lines = r.stderr
        .trim()
        .split("\n")
        .filter((l) => l.includes("ERR_"));
      expect(r.stderr).not.toContain("job(s) selected"); // stopped before any verification work
      expect(lines.length).toBe(1);
      expect(lines[0]).toContain("ERR_RUN_RECORD");
      expect(lines[0]).toContain(p);
      expect(lines[0]).toContain("move it aside");
      expect(r.stderr).not.toMatch(/TypeError|SyntaxError|at .*\.js:\d+/);
      const st = await capture(() => statusCli(["--artifact-root", tree.a]));
      expect(st.code).toBe(3);
      expect(st.stderr.trim().split("\n").length).toBe(1);
      expect(st.stderr).toContain("ERR_RUN_RECORD");
      expect(readEvents(tree).length).toBe(0);
    });
  }

  it("leftover temp files of a dead writer are removed", async () => {
    mkdirSync(tree.a, { recursive: true });
    const stale = join(tree.a, "npzguard_runs.json.tmp-999999-abcdef12");
    writeFileSync(stale, "{");
    const r = await cli([...roots(tree), "--workdir", FAKE, "--no-verify", "--dose", "1000", "--view", "baseline"]);
    expect(r.code).toBe(0);
    expect(existsSync(stale)).toBe(false);
  });
});

describe("the verification cache under concurrency and damage", () => {
  let study: string;
  beforeAll(() => {
    study = mkdtempSync(join(tmpdir(), "npzguard-cache-"));
    synthesizeStudy({ outDir: study, positions: 24, compressed: false, timestamp: new Date(0) });
  });
  afterAll(() => rmSync(study, { recursive: true, force: true }));
  const planArgs = (a: string, dose: string): string[] => [
    "plan",
    "--phase-c-root",
    join(study, "phase_c"),
    "--phase-d-root",
    join(study, "phase_d"),
    "--artifact-root",
    a,
    "--dose",
    dose,
  ];
  const cacheEntries = (a: string): { path: string }[] =>
    (JSON.parse(readFileSync(join(a, ".npzguard-cache.json"), "utf8")) as { entries: { path: string }[] }).entries;

  it("three concurrent plans keep every entry", async () => {
    const a = join(study, `phase_e_${Date.now()}`);
    mkdirSync(a);
    const runs = ["1000", "10000", "100000"].map((d) => startCli(dist, planArgs(a, d)).done);
    const results: ChildRun[] = await Promise.all(runs);
    for (const r of results) expect(r.stderr).not.toContain("not written");
    const paths = new Set(cacheEntries(a).map((e) => e.path));
    for (const d of ["1000", "10000", "100000"]) {
      expect(paths.has(join(study, "phase_c", `dose_${d}`, "patched_train.npz"))).toBe(true);
      expect(paths.has(join(study, "phase_d", `dose_${d}`, "dense", "test.npz"))).toBe(true);
    }
    expect(paths.size).toBe(18);
  });

  it("blocked jobs name the file (train / test) of each violation in text, JSON and the record", async () => {
    const a = join(study, `phase_e_blocked_${Date.now()}`);
    const args = [
      "--phase-c-root",
      join(study, "phase_c"),
      "--phase-d-root",
      join(study, "phase_d"),
      "--artifact-root",
      a,
      "--workdir",
      FAKE,
      "--dose",
      "1000",
      "--view",
      "dense",
    ];
    const text = await cli(args);
    expect(text.code).toBe(1);
    const train = join(study, "phase_d", "dose_1000", "dense", "train.npz");
    const test = join(study, "phase_d", "dose_1000", "dense", "test.npz");
    expect(text.stdout).toContain(`train ${train}: data001/grouping-capacity: Requesting 512 groups`);
    expect(text.stdout).toContain(`test ${test}: data001/grouping-capacity:`);
    const rec = await record(a);
    expect(rec.blocked?.map((b) => [b.id, b.file, b.path])).toEqual([
      ["dense_gs2_dose1000", "train", train],
      ["dense_gs2_dose1000", "test", test],
    ]);
    expect(rec.blocked?.[0]?.violations[0]?.rule).toBe("data001/grouping-capacity");
    const js = JSON.parse((await cli([...args, "--json"])).stdout) as { blocked_files: { file: string }[] };
    expect(js.blocked_files.map((b) => b.file)).toEqual(["train", "test"]);
    const st = await capture(() => statusCli(["--artifact-root", a]));
    expect(st.stdout).toContain(`dense_gs2_dose1000 train ${train}: data001/grouping-capacity`);
    expect(readEvents(tree).length).toBe(0);
  });

  it("a truncated or malformed cache is a warning and is rebuilt", async () => {
    const a = join(study, `phase_e_damaged_${Date.now()}`);
    mkdirSync(a);
    writeFileSync(join(a, ".npzguard-cache.json"), '{"format": 1, "entries": [{"path": "x", "optio');
    const r = await startCli(dist, planArgs(a, "1000")).done;
    expect(r.stderr).toMatch(/warning: verification cache .* is not valid JSON \(truncated\?\); rebuilding it/);
    expect(r.stderr).not.toMatch(/TypeError|SyntaxError/);
    expect(cacheEntries(a).length).toBe(6);
    writeFileSync(
      join(a, ".npzguard-cache.json"),
      JSON.stringify({ format: 2, entries: [{ path: "x", optionsHash: "y", size: 1, mtimeMs: 1, inode: 1, report: {} }, null] }),
    );
    const r2 = await startCli(dist, planArgs(a, "1000")).done;
    expect(r2.stderr).toContain("has 2 malformed entries (dropped)");
    expect(r2.code).toBe(r.code);
    expect(cacheEntries(a).length).toBe(6);
  });
});
