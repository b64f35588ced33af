// Every `--json` document of the CLI carries the envelope (schemaVersion, tool) and validates
// against its shipped schema (schemas/<command>.schema.json), checked with ajv in strict mode.
// Inputs: numpy-written fixtures, a synthetic study (synth), a corrupt archive, the fake trainer,
// and two files built with the test NPZ writer (fix / repack).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv, type ValidateFunction } from "ajv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { capture } from "../helpers/capture.js";
import { npy, zip } from "../helpers/npz-writer.js";
import { FAKE } from "../helpers/study-harness.js";
import { run as checkCmd } from "../../src/cli/check.js";
import { run as fixCmd } from "../../src/cli/fix.js";
import { run as repackCmd } from "../../src/cli/repack.js";
import { run as inspectCmd } from "../../src/cli/inspect.js";
import { run as planCmd } from "../../src/cli/plan.js";
import { run as runCmd } from "../../src/cli/run.js";
import { run as statusCmd } from "../../src/cli/status.js";
import { run as synthCmd } from "../../src/cli/synth.js";
import { JSON_SCHEMA_VERSION } from "../../src/cli/common.js";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const SCHEMAS = join(REPO, "schemas");
const PKG = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { version: string; files: string[] };
const FIX = join(REPO, "test", "fixtures");

const validators = new Map<string, ValidateFunction>();
function validator(command: string): ValidateFunction {
  let v = validators.get(command);
  if (!v) {
    const ajv = new Ajv({ allErrors: true, strict: true });
    v = ajv.compile(JSON.parse(readFileSync(join(SCHEMAS, `${command}.schema.json`), "utf8")) as object);
    validators.set(command, v);
  }
  return v;
}

/** Parses a document, checks the envelope and validates it against the command's schema. */
function expectValid(command: string, stdout: string): Record<string, unknown> {
  const doc = JSON.parse(stdout) as Record<string, unknown>;
  expect(Object.keys(doc).slice(0, 2)).toEqual(["schemaVersion", "tool"]);
  expect(doc.schemaVersion).toBe(JSON_SCHEMA_VERSION);
  expect(doc.tool).toEqual({ name: "npzguard", version: PKG.version });
  const v = validator(command);
  const ok = v(doc);
  expect(v.errors ?? [], `${command}: ${JSON.stringify(v.errors?.slice(0, 3))}`).toEqual([]);
  expect(ok).toBe(true);
  return doc;
}

let dir: string;
let study: string;
let studyArgs: string[];
let runArgs: string[];
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "npzguard-schema-"));
  study = join(dir, "study");
  const r = await capture(() => synthCmd(["--out", study, "--doses", "1000", "--positions", "64", "--json"]));
  expect(r.code).toBe(0);
  expectValid("synth", r.stdout);
  studyArgs = [
    "--phase-c-root",
    join(study, "phase_c"),
    "--phase-d-root",
    join(study, "phase_d"),
    "--artifact-root",
    join(study, "art"),
    "--dose",
    "1000",
    "--n-groups",
    "16",
  ];
  // run refuses an --n-groups the trainer does not use; the small synthetic study has fewer than
  // the trainer's 512 positions, so run hands it over unverified (the plan tests verify).
  runArgs = [...studyArgs.slice(0, -2), "--no-verify"];
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("schemas/", () => {
  it("has one schema per --json command, each shipped in the package", () => {
    expect(readdirSync(SCHEMAS).sort()).toEqual(
      ["check", "fix", "inspect", "plan", "repack", "run", "status", "synth", "version"].map((c) => `${c}.schema.json`),
    );
    expect(PKG.files).toContain("schemas");
  });
});

