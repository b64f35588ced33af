// Row reads (npz.array(key, { rows: [start, end] }) and loadNpy(path, { rows })) against numpy's
// own slices: numpy writes every dtype stored (np.savez) and deflated (np.savez_compressed) and
// the expected bytes of a[start:end] in native (little-endian) order; our rows must equal them
// byte for byte (strings: equal to numpy's str values). Plus refusals, zero-copy rules, and
// bounded memory when reading the first rows of a large deflated member.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadNpy, openNpz, NpzError } from "../../src/index.js";

const DTYPES = ["?", "i1", "u1", "<i2", "<u2", "<i4", "<u4", "<i8", "<u8", "<f2", "<f4", "<f8", "<c8", "<c16", ">i4", ">f8", ">c8", "<U5", "S3"];
const RANGES: [number, number][] = [
  [0, 1],
  [3, 5],
  [6, 7],
  [0, 7],
  [2, 2],
  [7, 7],
];

// The inputs (test/fixtures/rows/row-reads/, written by numpy with test/fixtures/gen_inputs.py):
// keys a0.. are the dtypes in order, as (7, 3, 2) arrays ((7, 3) for U/S), plus one_d,
// fortran_1d, fortran, zero_d and empty; plain.npy is a11 (<f8), big.npy a15 (>f8). numpy loads
// them here and computes the expected slices.
const FX = fileURLToPath(new URL("../fixtures/rows/row-reads/", import.meta.url));
const EXPECT = String.raw`
import numpy as np, json, sys, base64
dtypes = json.loads(sys.argv[2]); ranges = json.loads(sys.argv[3])
with np.load(sys.argv[1]) as z:
    arrs = {k: z[k] for k in z.files}
assert all(arrs["a%d" % i].dtype == np.dtype(d) for i, d in enumerate(dtypes)), "fixture dtypes differ from DTYPES"
exp = {}
for k, a in arrs.items():
    if a.ndim == 0 or (a.flags.f_contiguous and not a.flags.c_contiguous):
        continue
    e = {}
    for s, t in ranges:
        if t > a.shape[0]:
            continue
        sl = a[s:t]
        if a.dtype.kind in 'US':
            e["%d:%d" % (s, t)] = {"strings": [x.decode('latin-1') if isinstance(x, bytes) else str(x) for x in sl.reshape(-1).tolist()], "shape": list(sl.shape)}
        else:
            le = np.ascontiguousarray(sl).astype(sl.dtype.newbyteorder('<'))
            e["%d:%d" % (s, t)] = {"b64": base64.b64encode(le.tobytes()).decode(), "shape": list(sl.shape)}
    exp[k] = e
print(json.dumps(exp))
`;

type Expected = Record<string, Record<string, { b64?: string; strings?: string[]; shape: number[] }>>;

let dir = "";
let expected: Expected = {};

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), "npzguard-rows-"));
  expected = JSON.parse(
    execFileSync("python3", ["-c", EXPECT, path.join(FX, "stored.npz"), JSON.stringify(DTYPES), JSON.stringify(RANGES)], { encoding: "utf8" }),
  ) as Expected;
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function bytesOf(data: unknown): Buffer {
  const v = data as ArrayBufferView;
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

describe.each(["stored", "deflated"])("row reads of %s members equal numpy's slices", (kind) => {
  it("every dtype, first/middle/last/all/empty ranges", () => {
    using npz = openNpz(path.join(FX, `${kind}.npz`));
    let compared = 0;
    for (const [key, ranges] of Object.entries(expected)) {
      for (const [r, want] of Object.entries(ranges)) {
        const [s, t] = r.split(":").map(Number) as [number, number];
        const got = npz.array(key, { rows: [s, t] });
        expect(got.shape, `${key}[${r}]`).toEqual(want.shape);
        if (want.strings) {
          expect(got.data, `${key}[${r}]`).toEqual(want.strings);
        } else {
          expect(bytesOf(got.data).equals(Buffer.from(want.b64!, "base64")), `${key}[${r}] bytes`).toBe(true);
        }
        compared++;
      }
    }
    // every dtype x every range, plus one_d and fortran_1d (a 1-d array is both C and F order)
    expect(compared).toBe(DTYPES.length * RANGES.length + 2 * RANGES.length);
  });

  it("refuses out-of-range rows, a 0-d array and a zero-copy read of 2-d Fortran rows with coded errors", () => {
    using npz = openNpz(path.join(FX, `${kind}.npz`));
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e instanceof NpzError ? e.code : String(e);
      }
      return "no error";
    };
    expect(code(() => npz.array("a11", { rows: [0, 8] }))).toBe("ERR_NPY_ROW_RANGE");
    expect(code(() => npz.array("a11", { rows: [5, 4] }))).toBe("ERR_NPY_ROW_RANGE");
    expect(code(() => npz.array("a11", { rows: [8, 8] }))).toBe("ERR_NPY_ROW_RANGE");
    expect(code(() => npz.array("zero_d", { rows: [0, 0] }))).toBe("ERR_NPY_ROW_RANGE");
    // 2-d Fortran order: rows are gathered into a C-order copy (fortran-rows.test.ts), never a view.
    expect(code(() => npz.array("fortran", { rows: [0, 1], copy: false }))).toBe("ERR_NPY_FORTRAN_ORDER");
    expect(code(() => npz.array("fortran", { rows: [0, 8] }))).toBe("ERR_NPY_ROW_RANGE");
    expect(code(() => npz.array("empty", { rows: [0, 1] }))).toBe("ERR_NPY_ROW_RANGE");
    expect(npz.array("empty", { rows: [0, 0] }).shape).toEqual([0, 4]);
    expect(() => npz.array("a11", { rows: [-1, 2] as [number, number] })).toThrow(RangeError);
    expect(() => npz.array("a11", { rows: [0] as unknown as [number, number] })).toThrow(TypeError);
    expect(() => npz.array("a11", { rows: [0.5, 2] as [number, number] })).toThrow(TypeError);
  });
});

