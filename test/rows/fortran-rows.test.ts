// Row reads of Fortran-order arrays of rank >= 2 (issue 13): array(key, { rows }), rowSet and
// loadNpy(path, { rows }) return numpy's a[start:end] / a[[...]] in C order (fortranOrder false),
// byte for byte, for every dtype, STORED (strided reads) and DEFLATED (one streaming pass), 2-D,
// 3-D and 4-D; plus the two STORED read paths (columns closer or farther apart than the 1 MiB
// window) and bounded memory on a large deflated Fortran member.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadNpy, openNpz } from "../../src/index.js";

const DTYPES = ["?", "i1", "u1", "<i2", ">u2", "<i4", "<u4", "<i8", ">i8", "<u8", "<f2", "<f4", ">f4", "<f8", ">f8", "<c8", ">c8", "<c16", "<U5", "S3"];
const SHAPES = [
  [7, 5],
  [7, 3, 4],
  [6, 2, 3, 2],
];
const RANGES: [number, number][] = [
  [0, 1],
  [2, 5],
  [5, 6],
  [0, 6],
  [3, 3],
];
const SETS = [[0], [1, 2, 3], [0, 2, 5], [4, 5]];

// The inputs (test/fixtures/rows/fortran-rows/, written by numpy with test/fixtures/gen_inputs.py):
// key a<i>_<j> is DTYPES[i] in SHAPES[j], Fortran order; f.npy = a13_1, fbe.npy = a14_2. numpy
// loads them here and computes the expected slices and row sets.
const FX = fileURLToPath(new URL("../fixtures/rows/fortran-rows/", import.meta.url));
const EXPECT = String.raw`
import numpy as np, json, sys, base64
src, dtypes, shapes, ranges, sets = sys.argv[1], *map(json.loads, sys.argv[2:6])
def data(sl):
    if sl.dtype.kind in 'US':
        return {"strings": [x.decode('latin-1') if isinstance(x, bytes) else str(x) for x in np.ascontiguousarray(sl).reshape(-1).tolist()], "shape": list(sl.shape)}
    le = np.ascontiguousarray(sl).astype(sl.dtype.newbyteorder('<'))
    return {"b64": base64.b64encode(le.tobytes()).decode(), "shape": list(sl.shape)}
exp = {}
with np.load(src) as z:
    assert len(z.files) == len(dtypes) * len(shapes)
    for i, dt in enumerate(dtypes):
        for j, shape in enumerate(shapes):
            k = "a%d_%d" % (i, j)
            a = z[k]
            assert a.dtype == np.dtype(dt) and list(a.shape) == shape and a.flags.f_contiguous and not a.flags.c_contiguous, k
            e = {"%d:%d" % (s, t): data(a[s:t]) for s, t in ranges if t <= a.shape[0]}
            e.update({"set:" + ",".join(map(str, r)): data(a[r]) for r in sets if max(r) < a.shape[0]})
            exp[k] = e
print(json.dumps(exp))
`;

