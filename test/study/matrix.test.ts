import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { StudyDesign, isStudyError } from "../../src/study/design.js";
import { buildTrainingJobs, doseDirName, type filterJobs, makeTrainingJob, selectJobs, skipReason } from "../../src/study/matrix.js";

let root: string;
let C: string, D: string, A: string;

function touch(p: string): void {
  mkdirSync(path.dirname(p), { recursive: true });
  writeFileSync(p, "");
}

/** Zero-byte study tree (plan mode is existence-only, like the Python CLI tests). */
function makeTree(opts: { doses?: string[]; views?: string[]; names?: "fallback" | "primary" } = {}): void {
  const doses = opts.doses ?? ["dose_1000", "dose_10000", "dose_100000"];
  for (const X of doses) {
    touch(path.join(C, X, "patched_train.npz"));
    touch(path.join(C, X, "patched_test.npz"));
    for (const v of opts.views ?? ["dense", "sparse"]) {
      const pre = opts.names === "primary" ? `${v}_` : "";
      touch(path.join(D, X, v, `${pre}train.npz`));
      touch(path.join(D, X, v, `${pre}test.npz`));
    }
  }
}

beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), "npzguard-matrix-"));
  C = path.join(root, "phase_c");
  D = path.join(root, "phase_d");
  A = path.join(root, "phase_e");
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe("buildTrainingJobs()", () => {
  it("enumerates 9 jobs in dose-list order with the reference paths", () => {
    makeTree();
    const { jobs, skipped } = buildTrainingJobs({ phaseCRoot: C, phaseDRoot: D, artifactRoot: A });
    expect(skipped).toEqual([]);
    expect(jobs.map((j) => `${j.dose}/${j.view}/${j.gridsize}`)).toEqual([
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
    const [b, d] = jobs;
    expect(b).toMatchObject({
      trainDataPath: `${C}/dose_1000/patched_train.npz`,
      testDataPath: `${C}/dose_1000/patched_test.npz`,
      artifactDir: `${A}/dose_1000/baseline/gs1`,
      logPath: `${A}/dose_1000/baseline/gs1/train.log`,
    });
    expect(d).toMatchObject({
      trainDataPath: `${D}/dose_1000/dense/train.npz`,
      testDataPath: `${D}/dose_1000/dense/test.npz`,
      artifactDir: `${A}/dose_1000/dense/gs2`,
      logPath: `${A}/dose_1000/dense/gs2/train.log`,
    });
    expect(d?.resolution?.train).toEqual({ path: `${D}/dose_1000/dense/train.npz`, primaryMissing: true, usedFallback: true });
  });

  it("follows the design's dose list order (not sorted)", () => {
    makeTree();
    const design = new StudyDesign({ doseList: [1e5, 1e3] });
    const { jobs } = buildTrainingJobs({ phaseCRoot: C, phaseDRoot: D, artifactRoot: A, design });
    expect(jobs.map((j) => j.dose)).toEqual([1e5, 1e5, 1e5, 1e3, 1e3, 1e3]);
  });

  it("prefers primary names per split and falls back per split", () => {
    makeTree({ names: "primary" });
    touch(path.join(D, "dose_1000", "dense", "test.npz"));
    rmSync(path.join(D, "dose_1000", "dense", "dense_test.npz"));
    const { jobs } = buildTrainingJobs({ phaseCRoot: C, phaseDRoot: D, artifactRoot: A });
    const dense = jobs[1];
    expect(dense?.trainDataPath).toBe(`${D}/dose_1000/dense/dense_train.npz`);
    expect(dense?.testDataPath).toBe(`${D}/dose_1000/dense/test.npz`);
    expect(dense?.resolution?.train.usedFallback).toBe(false);
    expect(dense?.resolution?.test).toMatchObject({ primaryMissing: true, usedFallback: true });
    expect(jobs[2]?.trainDataPath).toBe(`${D}/dose_1000/sparse/sparse_train.npz`);
  });

  it("skips a missing view in non-strict mode with the exact reason", () => {
    makeTree();
    rmSync(path.join(D, "dose_1000", "sparse"), { recursive: true });
    const lines: string[] = [];
    const { jobs, skipped } = buildTrainingJobs({
      phaseCRoot: C,
      phaseDRoot: D,
      artifactRoot: A,
      allowMissingPhaseD: true,
      onSkip: (l) => lines.push(l),
    });
    expect(jobs).toHaveLength(8);
    const reason = "NPZ files not found (train=False, test=False). Checked primary (sparse_train.npz/sparse_test.npz) and fallback (train.npz/test.npz).";
    expect(skipped).toEqual([{ dose: 1000, view: "sparse", reason }]);
    expect(lines).toEqual([`Skipping sparse view for dose=1e+03: ${reason}`]);
  });

  it("reports the resolved splits' existence separately", () => {
    makeTree();
    rmSync(path.join(D, "dose_10000", "dense", "test.npz"));
    const { skipped } = buildTrainingJobs({ phaseCRoot: C, phaseDRoot: D, artifactRoot: A, allowMissingPhaseD: true });
    expect(skipped[0]?.reason).toBe(skipReason("dense", true, false));
    expect(skipped[0]?.reason).toContain("(train=True, test=False)");
  });

  it("gives 6 jobs when every sparse view is missing", () => {
    makeTree({ views: ["dense"] });
    const r = buildTrainingJobs({ phaseCRoot: C, phaseDRoot: D, artifactRoot: A, allowMissingPhaseD: true });
    expect(r.jobs).toHaveLength(6);
    expect(r.skipped.map((s) => s.view)).toEqual(["sparse", "sparse", "sparse"]);
  });

  it("strict mode throws FileNotFoundError naming the fallback path", () => {
    makeTree({ views: ["dense"] });
    try {
      buildTrainingJobs({ phaseCRoot: C, phaseDRoot: D, artifactRoot: A });
      expect.unreachable();
    } catch (e) {
      expect(isStudyError(e, "ERR_STUDY_FILE_NOT_FOUND")).toBe(true);
      expect((e as Error).message).toBe(`Training dataset not found: ${D}/dose_1000/sparse/train.npz`);
    }
  });

  it("baseline is always strict", () => {
    makeTree();
    rmSync(path.join(C, "dose_10000", "patched_test.npz"));
    expect(() => buildTrainingJobs({ phaseCRoot: C, phaseDRoot: D, artifactRoot: A, allowMissingPhaseD: true })).toThrow(
      `Test dataset not found: ${C}/dose_10000/patched_test.npz`,
    );
  });

  it("flags the flat Phase D layout and does not use it", () => {
    makeTree({ views: ["dense"] });
    touch(path.join(D, "dose_1000", "sparse_train.npz"));
    touch(path.join(D, "dose_1000", "sparse_test.npz"));
    const r = buildTrainingJobs({ phaseCRoot: C, phaseDRoot: D, artifactRoot: A, allowMissingPhaseD: true });
    expect(r.flatLayoutDetected).toBe(true);
    expect(r.warnings.filter((w) => w.kind === "flat-layout")).toHaveLength(2);
    expect(r.skipped.map((s) => `${s.dose}/${s.view}`)).toContain("1000/sparse");
    expect(r.jobs.some((j) => j.trainDataPath.endsWith("dose_1000/sparse_train.npz"))).toBe(false);
  });

  it("keeps '..' and relative roots as given", () => {
    makeTree();
    const rel = path.relative(process.cwd(), root);
    const Cx = `${rel}/x/../phase_c`;
    mkdirSync(path.join(root, "x"), { recursive: true }); // ".." is resolved by the kernel, so x must exist
    const { jobs } = buildTrainingJobs({ phaseCRoot: `${Cx}/`, phaseDRoot: `${rel}//phase_d`, artifactRoot: "out/./e" });
    expect(jobs[0]?.trainDataPath).toBe(`${Cx}/dose_1000/patched_train.npz`);
    expect(jobs[1]?.trainDataPath).toBe(`${rel}/phase_d/dose_1000/dense/train.npz`);
    expect(jobs[0]?.artifactDir).toBe("out/e/dose_1000/baseline/gs1");
  });
});

describe("makeTrainingJob()", () => {
  it("checks view, gridsize, then existence, with the reference messages", () => {
    touch(path.join(root, "t.npz"));
    const base = {
      dose: 1000,
      view: "baseline" as const,
      gridsize: 1 as const,
      trainDataPath: path.join(root, "t.npz"),
      testDataPath: path.join(root, "t.npz"),
      artifactDir: "a",
      logPath: "a/train.log",
    };
    expect(() => makeTrainingJob({ ...base, view: "bogus" as never })).toThrow("Invalid view 'bogus'. Expected one of: {'baseline', 'dense', 'sparse'}");
    expect(() => makeTrainingJob({ ...base, gridsize: 2 })).toThrow("Baseline jobs must use gridsize=1, got 2");
    expect(() => makeTrainingJob({ ...base, view: "dense" })).toThrow("Overlap jobs (dense) must use gridsize=2, got 1");
    expect(() => makeTrainingJob({ ...base, testDataPath: path.join(root, "nope.npz") })).toThrow(`Test dataset not found: ${path.join(root, "nope.npz")}`);
    expect(makeTrainingJob(base)).toEqual(base);
  });
});

describe("selectJobs() (the CLI's filters)", () => {
  const count = (filters: Parameters<typeof filterJobs>[1]) =>
    selectJobs({ phaseCRoot: C, phaseDRoot: D, artifactRoot: A, allowMissingPhaseD: true, filters }).jobs.length;

  it("reproduces the test-pinned counts", () => {
    makeTree();
    expect(count({})).toBe(9);
    expect(count({ dose: 1000 })).toBe(3);
    expect(count({ dose: 1e3 })).toBe(3);
    expect(count({ view: "baseline" })).toBe(3);
    expect(count({ gridsize: 2 })).toBe(6);
    expect(count({ dose: 10000, view: "dense", gridsize: 2 })).toBe(1);
  });

  it("narrows the dose list before enumeration (other doses need not exist)", () => {
    makeTree({ doses: ["dose_1000"] });
    rmSync(path.join(D, "dose_1000", "sparse"), { recursive: true });
    const r = selectJobs({ phaseCRoot: C, phaseDRoot: D, artifactRoot: A, allowMissingPhaseD: true, filters: { dose: 1000 } });
    expect(r.jobs).toHaveLength(2);
    expect(r.skipped).toHaveLength(1);
    expect(r.steps).toEqual([{ filter: "dose", value: 1000, remaining: 2 }]);
  });

  it("accepts a dose outside the design with a warning", () => {
    makeTree({ doses: ["dose_1500"] });
    const r = selectJobs({ phaseCRoot: C, phaseDRoot: D, artifactRoot: A, allowMissingPhaseD: true, filters: { dose: 1500.7 } });
    expect(r.jobs).toHaveLength(3);
    expect(r.jobs[0]?.trainDataPath).toBe(`${C}/dose_1500/patched_train.npz`);
    expect(r.warnings.map((w) => w.kind)).toContain("dose-outside-design");
  });

  it("skips are recorded even when the view filter excludes them", () => {
    makeTree({ views: ["dense"] });
    const r = selectJobs({ phaseCRoot: C, phaseDRoot: D, artifactRoot: A, allowMissingPhaseD: true, filters: { view: "baseline" } });
    expect(r.jobs).toHaveLength(3);
    expect(r.skipped).toHaveLength(3);
  });
});

describe("doseDirName()", () => {
  it("truncates toward zero", () => {
    expect([1e3, 1e4, 1e5, 1500.7, 0.0015].map(doseDirName)).toEqual(["dose_1000", "dose_10000", "dose_100000", "dose_1500", "dose_0"]);
    expect(doseDirName(1e21)).toBe("dose_1000000000000000000000");
  });
});
