// Per-frame findings from the value scan itself (issue 13, data-001.md §6.6): a zero-energy
// frame is reported (info, with the frames it points at) even when it is the file's only fault,
// and the per-row tallies behind it agree with numpy for every scannable dtype, STORED and
// DEFLATED, including a STORED member large enough that the scan is split over two threads.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { capture } from "../helpers/capture.js";
import { run } from "../../src/cli/check.js";
import { checkFile } from "../../src/contract/check.js";
import { openNpz } from "../../src/npz.js";

let dir = "";
const VALID = path.resolve("test/fixtures/contract/valid.npz");

/** numpy: the contract fixture tiled to 30 frames, then `edit` applied to d (the stack) / z. */
function writeStudyFile(name: string, edit: string, compressed = false): string {
  const out = path.join(dir, name);
  execFileSync("python3", [
    "-c",
    `
import numpy as np, sys
z = dict(np.load(sys.argv[1], allow_pickle=True))
d = np.tile(z["diffraction"], (3, 1, 1)) + np.float32(0.25)
for k in ["xcoords", "ycoords", "xcoords_start", "ycoords_start"]: z[k] = np.tile(z[k], 3)
z["scan_index"] = np.arange(30)
${edit}
z["diffraction"] = d
(np.savez_compressed if sys.argv[3] == "1" else np.savez)(sys.argv[2], **z)
`,
    VALID,
    out,
    compressed ? "1" : "0",
  ]);
  return out;
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), "npzguard-zero-frames-"));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function cli(...argv: string[]) {
  return capture(() => run(argv));
}

type JsonViolation = { rule: string; severity: string; key: string | null; message: string; frames?: unknown };
function violations(stdout: string): JsonViolation[] {
  return (JSON.parse(stdout) as { files: { violations: JsonViolation[] }[] }).files[0]!.violations;
}

describe("check: one all-zero frame is reported when it is the only fault", () => {
  for (const compressed of [false, true]) {
    it(`${compressed ? "deflated" : "stored"}: info finding naming frame 17, exit 0, JSON frames`, async () => {
      const f = writeStudyFile(`only17_${compressed ? "z" : "s"}.npz`, "d[17] = 0", compressed);
      const t = await cli(f);
      expect(t.code).toBe(0);
      expect(t.stdout).toContain("  info    data001/diffraction-nonzero [diffraction]: diffraction has 1 zero-energy frame (every value 0): 17\n");
      const j = await cli(f, "--json");
      expect(j.code).toBe(0);
      const v = violations(j.stdout).filter((x) => x.frames !== undefined);
      expect(v).toEqual([
        {
          rule: "data001/diffraction-nonzero",
          severity: "info",
          key: "diffraction",
          message: "diffraction has 1 zero-energy frame (every value 0): 17",
          finding: "DATA-001",
          frames: { first: [17], counts: [64 * 64], total: 1, values: 64 * 64 },
        },
      ]);
    });
  }

  it("many zero frames: the first 8 are named, the total is counted, -0.0 counts as zero", async () => {
    const f = writeStudyFile("many.npz", "d[[1, 3, 4, 8, 9, 10, 12, 20, 21, 29]] = 0; d[3] = -0.0");
    const r = await checkFile(f);
    expect(r.ok).toBe(true);
    const v = r.violations.find((x) => x.rule === "data001/diffraction-nonzero")!;
    expect(v.severity).toBe("info");
    expect(v.message).toBe("diffraction has 10 zero-energy frames (every value 0): 1, 3, 4, 8, 9, 10, 12, 20, ...");
    expect(v.frames).toEqual({ first: [1, 3, 4, 8, 9, 10, 12, 20], counts: Array(8).fill(4096), total: 10, values: 40960 });
  });

  it("a wholly zero stack stays one error (no per-frame info on top)", async () => {
    const r = await checkFile(writeStudyFile("allzero.npz", "d[:] = 0"));
    const v = r.violations.filter((x) => x.rule === "data001/diffraction-nonzero");
    expect(v.map((x) => [x.severity, x.message])).toEqual([["error", "diffraction amplitudes are all zero"]]);
  });

  it("negative values name their frames too (text note and JSON)", async () => {
    const f = writeStudyFile("neg.npz", "d[4, 0, :3] = -1; d[25, 7, 7] = -2");
    const t = await cli(f);
    expect(t.code).toBe(1);
    const lines = t.stdout.split("\n");
    const i = lines.findIndex((l) => l.includes("data001/diffraction-nonnegative"));
    expect(lines[i + 1]).toBe("          frames: diffraction: 4 negative values in 2 frames: 4, 25");
    const v = violations((await cli(f, "--json")).stdout).find((x) => x.rule === "data001/diffraction-nonnegative")!;
    expect(v.frames).toEqual({ first: [4, 25], counts: [3, 1], total: 2, values: 4 });
  });

  it("a legacy (H, W, M) stack: rows of the first axis are not frames, so nothing is named", async () => {
    // Image row 0 is zero in every frame: in the legacy layout that is an all-zero first-axis row.
    const f = writeStudyFile("legacy.npz", "d[:, 0, :] = 0; d = np.ascontiguousarray(d.transpose(1, 2, 0))");
    const r = await checkFile(f);
    expect(r.violations.some((x) => x.rule === "data001/legacy-layout")).toBe(true);
    expect(r.violations.filter((x) => x.rule === "data001/diffraction-nonzero")).toEqual([]);
    expect(r.violations.filter((x) => x.frames)).toEqual([]);
  });
});