describe("row read copy rules", () => {
  it("STORED native-endian aligned rows are a zero-copy view; deflated and big-endian are copies", () => {
    using s = openNpz(path.join(FX, "stored.npz"));
    using d = openNpz(path.join(FX, "deflated.npz"));
    // i1 data is always aligned; wider dtypes follow the whole-array rule (np.savez does not
    // align member data in the file), so a row read is a view exactly when array() is one.
    expect(s.array("a1", { rows: [2, 4] }).zeroCopy).toBe(true);
    expect(s.array("a1", { rows: [2, 4], copy: true }).zeroCopy).toBe(false);
    for (const key of Object.keys(expected)) {
      if (s.header(key).kind === "U" || s.header(key).kind === "S" || s.header(key).shape[0]! < 3) continue;
      expect(s.array(key, { rows: [1, 3] }).zeroCopy, key).toBe(s.array(key).zeroCopy);
    }
    expect(s.array("a15", { rows: [2, 4] }).zeroCopy).toBe(false); // >f8
    expect(d.array("a11", { rows: [2, 4] }).zeroCopy).toBe(false);
    expect(() => d.array("a11", { rows: [2, 4], copy: false })).toThrow(expect.objectContaining({ code: "ERR_NPZ_COMPRESSED_MEMBER" }));
    expect(() => s.array("a15", { rows: [2, 4], copy: false })).toThrow(expect.objectContaining({ code: "ERR_NPY_NON_NATIVE_ENDIAN" }));
  });

  it("loadNpy reads rows of a .npy file (native and big-endian)", () => {
    const a = loadNpy(path.join(FX, "plain.npy"), { rows: [3, 5] });
    expect(a.shape).toEqual([2, 3, 2]);
    expect(bytesOf(a.data).equals(Buffer.from(expected.a11!["3:5"]!.b64!, "base64"))).toBe(true);
    const b = loadNpy(path.join(FX, "big.npy"), { rows: [6, 7] });
    expect(bytesOf(b.data).equals(Buffer.from(expected.a15!["6:7"]!.b64!, "base64"))).toBe(true);
  });
});

