import { appendFileSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { CheckOptions, Report } from "../../src/contract/types.js";
import { CACHE_FILE } from "../../src/gate/cache.js";
import { StudyDesign } from "../../src/study/design.js";
import { buildTrainingJobs } from "../../src/study/matrix.js";
import { planStudy, verifyJobs, type CheckFileFn } from "../../src/gate/preflight.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, "..", "..");
const FIX = path.join(REPO, "test", "fixtures", "study");
const DOSES = ["dose_1000", "dose_10000", "dose_100000"];

let root: string, C: string, D: string, A: string;

/** A complete study tree built from the committed fixtures (copies, so each file has its own inode). */
function makeTree(views = ["dense", "sparse"]): void {
  for (const X of DOSES) {
    mkdirSync(path.join(C, X), { recursive: true });
    for (const s of ["train", "test"]) copyFileSync(path.join(FIX, "phase_c", X, `patched_${s}.npz`), path.join(C, X, `patched_${s}.npz`));
    for (const v of views) {
      mkdirSync(path.join(D, X, v), { recursive: true });
      for (const s of ["train", "test"]) copyFileSync(path.join(FIX, "phase_d", `${s}.npz`), path.join(D, X, v, `${s}.npz`));
    }
  }
}

function fakeReport(p: string, options: CheckOptions, ok: boolean): Report {
  return {
    path: p,
    ok,
    profile: options.profile ?? "study",
    mode: options.mode ?? "full",
    referenceVerdict: ok ? { status: "pass" } : { status: "fail", error: "Dataset validation failed: ValueError: x" },
    violations: ok
      ? [{ rule: "data001/coords-precision", severity: "info", key: "xcoords", message: "float32", finding: "DATA-001" }]
      : [
          {
            rule: "data001/diffraction-finite",
            severity: "error",
            key: "diffraction",
            message: "diffraction contains 1 non-finite values",
            finding: "DATA-001",
            hint: "regenerate",
          },
        ],
    notEvaluated: [],
    members: [],
    stats: {},
    digest: { size: 0, mtimeMs: 0, inode: 0, members: [] },
    durationMs: 1,
  };
}

/** A checker that records its calls; files whose path contains "BAD" (or listed) fail. */
function fakeChecker(bad: (p: string) => boolean = () => false) {
  const calls: { path: string; options: CheckOptions }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const fn: CheckFileFn = async (p, options) => {
    calls.push({ path: p, options });
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise((r) => setImmediate(r));
    inFlight--;
    return fakeReport(p, options, !bad(p));
  };
  return { fn, calls, maxInFlight: () => maxInFlight };
}

beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), "npzguard-preflight-"));
  C = path.join(root, "phase_c");
  D = path.join(root, "phase_d");
  A = path.join(root, "phase_e");
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe("verifyJobs()", () => {
  it("checks every input once with the job's context, files in parallel", async () => {
    makeTree();
    const { jobs } = buildTrainingJobs({ phaseCRoot: C, phaseDRoot: D, artifactRoot: A });
    const ck = fakeChecker();
    const r = await verifyJobs(jobs, { checkFile: ck.fn, cache: false });
    expect(ck.calls).toHaveLength(18);
    expect(ck.maxInFlight()).toBeGreaterThan(1);
    expect(r.jobs.every((j) => j.verified)).toBe(true);
    expect(r.blocked).toEqual([]);
    expect(Object.keys(r.reports)).toHaveLength(18);
    const base = ck.calls.find((c) => c.path === `${C}/dose_10000/patched_train.npz`);
    expect(base?.options).toEqual({ profile: "tensorflow", gridsize: 1, neighborCount: 4, nGroups: 512, dose: 10000, role: "phase-c", mode: "full" });
    const dense = ck.calls.find((c) => c.path === `${D}/dose_1000/dense/test.npz`);
    expect(dense?.options).toMatchObject({ gridsize: 2, role: "phase-d", dose: 1000, neighborCount: 4, nGroups: 512 });
  });

  it("passes backend, K, n_groups and mode through", async () => {
    makeTree();
    const { jobs } = buildTrainingJobs({ phaseCRoot: C, phaseDRoot: D, artifactRoot: A });
    const ck = fakeChecker();
    await verifyJobs(jobs.slice(0, 2), { checkFile: ck.fn, cache: false, backend: "pytorch", neighborCount: 6, nGroups: 64, mode: "header" });
    for (const c of ck.calls) expect(c.options).toMatchObject({ profile: "pytorch", neighborCount: 6, nGroups: 64, mode: "header" });
  });

  it("checks a file shared by several jobs once", async () => {
    makeTree();
    const design = new StudyDesign({ doseList: [1e3, 1e3] });
    const { jobs } = buildTrainingJobs({ phaseCRoot: C, phaseDRoot: D, artifactRoot: A, design });
    expect(jobs).toHaveLength(6);
    const ck = fakeChecker();
    const r = await verifyJobs(jobs, { checkFile: ck.fn, cache: false });
    expect(ck.calls).toHaveLength(6);
    expect(r.stats.files).toBe(6);
    expect(r.jobs).toHaveLength(6);
  });

  it("a violation in one file blocks exactly the jobs using it", async () => {
    makeTree();
    const badFile = `${D}/dose_10000/dense/test.npz`;
    const { jobs } = buildTrainingJobs({ phaseCRoot: C, phaseDRoot: D, artifactRoot: A });
    const ck = fakeChecker((p) => p === badFile);
    const r = await verifyJobs(jobs, { checkFile: ck.fn, cache: false });
    expect(r.jobs.filter((j) => !j.verified).map((j) => `${j.dose}/${j.view}`)).toEqual(["10000/dense"]);
    expect(r.blocked).toHaveLength(1);
    expect(r.blocked[0]).toMatchObject({ dose: 10000, view: "dense", gridsize: 2, path: badFile });
    expect(r.blocked[0]?.violations.map((v) => v.rule)).toEqual(["data001/diffraction-finite"]);
    const blockedJob = r.jobs.find((j) => !j.verified);
    expect(blockedJob?.violations.map((v) => v.rule)).toEqual(["data001/diffraction-finite"]);
  });

  it("fails closed when the checker throws", async () => {
    makeTree();
    const { jobs } = buildTrainingJobs({ phaseCRoot: C, phaseDRoot: D, artifactRoot: A });
    const thrower: CheckFileFn = async (p, o) => {
      if (p.endsWith("dose_1000/patched_test.npz")) throw Object.assign(new Error("boom"), { code: "ERR_NPZ_NOT_ZIP" });
      return fakeReport(p, o, true);
    };
    const r = await verifyJobs(jobs, { checkFile: thrower, cache: false });
    expect(r.blocked.map((b) => b.path)).toEqual([`${C}/dose_1000/patched_test.npz`]);
    expect(r.blocked[0]?.violations[0]?.rule).toBe("npz/readable");
  });
});

