// inspect additions (issue 13): --stats against numpy's own statistics, --metadata, -r for
// directories, numpy dtype names and human sizes in the table, control characters escaped.
// The default --json shape is pinned by review-inspect.test.ts and stays unchanged.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { capture } from "../helpers/capture.js";
import { run } from "../../src/cli/inspect.js";

let dir = "";
let want: Record<string, { min: number; max: number; mean: number; nan: number; inf: number; zero: number }> = {};
// Inputs: test/fixtures/cli/inspect-more/ (written by numpy, test/fixtures/gen_inputs.py), copied
// into a temporary directory (this test adds and removes top.npz there). The expected statistics
// are numpy's own, computed here from the copied file.
const FX = fileURLToPath(new URL("../fixtures/cli/inspect-more/", import.meta.url));
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), "npzguard-inspect13-"));
  mkdirSync(path.join(dir, "sub"));
  for (const n of ["a.npz", "b.npy"]) copyFileSync(path.join(FX, "sub", n), path.join(dir, "sub", n));
  want = JSON.parse(
    execFileSync("python3", [
      "-c",
      String.raw`
import numpy as np, sys, json
with np.load(sys.argv[1] + "/sub/a.npz") as z:
    d, c = z["diffraction"], z["c\x07tl"]
out = {}
for k, a in [("diffraction", d), ("c\x07tl", c)]:
    f = a[np.isfinite(a)]
    out[k] = {"min": float(f.min()), "max": float(f.max()), "mean": float(f.astype(np.float64).mean()), "nan": int(np.isnan(a).sum()), "inf": int(np.isinf(a).sum()), "zero": int((a == 0).sum())}
print(json.dumps(out))
`,
      dir,
    ]).toString(),
  );
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("inspect --stats --metadata -r", () => {
  it("JSON: stats equal numpy's, metadata parsed, a directory expands with -r", async () => {
    const r = await capture(() => run(["-r", "--stats", "--metadata", "--json", dir]));
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { files: { path: string; metadata?: unknown; members: { key: string; stats?: Record<string, number> }[] }[] };
    expect(out.files.map((f) => path.basename(f.path))).toEqual(["a.npz", "b.npy"]);
    expect(out.files[0]!.metadata).toEqual({ nphotons: 1000 });
    for (const [k, w] of Object.entries(want)) {
      const s = out.files[0]!.members.find((m) => m.key === k)!.stats!;
      expect(s.min, k).toBeCloseTo(w.min, 5);
      expect(s.max, k).toBeCloseTo(w.max, 5);
      expect(s.mean, k).toBeCloseTo(w.mean, 5);
      expect([s.nan, s.inf, s.zero], k).toEqual([w.nan, w.inf, w.zero]);
    }
  });

  it("text: numpy names beside descr, human sizes, control characters escaped", async () => {
    const r = await capture(() => run(["--stats", path.join(dir, "sub", "a.npz")]));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/diffraction\s+float32\s+<f4\s+4x8x8\s+C\s+deflated\s+1\.00 KiB/);
    expect(r.stdout).toContain("c\\x07tl");
    expect(r.stdout).not.toContain("c\x07tl");
  });

  it("inspect DIR (no -r): the .npz/.npy files directly in it, sorted; subdirectories only with -r", async () => {
    const sub = path.join(dir, "sub");
    const top = path.join(dir, "top.npz");
    copyFileSync(path.join(FX, "top.npz"), top);
    try {
      const flat = await capture(() => run([sub, "--json"]));
      expect(flat.code, flat.stderr).toBe(0);
      const names = (out: string) => (JSON.parse(out) as { files: { path: string; members: unknown[] }[] }).files.map((f) => path.relative(dir, f.path));
      expect(names(flat.stdout)).toEqual([path.join("sub", "a.npz"), path.join("sub", "b.npy")]);
      // dir holds top.npz and sub/: without -r only top.npz, with -r all three.
      expect(names((await capture(() => run([dir, "--json"]))).stdout)).toEqual(["top.npz"]);
      expect(names((await capture(() => run([dir, "-r", "--json"]))).stdout)).toEqual(["sub/a.npz", "sub/b.npy", "top.npz"]);
      const text = await capture(() => run([sub]));
      expect(text.code).toBe(0);
      expect(text.stdout).toContain(`${path.join(sub, "a.npz")} (npz, 3 members)`);
      expect(text.stdout).toContain(`${path.join(sub, "b.npy")} (npy, 1 member)`);
    } finally {
      rmSync(top);
    }
    // No .npz/.npy file directly in dir (sub/ is not entered): nothing to inspect, a usage error.
    const none = await capture(() => run([dir]));
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("no .npz/.npy files in");
  });
});