// numpy's answer for the per-row tallies of every member of a file (C-order, rank >= 2, >= 64
// values per row), as ArrayStats.rows spells it.
function numpyRows(file: string): Record<string, unknown> {
  const out = execFileSync(
    "python3",
    [
      "-c",
      String.raw`
import json, sys, numpy as np
res = {}
with np.load(sys.argv[1]) as z:
    for k in z.files:
        a = z[k]
        if a.ndim < 2 or a.shape[0] == 0 or a.size // a.shape[0] < 64 or np.isfortran(a): continue
        r = a.reshape(a.shape[0], -1)
        if a.dtype.kind == "c":
            r = np.stack([r.real, r.imag], axis=-1).reshape(a.shape[0], -1)
        if a.dtype.kind == "f" or a.dtype.kind == "c":
            nf = (~np.isfinite(r)).sum(axis=1)
        else:
            nf = np.zeros(a.shape[0], dtype=np.int64)
        neg = (r < 0).sum(axis=1) if a.dtype.kind != "b" else np.zeros(a.shape[0], dtype=np.int64)
        zero = (r == 0).all(axis=1)
        def tally(per, rows=None):
            idx = [int(i) for i in np.nonzero(per)[0]]
            cnt = [int(per[i]) for i in idx]
            return {"rows": len(idx), "values": int(sum(cnt)), "first": idx[:8], "counts": cnt[:8]}
        zper = np.where(zero, r.shape[1], 0)
        res[k] = {"rowElements": int(r.shape[1] // (2 if a.dtype.kind == "c" else 1)), "rows": int(a.shape[0]),
                  "zero": tally(zper), "nonfinite": tally(nf), "negative": tally(neg)}
print(json.dumps(res))
`,
      file,
    ],
    { encoding: "utf8" },
  );
  return JSON.parse(out) as Record<string, unknown>;
}

describe("ArrayStats.rows (scan) equals numpy", () => {
  let small = "";
  let smallZ = "";
  beforeAll(() => {
    small = path.join(dir, "dtypes.npz");
    smallZ = path.join(dir, "dtypes_z.npz");
    execFileSync("python3", [
      "-c",
      String.raw`
import numpy as np, sys
rng = np.random.default_rng(7)
def stack(dt, shape=(20, 9, 8)):
    a = (rng.integers(0, 4, size=shape)).astype(dt)
    a[[2, 11]] = 0
    if np.dtype(dt).kind in "fc":
        a[5].reshape(-1)[[0, 3]] = np.nan
        a[13, 1, 1] = np.inf
    if np.dtype(dt).kind in "ifc":
        a[7, 0, 0] = -1
    return a
arrs = {k: stack(dt) for k, dt in [("f2", "<f2"), ("f4", "<f4"), ("f8", "<f8"), ("bf4", ">f4"), ("i2", "<i2"),
        ("bi8", ">i8"), ("u1", "u1"), ("u4", "<u4"), ("c8", "<c8"), ("c16", "<c16"), ("bc8", ">c8")]}
b = stack(np.uint8) > 1; b[[2, 11]] = False
arrs["b1"] = b
arrs["f4_4d"] = stack("<f4", (16, 4, 4, 4))
arrs["f4_1d"] = np.zeros(100, "<f4")                      # rank 1: no rows
arrs["f4_small"] = np.zeros((10, 8, 7), "<f4")            # 56 values per row: no rows
arrs["f4_fortran"] = np.asfortranarray(stack("<f4"))      # rows not contiguous: no rows
c = stack("<c8"); c[9].real[:] = 0                        # real part zero, imaginary not: not a zero row
arrs["c8_half"] = c
np.savez(sys.argv[1], **arrs)
np.savez_compressed(sys.argv[2], **arrs)
`,
      small,
      smallZ,
    ]);
  });

  for (const which of ["stored", "deflated"] as const) {
    it(`every scannable dtype, ${which}`, async () => {
      const f = which === "stored" ? small : smallZ;
      const want = numpyRows(f);
      using npz = openNpz(f);
      const got: Record<string, unknown> = {};
      for (const m of npz.members()) {
        const s = await npz.scan(m.key);
        if (s.stats?.rows) got[m.key] = s.stats.rows;
      }
      expect(Object.keys(want).sort()).toEqual(["b1", "bc8", "bf4", "bi8", "c16", "c8", "c8_half", "f2", "f4", "f4_4d", "f8", "i2", "u1", "u4"].sort());
      expect(got).toEqual(want);
    });
  }

  it("a STORED member over 64 MiB (scanned by two threads, split at a row boundary) and its deflated copy", async () => {
    // 1101 frames of 128x128 float32 (72 MB): zero frames on both sides of the split (row 550),
    // more than 8 of them; NaNs and negatives in frames either side as well.
    const big = path.join(dir, "big.npz");
    const bigZ = path.join(dir, "big_z.npz");
    execFileSync("python3", [
      "-c",
      String.raw`
import numpy as np, sys
d = np.full((1101, 128, 128), 0.5, dtype="<f4")  # odd: half the elements is mid-row
d[[3, 549, 550, 600, 601, 602, 603, 604, 605, 1099]] = 0
d[551, 0, :5] = np.nan; d[2, 127, 127] = np.inf
d[0, 0, 0] = -1; d[549 - 1, 5, 5] = -3; d[1098].reshape(-1)[-7:] = -2
np.savez(sys.argv[1], diffraction=d)
np.savez_compressed(sys.argv[2], diffraction=d)
`,
      big,
      bigZ,
    ]);
    const want = numpyRows(big).diffraction;
    expect(want).toMatchObject({ zero: { rows: 10, first: [3, 549, 550, 600, 601, 602, 603, 604] } });
    for (const f of [big, bigZ]) {
      using npz = openNpz(f);
      const s = await npz.scan("diffraction");
      expect(s.stats?.rows).toEqual(want);
    }
    expect(readFileSync(big).length).toBeGreaterThan(64 * 2 ** 20);
  }, 60_000);
});