type Want = { b64?: string; strings?: string[]; shape: number[] };
let dir = "";
let expected: Record<string, Record<string, Want>> = {};

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), "npzguard-frows-"));
  expected = JSON.parse(
    execFileSync("python3", ["-c", EXPECT, path.join(FX, "stored.npz"), ...[DTYPES, SHAPES, RANGES, SETS].map((x) => JSON.stringify(x))], {
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
    }),
  ) as typeof expected;
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function bytesOf(data: unknown): Buffer {
  const v = data as ArrayBufferView;
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

function expectEqual(got: { data: unknown; shape: number[]; fortranOrder: boolean }, want: Want, what: string): void {
  expect(got.shape, what).toEqual(want.shape);
  expect(got.fortranOrder, what).toBe(false);
  if (want.strings) expect(got.data, what).toEqual(want.strings);
  else expect(bytesOf(got.data).equals(Buffer.from(want.b64!, "base64")), `${what} bytes`).toBe(true);
}

describe.each(["stored", "deflated"])("Fortran-order row reads of %s members equal numpy", (kind) => {
  it("array(key, { rows }): every dtype, 2-D / 3-D / 4-D, first / middle / last / all / empty ranges", () => {
    using npz = openNpz(path.join(FX, `${kind}.npz`));
    let compared = 0;
    for (const [key, cases] of Object.entries(expected)) {
      expect(npz.header(key).fortranOrder, key).toBe(true);
      for (const [r, want] of Object.entries(cases)) {
        if (r.startsWith("set:")) continue;
        const [s, t] = r.split(":").map(Number) as [number, number];
        const got = npz.array(key, { rows: [s, t] });
        expect(got.zeroCopy).toBe(false);
        expectEqual(got, want, `${key}[${r}]`);
        compared++;
      }
    }
    expect(compared).toBe(DTYPES.length * SHAPES.length * RANGES.length);
  });

  it("rowSet(key, rows): runs and gaps of rows, numeric dtypes", () => {
    using npz = openNpz(path.join(FX, `${kind}.npz`));
    let compared = 0;
    for (const [key, cases] of Object.entries(expected)) {
      const kindOf = npz.header(key).kind;
      for (const [r, want] of Object.entries(cases)) {
        if (!r.startsWith("set:")) continue;
        const rows = r.slice(4).split(",").map(Number);
        if (kindOf === "U" || kindOf === "S") {
          expect(() => npz.rowSet(key, rows)).toThrow(expect.objectContaining({ code: "ERR_NPY_UNSUPPORTED_DTYPE" }));
          continue;
        }
        expectEqual(npz.rowSet(key, rows), want, `${key}[${r}]`);
        compared++;
      }
    }
    expect(compared).toBe((DTYPES.length - 2) * SHAPES.length * SETS.length);
  });

  it("copy: false refuses (a gather is always a copy); out-of-range rows are refused", () => {
    using npz = openNpz(path.join(FX, `${kind}.npz`));
    expect(() => npz.array("a13_1", { rows: [0, 2], copy: false })).toThrow(expect.objectContaining({ code: "ERR_NPY_FORTRAN_ORDER" }));
    expect(() => npz.array("a13_1", { rows: [0, 8] })).toThrow(expect.objectContaining({ code: "ERR_NPY_ROW_RANGE" }));
    expect(() => npz.rowSet("a13_1", [7])).toThrow(expect.objectContaining({ code: "ERR_NPY_ROW_RANGE" }));
  });
});

describe("loadNpy(path, { rows }) of Fortran-order .npy files", () => {
  it("native and big-endian", () => {
    expectEqual(loadNpy(path.join(FX, "f.npy"), { rows: [2, 5] }), expected.a13_1!["2:5"]!, "f.npy[2:5]");
    expectEqual(loadNpy(path.join(FX, "fbe.npy"), { rows: [0, 6] }), expected.a14_2!["0:6"]!, "fbe.npy[0:6]");
    expectEqual(loadNpy(path.join(FX, "fbe.npy"), { rows: [5, 6] }), expected.a14_2!["5:6"]!, "fbe.npy[5:6]");
  });
});

describe("large Fortran-order members", () => {
  let big = "";
  let want: Record<string, string> = {};
  beforeAll(() => {
    big = path.join(dir, "bigf");
    // wide: 2-D (300000, 3) float32, columns 1.2 MB apart (one pread per run); tall: 3-D
    // (4000, 20, 30) int16, columns 8 KB apart (1 MiB windows serve many columns). Both STORED
    // and DEFLATED; numpy's slices as base64.
    want = JSON.parse(
      execFileSync(
        "python3",
        [
          "-c",
          String.raw`
import numpy as np, sys, json, base64
rng = np.random.default_rng(5)
wide = np.asfortranarray(rng.standard_normal((300000, 3)).astype('<f4'))
tall = np.asfortranarray(rng.integers(-30000, 30000, size=(4000, 20, 30)).astype('<i2'))
np.savez(sys.argv[1] + "_s.npz", wide=wide, tall=tall)
np.savez_compressed(sys.argv[1] + "_z.npz", wide=wide, tall=tall)
b = lambda a: base64.b64encode(np.ascontiguousarray(a).tobytes()).decode()
print(json.dumps({"wide:5:9": b(wide[5:9]), "wide:299990:300000": b(wide[299990:]), "tall:0:4000": b(tall[0:4000]),
                  "tall:1234:1300": b(tall[1234:1300]), "tall:set": b(tall[[0, 1, 2, 3999]])}))
`,
          big,
        ],
        { maxBuffer: 256 * 2 ** 20 },
      ).toString(),
    ) as Record<string, string>;
  }, 60_000);

  for (const suffix of ["_s", "_z"]) {
    it(`${suffix === "_s" ? "stored" : "deflated"}: strided reads far apart and close together`, () => {
      using npz = openNpz(`${big}${suffix}.npz`);
      for (const [k, b64] of Object.entries(want)) {
        const [key, a, b] = k.split(":") as [string, string, string];
        const got = a === "set" ? npz.rowSet(key, [0, 1, 2, 3999]) : npz.array(key, { rows: [Number(a), Number(b)] });
        expect(bytesOf(got.data).equals(Buffer.from(b64, "base64")), `${suffix} ${k}`).toBe(true);
      }
    });
  }

  it("a 256 MB deflated Fortran member: reading two rows keeps peak RSS far below the member size", () => {
    const f = path.join(dir, "bigf_mem.npz");
    execFileSync("python3", [
      "-c",
      String.raw`
import numpy as np, sys
a = np.zeros((4096, 128, 128), dtype='<f4', order='F')
a[:, ::7, ::5] = 1.5
a[1, 0, 0] = 2.5
np.savez_compressed(sys.argv[1], diffraction=a)
`,
      f,
    ]);
    const addon = path.resolve("build", "Release", "npzguard.node");
    const script = `
      const { readFileSync } = require("node:fs");
      const hwm = () => Number(/VmHWM:\\s+(\\d+)/.exec(readFileSync("/proc/self/status", "utf8"))[1]) / 1024;
      const a = require(process.env.NPZGUARD_ADDON ?? ${JSON.stringify(addon)});
      const before = hwm();
      const npz = a.open(${JSON.stringify(f)}, {});
      const r = npz.readRows(0, 0, 2, 0);
      const v = new Float32Array(r.buffer);
      const ok = v.length === 2 * 128 * 128 && v[0] === 1.5 && v[1] === 0 && v[128 * 128] === 2.5 && v[5] === 1.5;
      console.log(JSON.stringify({ grow: hwm() - before, ok }));
    `;
    const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    const got = JSON.parse(r.stdout.trim()) as { grow: number; ok: boolean };
    expect(got.ok).toBe(true);
    expect(got.grow).toBeLessThan(32);
  }, 120_000);
});
