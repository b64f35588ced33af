// `npzguard plan` against the reference semantics (study-fly64-dose-overlap.md §3-§6, §10.3) and
// issue 4's plan --json shape and cache rules, on trees built in a temp dir.
// (The study matrix functions themselves: test/study/matrix-reference.test.ts.)
import { copyFileSync, mkdirSync, rmSync, statSync, utimesSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { capture } from "../helpers/capture.js";
import { run } from "../../src/cli/plan.js";
import { useRelativeTree } from "../helpers/relative-tree.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const FIX = path.resolve(HERE, "..", "fixtures", "study");

const tree = useRelativeTree("npzguard-plan-ref-");
const { fullTree } = tree;

async function plan(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await capture(() => run(["--phase-c-root", "C", "--phase-d-root", "D", "--artifact-root", "A", ...args]));
  return { code: r.code, out: r.stdout, err: r.stderr };
}

interface PlanJson {
  jobs: Record<string, unknown>[];
  skipped_views: Record<string, unknown>[];
  blocked: Record<string, unknown>[];
  cache: { checked: number } | null;
}

describe("npzguard plan (issue 4 §3)", () => {
  it("--dose 1e3 selects the same jobs as --dose 1000; field names as in the issue", async () => {
    fullTree();
    const a = JSON.parse((await plan("--no-verify", "--json", "--dose", "1e3")).out) as PlanJson;
    const b = JSON.parse((await plan("--no-verify", "--json", "--dose", "1000")).out) as PlanJson;
    expect(a.jobs).toEqual(b.jobs);
    expect(a.jobs).toHaveLength(3);
    expect(Object.keys(a.jobs[0] ?? {})).toEqual([
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
    expect(a.jobs[0]?.train_data_path).toBe("C/dose_1000/patched_train.npz");
  });

  it("skipped_views and blocked entries carry the issue's fields", async () => {
    fullTree(["dose_1000"]);
    rmSync(path.join(tree.root, "D/dose_1000/sparse/train.npz"));
    const r = await plan("--json", "--dose", "1000");
    expect(r.code).toBe(1); // zero-byte files are rejected in verify mode
    const j = JSON.parse(r.out) as PlanJson;
    expect(Object.keys(j.skipped_views[0] ?? {})).toEqual(["dose", "view", "reason"]);
    expect(Object.keys(j.blocked[0] ?? {})).toEqual(["dose", "view", "gridsize", "path", "violations"]);
    expect(((j.blocked[0]?.violations ?? []) as { rule: string }[]).map((v) => v.rule)).toContain("npz/readable");
  });

  it("--strict names the view directory and the fallback path", async () => {
    fullTree(["dose_1000"]);
    rmSync(path.join(tree.root, "D/dose_1000/sparse/test.npz"));
    const r = await plan("--no-verify", "--strict", "--dose", "1000");
    expect(r.code).toBe(1);
    expect(r.err).toContain("D/dose_1000/sparse");
    expect(r.err).toContain("Test dataset not found: D/dose_1000/sparse/test.npz");
  });

  it("a non-finite --dose is a usage error", async () => {
    fullTree(["dose_1000"]);
    expect((await plan("--no-verify", "--dose", "nan")).code).toBe(2);
    expect((await plan("--no-verify", "--dose", "inf")).code).toBe(2);
  });

  it("the cache re-checks a file whose mtime or size changed, and only that file", async () => {
    for (const s of ["train", "test"]) {
      mkdirSync(path.join(tree.root, "C/dose_1000"), { recursive: true });
      copyFileSync(path.join(FIX, "phase_c/dose_1000", `patched_${s}.npz`), path.join(tree.root, `C/dose_1000/patched_${s}.npz`));
      for (const v of ["dense", "sparse"]) {
        mkdirSync(path.join(tree.root, `D/dose_1000/${v}`), { recursive: true });
        copyFileSync(path.join(FIX, "phase_d", `${s}.npz`), path.join(tree.root, `D/dose_1000/${v}/${s}.npz`));
      }
    }
    const checked = async () => {
      const r = await plan("--json", "--dose", "1000");
      expect(r.code).toBe(0);
      return (JSON.parse(r.out) as PlanJson).cache?.checked;
    };
    expect(await checked()).toBe(6); // 6 distinct (file, context) pairs
    expect(await checked()).toBe(0); // warm
    const f = path.join(tree.root, "D/dose_1000/dense/train.npz");
    const later = new Date(statSync(f).mtimeMs + 5000);
    utimesSync(f, later, later); // mtime only
    expect(await checked()).toBe(1);
    expect(await checked()).toBe(0);
    const before = statSync(f);
    copyFileSync(path.join(FIX, "phase_d", "test.npz"), f); // same inode, other size
    utimesSync(f, before.atime, before.mtime); // mtime restored: only the size differs
    expect(statSync(f).size).not.toBe(before.size);
    expect(await checked()).toBe(1);
  });
});