describe("--json documents validate against their schema", () => {
  it("inspect: numpy-written archives and an unreadable one", async () => {
    const r = await capture(() => inspectCmd([join(FIX, "npz", "grid.npz"), join(FIX, "npz", "grid_compressed.npz"), "--json"]));
    expect(r.code).toBe(0);
    const doc = expectValid("inspect", r.stdout) as { files: { members: unknown[] }[] };
    expect(doc.files).toHaveLength(2);
    const bad = await capture(() => inspectCmd([join(FIX, "corrupt", "cd_past_eof.npz"), "--json"]));
    expect(bad.code).toBe(3);
    expect((expectValid("inspect", bad.stdout) as { files: { error?: unknown }[] }).files[0]!.error).toBeDefined();
  });

  it("check: a valid study file, a numpy file with violations and a corrupt one", async () => {
    const good = await capture(() => checkCmd([join(study, "phase_c", "dose_1000", "patched_train.npz"), "--json"]));
    expect(good.code).toBe(0);
    expectValid("check", good.stdout);
    const viol = await capture(() => checkCmd([join(FIX, "npz", "grid.npz"), "--json"]));
    expect(viol.code).toBe(1);
    expect((expectValid("check", viol.stdout) as { files: { violations: unknown[] }[] }).files[0]!.violations.length).toBeGreaterThan(0);
    const bad = await capture(() => checkCmd([join(FIX, "corrupt", "cd_past_eof.npz"), "--json"]));
    expect(bad.code).toBe(3);
    expectValid("check", bad.stdout);
  });

  it("check: findings that point at frames carry `frames`; per-row tallies in stats", async () => {
    // The contract fixture with frame 3 all zero and one NaN in frame 6, written by numpy
    // (test/fixtures/gen_inputs.py).
    const f = join(FIX, "cli", "json-schema", "frames.npz");
    const r = await capture(() => checkCmd([f, "--json"]));
    expect(r.code).toBe(1);
    const doc = expectValid("check", r.stdout) as {
      files: { violations: { rule: string; frames?: unknown }[]; stats: Record<string, { rows?: unknown } | null> }[];
    };
    const framed = doc.files[0]!.violations.filter((v) => v.frames).map((v) => [v.rule, v.frames]);
    expect(framed).toEqual([
      ["data001/diffraction-finite", { first: [6], counts: [1], total: 1, values: 1 }],
      ["data001/diffraction-nonzero", { first: [3], counts: [4096], total: 1, values: 4096 }],
    ]);
    expect(doc.files[0]!.stats.diffraction?.rows).toMatchObject({ rowElements: 4096, rows: 10 });
    // The schema pins the shape of `frames`: a malformed one is refused.
    const bad = JSON.parse(r.stdout) as { files: { violations: { frames?: Record<string, unknown> }[] }[] };
    bad.files[0]!.violations.find((v) => v.frames)!.frames!.first = "6";
    expect(validator("check")(bad)).toBe(false);
  });

  it("plan: verified jobs, and blocked ones", async () => {
    const r = await capture(() => planCmd([...studyArgs, "--json"]));
    expect(r.code).toBe(0);
    expect((expectValid("plan", r.stdout) as { jobs: unknown[] }).jobs.length).toBeGreaterThan(0);
    const blocked = await capture(() => planCmd([...studyArgs.slice(0, -2), "--json"])); // n_groups 512 > positions
    expect(blocked.code).toBe(1);
    expect((expectValid("plan", blocked.stdout) as { blocked: unknown[] }).blocked.length).toBeGreaterThan(0);
  });

  it("run --dry-run, run (fake trainer), run --emit-script, then status", async () => {
    const dry = await capture(() => runCmd([...runArgs, "--dry-run", "--json"]));
    expect(dry.code, dry.stderr).toBe(0);
    expectValid("run", dry.stdout);
    const real = await capture(() => runCmd([...runArgs, "--workdir", FAKE, "--view", "baseline", "--json"]));
    expect(real.code, real.stderr).toBe(0);
    const doc = expectValid("run", real.stdout) as { jobs: { status: string; bundle_sha256: string | null }[] };
    expect(doc.jobs[0]!.status).toBe("success");
    const emit = await capture(() => runCmd([...runArgs, "--executor", "slurm", "--emit-script", "--json"]));
    expect(emit.code, emit.stderr).toBe(0);
    expect(expectValid("run", emit.stdout).script).toEqual(expect.any(String));
    const st = await capture(() => statusCmd(["--artifact-root", join(study, "art"), "--json"]));
    expect(st.code).toBe(0);
    expect((expectValid("status", st.stdout) as { jobs: unknown[] }).jobs).toHaveLength(1);
  });

  it("--version --json and --version --verbose --json", () => {
    const main = join(REPO, "dist", "cli", "main.js");
    expectValid("version", execFileSync(process.execPath, [main, "--version", "--json"], { encoding: "utf8" }));
    const doc = expectValid("version", execFileSync(process.execPath, [main, "--version", "--verbose", "--json"], { encoding: "utf8" })) as {
      build: { addon: { path: string } };
    };
    expect(doc.build.addon.path).toMatch(/\.node$/);
  });
});