describe("verification cache", () => {
  it("re-checks only files whose size or mtime changed", async () => {
    makeTree();
    const { jobs } = buildTrainingJobs({ phaseCRoot: C, phaseDRoot: D, artifactRoot: A });
    const first = fakeChecker();
    const r1 = await verifyJobs(jobs, { checkFile: first.fn, artifactRoot: A });
    expect(first.calls).toHaveLength(18);
    expect(r1.stats).toMatchObject({ hits: 0, stores: 18 });
    expect(existsSync(path.join(A, CACHE_FILE))).toBe(true);

    const warm = fakeChecker();
    const r2 = await verifyJobs(jobs, { checkFile: warm.fn, artifactRoot: A });
    expect(warm.calls).toHaveLength(0);
    expect(r2.stats.hits).toBe(18);
    expect(r2.jobs.every((j) => j.verified)).toBe(true);

    const mtimeChanged = `${D}/dose_1000/sparse/train.npz`;
    utimesSync(mtimeChanged, new Date(), new Date(Date.now() + 5000));
    const sizeChanged = `${C}/dose_100000/patched_test.npz`;
    appendFileSync(sizeChanged, Buffer.alloc(3));
    const third = fakeChecker();
    await verifyJobs(jobs, { checkFile: third.fn, artifactRoot: A });
    expect(third.calls.map((c) => c.path).sort()).toEqual([sizeChanged, mtimeChanged].sort());
  });

  it("keys entries by the check options", async () => {
    makeTree();
    const { jobs } = buildTrainingJobs({ phaseCRoot: C, phaseDRoot: D, artifactRoot: A });
    await verifyJobs(jobs, { checkFile: fakeChecker().fn, artifactRoot: A });
    const header = fakeChecker();
    await verifyJobs(jobs, { checkFile: header.fn, artifactRoot: A, mode: "header" });
    expect(header.calls).toHaveLength(18);
    const k = fakeChecker();
    await verifyJobs(jobs, { checkFile: k.fn, artifactRoot: A, neighborCount: 7 });
    expect(k.calls).toHaveLength(18);
  });

  it("is bypassed with cache: false and survives a corrupt cache file", async () => {
    makeTree();
    const { jobs } = buildTrainingJobs({ phaseCRoot: C, phaseDRoot: D, artifactRoot: A });
    await verifyJobs(jobs, { checkFile: fakeChecker().fn, artifactRoot: A });
    const nc = fakeChecker();
    await verifyJobs(jobs, { checkFile: nc.fn, artifactRoot: A, cache: false });
    expect(nc.calls).toHaveLength(18);
    writeFileSync(path.join(A, CACHE_FILE), "{garbage");
    const again = fakeChecker();
    await verifyJobs(jobs, { checkFile: again.fn, artifactRoot: A });
    expect(again.calls).toHaveLength(18);
    const warm = fakeChecker();
    await verifyJobs(jobs, { checkFile: warm.fn, artifactRoot: A });
    expect(warm.calls).toHaveLength(0);
  });

  it("does not cache reports of files that could not be read", async () => {
    makeTree();
    const { jobs } = buildTrainingJobs({ phaseCRoot: C, phaseDRoot: D, artifactRoot: A });
    const reader: CheckFileFn = async (p, o) => {
      const r = fakeReport(p, o, !p.endsWith("dose_1000/patched_train.npz"));
      return p.endsWith("dose_1000/patched_train.npz") ? { ...r, readError: { code: "ERR_NPZ_OPEN", message: "EACCES" } } : r;
    };
    await verifyJobs(jobs, { checkFile: reader, artifactRoot: A });
    const again = fakeChecker();
    await verifyJobs(jobs, { checkFile: again.fn, artifactRoot: A });
    expect(again.calls.map((c) => c.path)).toEqual([`${C}/dose_1000/patched_train.npz`]);
  });
});

