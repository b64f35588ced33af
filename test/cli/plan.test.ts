import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { capture } from "../helpers/capture.js";
import { run } from "../../src/cli/plan.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, "..", "..");
const FIX = path.join(REPO, "test", "fixtures", "study");
const DOSES = ["dose_1000", "dose_10000", "dose_100000"];

let root: string, C: string, D: string, A: string;

function makeTree(opts: { views?: string[]; zeroByte?: boolean } = {}): void {
  const put = (src: string, dst: string) => {
    mkdirSync(path.dirname(dst), { recursive: true });
    if (opts.zeroByte) writeFileSync(dst, "");
    else copyFileSync(src, dst);
  };
  for (const X of DOSES) {
    for (const s of ["train", "test"]) put(path.join(FIX, "phase_c", X, `patched_${s}.npz`), path.join(C, X, `patched_${s}.npz`));
    for (const v of opts.views ?? ["dense", "sparse"]) {
      for (const s of ["train", "test"]) put(path.join(FIX, "phase_d", `${s}.npz`), path.join(D, X, v, `${s}.npz`));
    }
  }
}

async function plan(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await capture(() => run(["--phase-c-root", C, "--phase-d-root", D, "--artifact-root", A, ...args]));
  return { code: r.code, out: r.stdout, err: r.stderr };
}

interface PlanJson {
  jobs: {
    dose: number;
    view: string;
    gridsize: number;
    train_data_path: string;
    test_data_path: string;
    artifact_dir: string;
    log_path: string;
    verified: boolean | null;
    violations: { rule: string }[];
  }[];
  skipped_views: { dose: number; view: string; reason: string }[];
  blocked: { dose: number; view: string; gridsize: number; path: string; violations: { rule: string; severity: string }[] }[];
}

beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), "npzguard-plan-"));
  C = path.join(root, "phase_c");
  D = path.join(root, "phase_d");
  A = path.join(root, "phase_e");
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe("npzguard plan --no-verify (existence only)", () => {
  it("lists 9 jobs in order as JSON; zero-byte files pass", async () => {
    makeTree({ zeroByte: true });
    const r = await plan("--no-verify", "--json");
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as PlanJson;
    expect(j.jobs.map((x) => `${x.dose}/${x.view}/${x.gridsize}`)).toEqual([
      "1000/baseline/1",
      "1000/dense/2",
      "1000/sparse/2",
      "10000/baseline/1",
      "10000/dense/2",
      "10000/sparse/2",
      "100000/baseline/1",
      "100000/dense/2",
      "100000/sparse/2",
    ]);
    expect(Object.keys(j.jobs[0] ?? {})).toEqual([
      "dose",
      "view",
      "gridsize",
      "train_data_path",
      "test_data_path",
      "artifact_dir",
      "log_path",
      "verified",
      "violations",
    ]);
    expect(j.jobs[1]).toMatchObject({
      train_data_path: `${D}/dose_1000/dense/train.npz`,
      artifact_dir: `${A}/dose_1000/dense/gs2`,
      log_path: `${A}/dose_1000/dense/gs2/train.log`,
      verified: null,
    });
    expect(r.out).toContain('"dose": 1000.0');
    expect(j.skipped_views).toEqual([]);
    expect(j.blocked).toEqual([]);
  });

  it.each([
    [["--dose", "1000"], 3],
    [["--dose", "1e3"], 3],
    [["--view", "baseline"], 3],
    [["--gridsize", "2"], 6],
    [["--dose", "10000", "--view", "dense", "--gridsize", "2"], 1],
  ])("filters %j -> %i jobs", async (args, n) => {
    makeTree({ zeroByte: true });
    const r = await plan("--no-verify", "--json", ...args);
    expect(r.code).toBe(0);
    expect((JSON.parse(r.out) as PlanJson).jobs).toHaveLength(n);
  });

  it("reports a missing sparse view with the Python reason; --strict fails naming the view directory", async () => {
    makeTree({ zeroByte: true });
    rmSync(path.join(D, "dose_1000", "sparse"), { recursive: true });
    const r = await plan("--no-verify", "--json");
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as PlanJson;
    expect(j.jobs).toHaveLength(8);
    expect(j.skipped_views).toEqual([
      {
        dose: 1000,
        view: "sparse",
        reason: "NPZ files not found (train=False, test=False). Checked primary (sparse_train.npz/sparse_test.npz) and fallback (train.npz/test.npz).",
      },
    ]);
    const s = await plan("--no-verify", "--strict");
    expect(s.code).toBe(1);
    expect(s.err).toContain(path.join(D, "dose_1000", "sparse"));
    expect(s.out).toContain("sparse (dose=1e+03): NPZ files not found");
  });

  it("gives 6 jobs when every sparse view is missing", async () => {
    makeTree({ zeroByte: true, views: ["dense"] });
    const r = await plan("--no-verify", "--json");
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as PlanJson;
    expect(j.jobs).toHaveLength(6);
    expect(j.skipped_views.map((s) => s.view)).toEqual(["sparse", "sparse", "sparse"]);
  });

  it("uses primary names when present", async () => {
    makeTree({ zeroByte: true });
    writeFileSync(path.join(D, "dose_1000", "dense", "dense_train.npz"), "");
    const j = JSON.parse((await plan("--no-verify", "--json", "--dose", "1000", "--view", "dense")).out) as PlanJson;
    expect(j.jobs[0]?.train_data_path).toBe(`${D}/dose_1000/dense/dense_train.npz`);
    expect(j.jobs[0]?.test_data_path).toBe(`${D}/dose_1000/dense/test.npz`);
  });

  it("does not accept the flat Phase D layout, and says so", async () => {
    makeTree({ zeroByte: true, views: ["dense"] });
    writeFileSync(path.join(D, "dose_1000", "sparse_train.npz"), "");
    writeFileSync(path.join(D, "dose_1000", "sparse_test.npz"), "");
    const r = await plan("--no-verify", "--dose", "1000");
    expect(r.code).toBe(0);
    expect(r.out).toContain("flat Phase D layout");
    expect(r.out).toContain("2 job(s)");
  });

  it("prints a human table by default", async () => {
    makeTree({ zeroByte: true });
    const r = await plan("--no-verify");
    expect(r.code).toBe(0);
    expect(r.out).toContain("  → 9 total jobs enumerated");
    expect(r.out.split("\n").filter((l) => /^1e\+0[345] /.test(l))).toHaveLength(9);
  });
});