describe("fix / repack --json validate against their schema", () => {
  it("fix: a written fix, a dry run and an unfixable file; repack", async () => {
    // A legacy (H, W, N) diffraction stack and an (N, H, W) one with a NaN, written with the test
    // NPZ writer (the stored files are ~600 KB each, too big to commit).
    let seed = 5;
    const random = (n: number): Float32Array =>
      Float32Array.from({ length: n }, () => {
        seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
        return seed / 2 ** 32;
      });
    const x = Float64Array.from(random(16), (v) => 40 + 120 * v);
    const ones = (n: number, w: number) => new Float32Array(n * w).fill(1);
    const base = [
      {
        name: "probeGuess.npy",
        data: npy(
          Float64Array.from(ones(64 * 64, 2), (v, i) => (i % 2 ? 0 : v)),
          { descr: "<c16", shape: [64, 64] },
        ),
      },
      {
        name: "objectGuess.npy",
        data: npy(
          Float32Array.from(ones(200 * 200, 2), (v, i) => (i % 2 ? 0 : v)),
          { descr: "<c8", shape: [200, 200] },
        ),
      },
      { name: "xcoords.npy", data: npy(x, { descr: "<f8", shape: [16] }) },
      { name: "ycoords.npy", data: npy(x, { descr: "<f8", shape: [16] }) },
    ];
    writeFileSync(
      join(dir, "legacy.npz"),
      zip([{ name: "diffraction.npy", data: npy(random(64 * 64 * 16), { descr: "<f4", shape: [64, 64, 16] }) }, ...base]).bytes,
    );
    const nan = random(16 * 64 * 64);
    nan[0] = Number.NaN;
    writeFileSync(join(dir, "nan.npz"), zip([{ name: "diffraction.npy", data: npy(nan, { descr: "<f4", shape: [16, 64, 64] }) }, ...base]).bytes);
    const ok = await capture(() => fixCmd([join(dir, "legacy.npz"), "--out", join(dir, "legacy.fixed.npz"), "--json"]));
    expect(ok.code).toBe(0);
    const doc = expectValid("fix", ok.stdout) as { written: boolean; remedies: unknown[] };
    expect(doc.written).toBe(true);
    expect(doc.remedies.length).toBeGreaterThan(0);
    const dry = await capture(() => fixCmd([join(dir, "legacy.npz"), "--out", join(dir, "x.npz"), "--dry-run", "--json"]));
    expect(dry.code).toBe(0);
    expect(expectValid("fix", dry.stdout)).toMatchObject({ written: false, reason: "dry-run", verdict: null });
    const bad = await capture(() => fixCmd([join(dir, "nan.npz"), "--out", join(dir, "nan.fixed.npz"), "--json"]));
    expect(bad.code).toBe(1);
    expect(expectValid("fix", bad.stdout)).toMatchObject({ written: false, reason: "unfixable" });
    const rp = await capture(() => repackCmd([join(dir, "legacy.npz"), "--out", join(dir, "legacy.repacked.npz"), "--json"]));
    expect(rp.code).toBe(0);
    expect(expectValid("repack", rp.stdout)).toMatchObject({ verified: true, align: 64 });
  });
});