describe("planStudy()", () => {
  it("plans without verifying when verify is false (zero-byte files pass)", async () => {
    for (const X of DOSES) {
      for (const f of ["patched_train.npz", "patched_test.npz"]) {
        mkdirSync(path.join(C, X), { recursive: true });
        writeFileSync(path.join(C, X, f), "");
      }
    }
    const r = await planStudy({ phaseCRoot: C, phaseDRoot: D, artifactRoot: A, verify: false });
    expect(r.jobs).toHaveLength(3);
    expect(r.skipped).toHaveLength(6);
    expect(r.verifiedRun).toBe(false);
    expect(existsSync(A)).toBe(false);
  });
});

// The contract engine and the native addon are part of every build: these tests never skip.
describe("planStudy() with the contract engine", () => {
  it("verifies the fixture tree, blocks the invalid file's job, and re-runs from the cache", async () => {
    makeTree();
    copyFileSync(path.join(FIX, "invalid", "bad_diffraction.npz"), `${D}/dose_10000/sparse/test.npz`);
    const r = await planStudy({ phaseCRoot: C, phaseDRoot: D, artifactRoot: A, verify: {} });
    expect(r.jobs).toHaveLength(9);
    expect(r.jobs.filter((j) => !j.verified).map((j) => `${j.dose}/${j.view}`)).toEqual(["10000/sparse"]);
    expect(r.blocked.map((b) => b.path)).toEqual([`${D}/dose_10000/sparse/test.npz`]);
    expect(r.stats?.checked).toBe(18);
    const warm = await planStudy({ phaseCRoot: C, phaseDRoot: D, artifactRoot: A, verify: {} });
    expect(warm.stats?.checked).toBe(0);
    expect(warm.stats?.hits).toBe(18);
    expect(warm.blocked).toHaveLength(1);
  });

  it("rejects zero-byte inputs in verify mode", async () => {
    makeTree();
    writeFileSync(`${C}/dose_1000/patched_train.npz`, "");
    const r = await planStudy({ phaseCRoot: C, phaseDRoot: D, artifactRoot: A, verify: { cache: false } });
    expect(r.blocked.map((b) => `${b.dose}/${b.view}`)).toEqual(["1000/baseline"]);
    expect(r.blocked[0]?.violations.some((v) => v.rule === "npz/readable")).toBe(true);
  });
});