// Bounded memory: numpy writes a ~256 MB float32 member with savez_compressed (constant-ish data
// compresses well, so the file is small but the member is large); a child process reads its
// first rows and reports peak RSS growth, which must stay far below the member size. A full
// read of the same member is measured too, so the test shows the bound is the row read's doing.
describe("row reads of a large deflated member stay in bounded memory", () => {
  const MEMBER_MB = 256;
  let big = "";
  beforeAll(() => {
    big = path.join(dir, "large.npz");
    execFileSync("python3", [
      "-c",
      String.raw`
import numpy as np, sys
n = ${MEMBER_MB} * 1024 * 1024 // (4 * 128 * 128)
a = np.zeros((n, 128, 128), dtype='<f4')
a[:, ::7, ::5] = 1.5
a[n // 2, 3, 3] = np.nan
np.savez_compressed(sys.argv[1], diffraction=a)
`,
      big,
    ]);
  }, 120_000);

  // Runs in a child process on the raw addon (the API wrapper adds nothing to the memory path).
  function peakGrowthMB(rows: [number, number] | null): { grow: number; ok: boolean } {
    const addon = path.resolve("build", "Release", "npzguard.node");
    const script = `
      const { readFileSync } = require("node:fs");
      const hwm = () => Number(/VmHWM:\\s+(\\d+)/.exec(readFileSync("/proc/self/status", "utf8"))[1]) / 1024;
      const a = require(process.env.NPZGUARD_ADDON ?? ${JSON.stringify(addon)});
      const before = hwm();
      const npz = a.open(${JSON.stringify(big)}, {});
      const rows = ${JSON.stringify(rows)};
      const r = rows ? npz.readRows(0, rows[0], rows[1], 0) : npz.readArray(0, 1);
      const f = new Float32Array(r.buffer);
      const ok = f[128 * 128] === 1.5 && f[1] === 0;
      console.log(JSON.stringify({ grow: hwm() - before, ok }));
    `;
    const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(r.stderr);
    return JSON.parse(r.stdout.trim()) as { grow: number; ok: boolean };
  }

  it("first rows: peak RSS grows by a few MB, a full read by the member size", () => {
    const rows = peakGrowthMB([0, 4]);
    expect(rows.ok).toBe(true);
    expect(rows.grow).toBeLessThan(MEMBER_MB / 8);
    const full = peakGrowthMB(null);
    expect(full.ok).toBe(true);
    expect(full.grow).toBeGreaterThan(MEMBER_MB * 0.9);
  }, 120_000);
});

// rowProfile (per-frame totals, one pass) and rowSet (several rows, one pass) against numpy.
describe.each(["stored", "deflated"])("rowProfile and rowSet of %s members equal numpy", (kind) => {
  it("per-row nansum / non-finite / non-zero / negative counts and the column sums; rowSet = a[[...]]", () => {
    const want = JSON.parse(
      execFileSync("python3", [
        "-c",
        String.raw`
import numpy as np, json, sys, base64
z = np.load(sys.argv[1])
out = {}
for k in ["a1", "a5", "a10", "a15", "one_d"]:
    a = z[k].astype(np.float64)
    r = a.reshape(a.shape[0], -1)
    fin = np.isfinite(r)
    out[k] = {"sum": np.where(fin, r, 0).sum(1).tolist(), "nonfinite": (~fin).sum(1).tolist(),
              "nonzero": (r != 0).sum(1).tolist(), "negative": (np.where(fin, r, 0) < 0).sum(1).tolist(),
              "colSum": np.where(fin, r, 0).sum(0).tolist(),
              "set": base64.b64encode(np.ascontiguousarray(z[k][[1, 4, 6]]).astype(z[k].dtype.newbyteorder('<')).tobytes()).decode()}
print(json.dumps(out))
`,
        path.join(FX, `${kind}.npz`),
      ]).toString(),
    ) as Record<string, { sum: number[]; nonfinite: number[]; nonzero: number[]; negative: number[]; colSum: number[]; set: string }>;
    using npz = openNpz(path.join(FX, `${kind}.npz`));
    for (const [k, w] of Object.entries(want)) {
      const p = npz.rowProfile(k);
      expect([...p.nonfinite], k).toEqual(w.nonfinite);
      expect([...p.nonzero], k).toEqual(w.nonzero);
      expect([...p.negative], k).toEqual(w.negative);
      for (const [i, v] of [...p.sum].entries()) expect(v, `${k} sum[${i}]`).toBeCloseTo(w.sum[i]!, 6);
      for (const [i, v] of [...p.colSum].entries()) expect(v, `${k} colSum[${i}]`).toBeCloseTo(w.colSum[i]!, 6);
      expect(p.colSum.length, k).toBe(w.colSum.length);
      expect(bytesOf(npz.rowSet(k, [1, 4, 6]).data).equals(Buffer.from(w.set, "base64")), `${k} rowSet`).toBe(true);
    }
    expect(want.a10!.nonfinite[1]).toBe(1); // the fixture's NaN is seen
    expect(() => npz.rowSet("a10", [4, 1])).toThrow(expect.objectContaining({ code: "ERR_NPY_ROW_RANGE" }));
    expect(() => npz.rowSet("a10", [7])).toThrow(expect.objectContaining({ code: "ERR_NPY_ROW_RANGE" }));
    expect(() => npz.rowProfile("a13")).toThrow(expect.objectContaining({ code: "ERR_NPY_UNSUPPORTED_DTYPE" })); // <c16
    expect(() => npz.rowProfile("a11", { maxRows: 3 })).toThrow(expect.objectContaining({ code: "ERR_NPZ_LIMIT" }));
  });
});
