import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { StudyDesign, StudyError, getStudyDesign, loadStudyDesign, isStudyError } from "../../src/study/design.js";
import { pyJsonDump } from "../../src/python/json.js";

function messageOf(fn: () => void): string {
  try {
    fn();
  } catch (e) {
    expect(isStudyError(e, "ERR_STUDY_DESIGN")).toBe(true);
    return (e as StudyError).message;
  }
  throw new Error("expected a StudyError");
}

describe("StudyDesign defaults", () => {
  it("holds the study constants and derived thresholds", () => {
    const d = getStudyDesign();
    expect(d.doseList).toEqual([1e3, 1e4, 1e5]);
    expect(d.gridsizes).toEqual([1, 2]);
    expect(d.neighborCount).toBe(7);
    expect(d.patchSizePixels).toBe(128);
    expect(d.overlapViews).toEqual({ dense: 0.7, sparse: 0.2 });
    expect(d.spacingThresholds).toEqual({ dense: 38.400000000000006, sparse: 102.4 });
    expect(d.rngSeeds).toEqual({ simulation: 42, grouping: 123, subsampling: 456 });
  });

  it("toDict() has the reference keys in order and dumps like Python", () => {
    const dict = new StudyDesign().toDict();
    expect(Object.keys(dict)).toEqual([
      "dose_list",
      "gridsizes",
      "neighbor_count",
      "patch_size_pixels",
      "overlap_views",
      "spacing_thresholds",
      "train_test_split_axis",
      "rng_seeds",
      "metrics_config",
    ]);
    // json.dumps(get_study_design().to_dict()) in CPython:
    expect(pyJsonDump(dict, null)).toBe(
      '{"dose_list": [1000.0, 10000.0, 100000.0], "gridsizes": [1, 2], "neighbor_count": 7, ' +
        '"patch_size_pixels": 128, "overlap_views": {"dense": 0.7, "sparse": 0.2}, ' +
        '"spacing_thresholds": {"dense": 38.400000000000006, "sparse": 102.4}, "train_test_split_axis": "y", ' +
        '"rng_seeds": {"simulation": 42, "grouping": 123, "subsampling": 456}, ' +
        '"metrics_config": {"ms_ssim_sigma": 1.0, "emphasize_phase": true, "report_amplitude": true, "frc_threshold": 0.5}}',
    );
  });
});

describe("StudyDesign#validate()", () => {
  it("rule 1: neighbor_count must cover C = max(gridsizes)^2", () => {
    expect(messageOf(() => new StudyDesign({ neighborCount: 3 }).validate())).toBe("neighbor_count=3 must be ≥ C=4 (gridsize²=2²) for K-choose-C oversampling");
    expect(messageOf(() => new StudyDesign({ gridsizes: [1, 3], neighborCount: 8 }).validate())).toBe(
      "neighbor_count=8 must be ≥ C=9 (gridsize²=3²) for K-choose-C oversampling",
    );
    expect(() => new StudyDesign({ neighborCount: 4 }).validate()).not.toThrow();
  });

  it("rule 2 fires before rule 3 (thresholds are derived at construction)", () => {
    const d = new StudyDesign({ overlapViews: { dense: 1.5 } });
    expect(d.spacingThresholds.dense).toBe(-64);
    expect(messageOf(() => d.validate())).toBe("overlap_views['dense']=1.5 must be in [0, 1)");
    expect(messageOf(() => new StudyDesign({ overlapViews: { dense: 0.7, sparse: NaN } }).validate())).toBe("overlap_views['sparse']=nan must be in [0, 1)");
    expect(messageOf(() => new StudyDesign({ overlapViews: { dense: -0.1 } }).validate())).toBe("overlap_views['dense']=-0.1 must be in [0, 1)");
  });

  it("rule 3: a non-positive derived threshold", () => {
    expect(messageOf(() => new StudyDesign({ patchSizePixels: -128 }).validate())).toBe("spacing_thresholds['dense']=-38.400000000000006 must be positive");
  });

  it("rules 4 and 5: doses", () => {
    expect(messageOf(() => new StudyDesign({ doseList: [] }).validate())).toBe("dose_list must not be empty");
    expect(messageOf(() => new StudyDesign({ doseList: [1e3, 0] }).validate())).toBe("All doses must be positive");
    expect(messageOf(() => new StudyDesign({ doseList: [-1] }).validate())).toBe("All doses must be positive");
  });

  it("empty gridsizes: documented deviation from Python's max() error", () => {
    expect(messageOf(() => new StudyDesign({ gridsizes: [] }).validate())).toBe("gridsizes must not be empty");
  });
});

describe("loadStudyDesign()", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "npzguard-design-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("reads a to_dict() file (spacing_thresholds ignored, recomputed)", () => {
    const f = path.join(dir, "d.json");
    writeFileSync(f, JSON.stringify({ dose_list: [500, 2e3], overlap_views: { dense: 0.5 }, spacing_thresholds: { dense: 1 } }));
    const d = loadStudyDesign(f);
    expect(d.doseList).toEqual([500, 2000]);
    expect(d.spacingThresholds).toEqual({ dense: 64 });
    expect(d.neighborCount).toBe(7);
  });

  it("round-trips the default design's dump", () => {
    const f = path.join(dir, "default.json");
    writeFileSync(f, pyJsonDump(new StudyDesign().toDict()));
    expect(loadStudyDesign(f).toDict()).toEqual(new StudyDesign().toDict());
  });

  it("validates after loading and reports bad files with ERR_STUDY_DESIGN", () => {
    const f = path.join(dir, "bad.json");
    writeFileSync(f, '{"overlap_views": {"dense": NaN}}');
    expect(messageOf(() => loadStudyDesign(f))).toBe("overlap_views['dense']=nan must be in [0, 1)");
    writeFileSync(f, '{"dose_lst": [1]}');
    expect(() => loadStudyDesign(f)).toThrow(StudyError);
    writeFileSync(f, "{not json");
    expect(() => loadStudyDesign(f)).toThrow(StudyError);
    expect(() => loadStudyDesign(path.join(dir, "missing.json"))).toThrow(StudyError);
  });
});
