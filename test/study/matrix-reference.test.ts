// The study matrix against the reference semantics (study-fly64-dose-overlap.md §3-§6, §10.3):
// job order, primary/fallback names, skip reasons, path joins, the Phase C root guard.
// (`npzguard plan` on the same trees: test/cli/plan-reference.test.ts.)
import { mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { StudyDesign, isStudyError } from "../../src/study/design.js";
import { buildTrainingJobs, doseDirName, makeTrainingJob, selectJobs, validatePhaseCRoot } from "../../src/study/matrix.js";
import { pyJoin } from "../../src/python/path.js";
import { useRelativeTree } from "../helpers/relative-tree.js";

const tree = useRelativeTree("npzguard-matrix-ref-");
const { touch, fullTree } = tree;

describe("buildTrainingJobs() (study §5)", () => {
  it("keeps the design's dose order and truncates dose_<int> toward zero", () => {
    fullTree(["dose_100000", "dose_1500"]);
    const design = new StudyDesign({ doseList: [1e5, 1500.7] });
    const { jobs } = buildTrainingJobs({ phaseCRoot: "C", phaseDRoot: "D", artifactRoot: "A", design });
    expect(jobs.map((j) => `${j.dose}/${j.view}`)).toEqual([
      "100000/baseline",
      "100000/dense",
      "100000/sparse",
      "1500.7/baseline",
      "1500.7/dense",
      "1500.7/sparse",
    ]);
    expect(jobs[3]?.trainDataPath).toBe("C/dose_1500/patched_train.npz");
    expect(jobs[3]?.artifactDir).toBe("A/dose_1500/baseline/gs1");
    expect(doseDirName(1e3)).toBe("dose_1000");
    expect(doseDirName(0.0015)).toBe("dose_0");
  });

  it("resolves primary and fallback names per split independently", () => {
    fullTree(["dose_1000"]);
    touch("D/dose_1000/dense/dense_train.npz"); // primary only for train
    const { jobs } = buildTrainingJobs({ phaseCRoot: "C", phaseDRoot: "D", artifactRoot: "A", design: new StudyDesign({ doseList: [1000] }) });
    const dense = jobs.find((j) => j.view === "dense");
    expect(dense?.trainDataPath).toBe("D/dose_1000/dense/dense_train.npz");
    expect(dense?.testDataPath).toBe("D/dose_1000/dense/test.npz");
    expect(dense?.resolution?.train.usedFallback).toBe(false);
    expect(dense?.resolution?.test.usedFallback).toBe(true);
    // field for field the reference TrainingJob
    expect(dense).toEqual({
      dose: 1000,
      view: "dense",
      gridsize: 2,
      trainDataPath: "D/dose_1000/dense/dense_train.npz",
      testDataPath: "D/dose_1000/dense/test.npz",
      artifactDir: "A/dose_1000/dense/gs2",
      logPath: "A/dose_1000/dense/gs2/train.log",
    });
    expect(Object.keys(dense ?? {})).toEqual(["dose", "view", "gridsize", "trainDataPath", "testDataPath", "artifactDir", "logPath"]);
  });

  it("skips with the exact Python reason, or (strict) names the FALLBACK path", () => {
    fullTree(["dose_1000"]);
    rmSync(path.join(tree.root, "D/dose_1000/sparse/test.npz"));
    touch("D/dose_1000/sparse/sparse_test.npz.bak");
    const design = new StudyDesign({ doseList: [1000] });
    const r = buildTrainingJobs({ phaseCRoot: "C", phaseDRoot: "D", artifactRoot: "A", design, allowMissingPhaseD: true });
    expect(r.jobs).toHaveLength(2);
    expect(r.skipped).toEqual([
      {
        dose: 1000,
        view: "sparse",
        reason: "NPZ files not found (train=True, test=False). Checked primary (sparse_train.npz/sparse_test.npz) and fallback (train.npz/test.npz).",
      },
    ]);
    let err: unknown;
    try {
      buildTrainingJobs({ phaseCRoot: "C", phaseDRoot: "D", artifactRoot: "A", design });
    } catch (e) {
      err = e;
    }
    expect(isStudyError(err, "ERR_STUDY_FILE_NOT_FOUND")).toBe(true);
    expect((err as Error).message).toBe("Test dataset not found: D/dose_1000/sparse/test.npz");
  });

  it("TrainingJob checks: view first (fixed set order), then gridsize", () => {
    const base = { dose: 1000, trainDataPath: "nope", testDataPath: "nope", artifactDir: "A", logPath: "A/train.log" };
    expect(() => makeTrainingJob({ ...base, view: "diagonal" as "dense", gridsize: 3 as 2 })).toThrow(
      "Invalid view 'diagonal'. Expected one of: {'baseline', 'dense', 'sparse'}",
    );
    expect(() => makeTrainingJob({ ...base, view: "baseline", gridsize: 2 as 1 })).toThrow("Baseline jobs must use gridsize=1, got 2");
    expect(() => makeTrainingJob({ ...base, view: "sparse", gridsize: 1 as 2 })).toThrow("Overlap jobs (sparse) must use gridsize=2, got 1");
  });

  it("joins like pathlib: keeps '..', relative stays relative, '/' does not become '//'", () => {
    mkdirSync(path.join(tree.root, "sub"));
    fullTree(["dose_1000"]);
    const design = new StudyDesign({ doseList: [1000] });
    const { jobs } = buildTrainingJobs({ phaseCRoot: "sub/../C/", phaseDRoot: "./D//.", artifactRoot: "../x/A", design });
    expect(jobs[0]?.trainDataPath).toBe("sub/../C/dose_1000/patched_train.npz");
    expect(jobs[1]?.testDataPath).toBe("D/dose_1000/dense/test.npz");
    expect(jobs[2]?.logPath).toBe("../x/A/dose_1000/sparse/gs2/train.log");
    expect(pyJoin("/", "dose_1000", "x.npz")).toBe("/dose_1000/x.npz");
    expect(pyJoin("//", "x")).toBe("//x");
  });

  it("flags the flat Phase D layout and never uses it", () => {
    touch("C/dose_1000/patched_train.npz");
    touch("C/dose_1000/patched_test.npz");
    for (const s of ["dense_train", "dense_test", "sparse_train", "sparse_test"]) touch(`D/dose_1000/${s}.npz`);
    const r = selectJobs({ phaseCRoot: "C", phaseDRoot: "D", artifactRoot: "A", allowMissingPhaseD: true, filters: { dose: 1000 } });
    expect(r.flatLayoutDetected).toBe(true);
    expect(r.jobs.map((j) => j.view)).toEqual(["baseline"]);
    expect(r.skipped.map((s) => s.view)).toEqual(["dense", "sparse"]);
    expect(r.warnings.filter((w) => w.kind === "flat-layout")).toHaveLength(4);
  });

  it("a dose outside the design is accepted with a warning", () => {
    fullTree(["dose_2000"]);
    const r = selectJobs({ phaseCRoot: "C", phaseDRoot: "D", artifactRoot: "A", allowMissingPhaseD: true, filters: { dose: 2000 } });
    expect(r.jobs).toHaveLength(3);
    expect(r.warnings.map((w) => w.kind)).toContain("dose-outside-design");
  });
});

describe("validatePhaseCRoot() (study §3.3, directory-level PHASEC-METADATA-001 guard)", () => {
  const message = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      return (e as Error).message;
    }
    return null;
  };
  it("reproduces the guard's messages in order: root, dose dirs, split files", () => {
    expect(message(() => validatePhaseCRoot("C"))).toBe("Phase C root directory not found: C. Phase C generation may not have completed.");
    mkdirSync(path.join(tree.root, "C"));
    expect(message(() => validatePhaseCRoot("C"))).toBe("No Phase C dose directories found under C. Expected pattern: dose_*/");
    touch("C/dose_1000/patched_train.npz");
    expect(message(() => validatePhaseCRoot("C"))).toBe(
      "Phase C test NPZ file not found: C/dose_1000/patched_test.npz. Expected: patched_test.npz in C/dose_1000",
    );
    touch("C/dose_1000/patched_test.npz");
    expect(validatePhaseCRoot("C")).toEqual(["C/dose_1000/patched_train.npz", "C/dose_1000/patched_test.npz"]);
  });
});