describe("npzguard plan exit codes", () => {
  it("2 on usage errors", async () => {
    makeTree({ zeroByte: true });
    expect((await plan("--bogus")).code).toBe(2);
    expect((await plan("--view", "wide")).code).toBe(2);
    expect((await plan("--gridsize", "3")).code).toBe(2);
    expect((await plan("--dose", "lots")).code).toBe(2);
    expect((await plan("--backend", "jax")).code).toBe(2);
    const e = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      expect(await run(["--phase-c-root", C])).toBe(2);
    } finally {
      e.mockRestore();
    }
  });

  it("3 when a root is missing or not a directory", async () => {
    makeTree({ zeroByte: true });
    rmSync(C, { recursive: true });
    const r = await plan("--no-verify");
    expect(r.code).toBe(3);
    expect(r.err).toContain("ERR_STUDY_ROOT");
    makeTree({ zeroByte: true });
    writeFileSync(A, "");
    expect((await plan("--no-verify")).code).toBe(3);
  });

  it("3 for an invalid design file", async () => {
    makeTree({ zeroByte: true });
    const f = path.join(root, "design.json");
    writeFileSync(f, '{"neighbor_count": 2}');
    const r = await plan("--no-verify", "--design", f);
    expect(r.code).toBe(3);
    expect(r.err).toContain("ERR_STUDY_DESIGN");
  });

  it("1 when a baseline input is missing (baseline is strict)", async () => {
    makeTree({ zeroByte: true });
    rmSync(path.join(C, "dose_10000", "patched_train.npz"));
    const r = await plan("--no-verify");
    expect(r.code).toBe(1);
    expect(r.err).toContain("ERR_STUDY_FILE_NOT_FOUND");
  });
});

// The contract engine and the native addon are part of every build: these tests never skip.
describe("npzguard plan (verify)", () => {
  it("exits 0 when every job verifies, then 0 again from the cache", async () => {
    makeTree();
    const r = await plan("--json");
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out) as PlanJson;
    expect(j.jobs.every((x) => x.verified === true)).toBe(true);
    expect(existsSync(path.join(A, ".npzguard-cache.json"))).toBe(true);
    const warm = await plan("--json");
    expect(warm.code).toBe(0);
    expect((JSON.parse(warm.out) as { cache: { checked: number; hits: number } }).cache).toMatchObject({ checked: 0, hits: 18 });
  });

  it("exits 1 and blocks exactly the jobs using an invalid file", async () => {
    makeTree();
    copyFileSync(path.join(FIX, "invalid", "bad_diffraction.npz"), path.join(D, "dose_1000", "dense", "train.npz"));
    const r = await plan("--json", "--no-cache");
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out) as PlanJson;
    expect(j.jobs.filter((x) => !x.verified).map((x) => `${x.dose}/${x.view}`)).toEqual(["1000/dense"]);
    expect(j.blocked).toHaveLength(1);
    expect(j.blocked[0]?.path).toBe(path.join(D, "dose_1000", "dense", "train.npz"));
    expect(j.blocked[0]?.violations.every((v) => v.severity === "error")).toBe(true);
    expect(j.blocked[0]?.violations.map((v) => v.rule)).toContain("data001/diffraction-finite");
    const human = await plan("--no-cache");
    expect(human.code).toBe(1);
    expect(human.out).toContain("BLOCKED");
    expect(human.out).toContain("data001/diffraction-finite");
  });

  it("rejects zero-byte files in verify mode (--headers-only)", async () => {
    makeTree({ zeroByte: true });
    const r = await plan("--json", "--headers-only", "--dose", "1000", "--view", "baseline");
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out) as PlanJson;
    expect(j.blocked.map((b) => b.violations[0]?.rule)).toEqual(["npz/readable", "npz/readable"]);
  });
});
