// The synthetic study writer and the small NPY/NPZ/pickle writers it is built on, checked
// against NumPy itself (python3 + numpy; those checks are skipped with a message when absent).
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { npyBytes, npyHeader, numericNpy, pickledStringScalarNpy, unicodeScalarNpy } from "../../src/writer/npy.js";
import { picklePayloadForString } from "../../src/writer/pickle.js";
import { NpzWriter, writeNpz } from "../../src/writer/npz.js";
import { SYNTH_DEFAULT_POSITIONS, doseDirName, mulberry32, poisson, synthesizeStudy, type SynthResult } from "../../src/synth/synth.js";
import { run as runSynthCli } from "../../src/cli/synth.js";
import { run as runDemoCli } from "../../src/cli/demo.js";
import { run as runPlanCli } from "../../src/cli/plan.js";

const HAS_NUMPY = spawnSync("python3", ["-c", "import numpy"], { encoding: "utf8" }).status === 0;
if (!HAS_NUMPY) {
  console.warn("synth.test.ts: python3 with numpy not found; skipping the NumPy comparison checks");
}

/** Runs a Python snippet with argv; returns stdout (throws with stderr on failure). */
function py(code: string, args: string[] = [], input?: string): string {
  const r = spawnSync("python3", ["-c", code, ...args], { encoding: "utf8", input, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`python3 failed (${r.status}):\n${r.stderr}`);
  return r.stdout;
}

const TEXTS: Record<string, string> = {
  short: "hi",
  empty: "",
  over255: "x".repeat(300),
  nonAscii: "héllo ✓ 𝄞 \u00e9\u0301",
  json: JSON.stringify({ schema_version: "1.0.0", data_transformations: [{ tool: "transpose_rename_convert" }] }, null, 2),
  nearFrame: "a".repeat(65_400),
  overFrame: "b".repeat(65_535),
  large: "c".repeat(70_000),
};

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "npzguard-synth-"));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

describe("picklePayloadForString()", () => {
  it.skipIf(!HAS_NUMPY)("is byte-identical to np.save(np.array(text, dtype=object), allow_pickle=True)", () => {
    const ref = JSON.parse(
      py(
        `import sys, io, json, numpy as np
texts = json.load(sys.stdin)
out = {}
for k, t in texts.items():
    b = io.BytesIO(); np.save(b, np.array(t, dtype=object), allow_pickle=True); out[k] = b.getvalue().hex()
print(json.dumps(out))`,
        [],
        JSON.stringify(TEXTS),
      ),
    ) as Record<string, string>;
    for (const [k, t] of Object.entries(TEXTS)) {
      expect(npyBytes(pickledStringScalarNpy(t)).toString("hex"), k).toBe(ref[k]);
    }
  });

  it("switches to BINUNICODE above 255 bytes and writes large text outside the frame", () => {
    expect(picklePayloadForString("x".repeat(255)).includes(Buffer.from([0x8c, 0xff]))).toBe(true);
    const long = picklePayloadForString("y".repeat(256));
    expect(long.includes(Buffer.from([0x58, 0x00, 0x01, 0x00, 0x00]))).toBe(true);
    const huge = picklePayloadForString("z".repeat(70_000));
    expect(huge.subarray(0, 3)).toEqual(Buffer.from([0x80, 0x04, 0x95]));
    expect(huge.readBigUInt64LE(3)).toBe(129n); // first frame ends before the text
    expect(huge.subarray(-15)).toEqual(Buffer.from([0x95, 6, 0, 0, 0, 0, 0, 0, 0, 0x94, 0x61, 0x74, 0x94, 0x62, 0x2e]));
  });

  it("refuses lone surrogates", () => {
    expect(() => picklePayloadForString("\ud800")).toThrow(TypeError);
  });
});

describe("npyHeader()", () => {
  it("pads to 64 bytes with NumPy's growth-axis reservation", () => {
    const h = npyHeader("<f4", [5088, 128, 128]);
    expect(h.length % 64).toBe(0);
    expect(h.length).toBe(128);
    expect(h.subarray(10).toString("latin1")).toMatch(/^\{'descr': '<f4', 'fortran_order': False, 'shape': \(5088, 128, 128\), \} +\n$/);
    expect(npyHeader("<f8", []).length + 8).toBe(136); // a 0-d float64 .npy is 136 bytes
    expect(npyHeader("<f4", [0]).length).toBe(128);
  });

  it.skipIf(!HAS_NUMPY)("matches np.save byte for byte", () => {
    const cases: [string, number[], boolean, string][] = [
      ["<f4", [3, 4], false, "np.zeros((3,4), np.float32)"],
      ["<f8", [], false, "np.float64(1.5)"],
      ["<c8", [7], false, "np.zeros(7, np.complex64)"],
      ["<i8", [0], false, "np.zeros(0, np.int64)"],
      ["<f4", [2, 3], true, "np.asfortranarray(np.zeros((2,3), np.float32))"],
      ["<c8", [1, 64, 64, 1], false, "np.zeros((1,64,64,1), np.complex64)"],
    ];
    const ref = py(
      `import io, numpy as np
for e in ${JSON.stringify(cases.map((c) => c[3]))}:
    b = io.BytesIO(); a = eval(e); np.save(b, a); v = b.getvalue()
    print(v[:len(v) - a.nbytes].hex())`,
    )
      .trim()
      .split("\n");
    for (const [i, [descr, shape, f]] of cases.entries()) expect(npyHeader(descr, shape, f).toString("hex")).toBe(ref[i]);
  });
});

describe("unicodeScalarNpy()", () => {
  it.skipIf(!HAS_NUMPY)("matches np.save(np.array(text))", () => {
    const t = TEXTS.nonAscii!;
    const ref = py(
      `import io, sys, numpy as np
b = io.BytesIO(); np.save(b, np.array(sys.stdin.read())); print(b.getvalue().hex())`,
      [],
      t,
    ).trim();
    expect(npyBytes(unicodeScalarNpy(t)).toString("hex")).toBe(ref);
  });
});

describe("NpzWriter", () => {
  const arrays = () => ({
    a: numericNpy("<f8", [3], Float64Array.from([0, 1.5, -2])),
    b: numericNpy("<c8", [2, 2], Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8])),
    n: numericNpy("<i8", [2], BigInt64Array.from([-1n, 7n])),
    s: unicodeScalarNpy("héllo"),
    _metadata: pickledStringScalarNpy('{"k": 1}'),
  });

  it.skipIf(!HAS_NUMPY)("STORED output is byte-identical to np.savez", () => {
    const mine = join(tmp, "mine_stored.npz");
    const ref = join(tmp, "ref_stored.npz");
    writeNpz(mine, arrays());
    py(
      `import sys, numpy as np
np.savez(sys.argv[1], a=np.array([0, 1.5, -2]), b=np.array([[1+2j, 3+4j], [5+6j, 7+8j]], np.complex64),
         n=np.array([-1, 7], np.int64), s=np.array("héllo"), _metadata=np.array('{"k": 1}', dtype=object))`,
      [ref],
    );
    expect(readFileSync(mine).equals(readFileSync(ref))).toBe(true);
  });

  it.skipIf(!HAS_NUMPY)("STORED and DEFLATED archives load in numpy with the written values", () => {
    for (const compressed of [false, true]) {
      const p = join(tmp, `rt_${compressed}.npz`);
      writeNpz(p, arrays(), { compressed });
      const out = JSON.parse(
        py(
          `import sys, json, zipfile, numpy as np
d = np.load(sys.argv[1], allow_pickle=True)
z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None
print(json.dumps({"files": sorted(d.files), "a": d["a"].tolist(), "b": [[c.real, c.imag] for c in d["b"].ravel().tolist()],
  "n": d["n"].tolist(), "s": str(d["s"]), "m": str(d["_metadata"].item()), "bdt": str(d["b"].dtype),
  "methods": sorted({i.compress_type for i in z.infolist()})}))`,
          [p],
        ),
      );
      expect(out.files).toEqual(["_metadata", "a", "b", "n", "s"]);
      expect(out.a).toEqual([0, 1.5, -2]);
      expect(out.b).toEqual([
        [1, 2],
        [3, 4],
        [5, 6],
        [7, 8],
      ]);
      expect(out.bdt).toBe("complex64");
      expect(out.n).toEqual([-1, 7]);
      expect(out.s).toBe("héllo");
      expect(out.m).toBe('{"k": 1}');
      expect(out.methods).toEqual([compressed ? 8 : 0]);
    }
  });

  it("writes zip64 local headers like numpy and is idempotent on close", () => {
    const p = join(tmp, "lfh.npz");
    const w = NpzWriter.create(p);
    w.add("x", numericNpy("|u1", [3], Uint8Array.from([1, 2, 3])));
    expect(() => w.add("x", numericNpy("|u1", [1], Uint8Array.from([1])))).toThrow();
    w.close();
    w.close();
    expect(w.closed).toBe(true);
    const b = readFileSync(p);
    expect(b.readUInt32LE(0)).toBe(0x04034b50);
    expect(b.readUInt16LE(4)).toBe(45);
    expect(b.readUInt32LE(18)).toBe(0xffffffff);
    expect(b.readUInt32LE(22)).toBe(0xffffffff);
    expect(b.readUInt16LE(28)).toBe(20);
    expect(b.readUInt32LE(b.length - 22)).toBe(0x06054b50);
    expect(() => w.add("y", new Uint8Array(1))).toThrow();
  });
});

describe("poisson()", () => {
  it("has the requested mean for small and large lambda", () => {
    const rand = mulberry32(7);
    for (const lambda of [0.3, 4, 25, 1e4]) {
      let sum = 0;
      let sumSq = 0;
      const n = 10_000;
      for (let i = 0; i < n; i++) {
        const k = poisson(lambda, rand);
        expect(Number.isInteger(k) && k >= 0).toBe(true);
        sum += k;
        sumSq += k * k;
      }
      const mean = sum / n;
      const variance = sumSq / n - mean * mean;
      expect(Math.abs(mean - lambda)).toBeLessThan(5 * Math.sqrt(lambda / n) + 1e-9);
      expect(variance / lambda).toBeGreaterThan(0.9);
      expect(variance / lambda).toBeLessThan(1.1);
    }
  });
});

// Transcription of validate_dataset_contract (data-001.md §5.1) plus the extra properties the
// synthetic tree promises (values, coordinate range, metadata). Prints one JSON line per file.
const PY_VALIDATOR = `
import sys, json, numpy as np
REQUIRED_NPZ_KEYS = ['diffraction', 'objectGuess', 'probeGuess', 'xcoords', 'ycoords']
def validate_dataset_contract(data, view=None, gridsize=1, neighbor_count=None):
    missing = [k for k in REQUIRED_NPZ_KEYS if k not in data]
    if missing:
        raise ValueError(f"Missing required NPZ keys (DATA-001): {missing}. Expected keys: {REQUIRED_NPZ_KEYS}")
    diff = data['diffraction']
    if not np.issubdtype(diff.dtype, np.floating):
        raise ValueError(f"diffraction must be float (amplitude), got dtype={diff.dtype}. DATA-001 requires amplitude (sqrt of intensity).")
    for key in ('objectGuess', 'probeGuess'):
        if not np.iscomplexobj(data[key]):
            raise ValueError(f"{key} must be complex dtype (complex64/complex128), got dtype={data[key].dtype}")
    for key in ('xcoords', 'ycoords'):
        if not np.issubdtype(data[key].dtype, np.floating):
            raise ValueError(f"{key} must be float dtype, got dtype={data[key].dtype}")
    n = diff.shape[0]
    for key in ('xcoords', 'ycoords'):
        if data[key].shape[0] != n:
            raise ValueError(f"{key} length {data[key].shape[0]} != diffraction first axis {n}")
    if gridsize > 1:
        C = gridsize ** 2
        if neighbor_count is None:
            raise ValueError(f"neighbor_count required when gridsize={gridsize} > 1 for oversampling validation (OVERSAMPLING-001)")
        if neighbor_count < C:
            raise ValueError(f"neighbor_count={neighbor_count} < C={C}")

out = []
for spec in json.loads(sys.argv[1]):
    path = spec['path']
    r = {'path': path}
    try:
        with np.load(path, allow_pickle=True) as f:
            data = {k: f[k] for k in f.files}
        validate_dataset_contract(data, gridsize=spec['gridsize'], neighbor_count=4)
        r['valid'] = True
    except Exception as e:
        r['valid'] = False
        r['error'] = f"{type(e).__name__}: {e}"
        out.append(r); continue
    d = data['diffraction']; N = d.shape[1]; S = data['objectGuess'].shape
    r['keys'] = sorted(data)
    r['dtypes'] = {k: str(v.dtype) for k, v in data.items()}
    r['shapes'] = {k: list(v.shape) for k, v in data.items()}
    r['finite'] = bool(np.isfinite(d).all())
    r['min'] = float(d.min()); r['max'] = float(d.max())
    r['meanEnergy'] = float((d.astype(np.float64) ** 2).sum(axis=(1, 2)).mean())
    xs = np.concatenate([data['xcoords'], data['ycoords']])
    r['coordsInside'] = bool(((xs >= N / 2) & (xs <= min(S) - N / 2)).all())
    r['startEqual'] = bool((data['xcoords_start'] == data['xcoords']).all() and (data['ycoords_start'] == data['ycoords']).all())
    meta = data['_metadata']
    r['metaDtype'] = str(meta.dtype); r['metaShape'] = list(meta.shape)
    m = json.loads(str(meta.item()))
    r['tools'] = [t.get('tool') for t in m.get('data_transformations', [])]
    r['canon'] = [t for t in m.get('data_transformations', []) if t.get('tool') == 'transpose_rename_convert']
    r['nphotons'] = m.get('physics_parameters', {}).get('nphotons')
    r['schema'] = m.get('schema_version')
    r['gridsize'] = m.get('gridsize', m.get('physics_parameters', {}).get('gridsize'))
    r['ymaxTrain'] = float(data['ycoords'].max()); r['yminTest'] = float(data['ycoords'].min())
    out.append(r)
print(json.dumps(out))
`;

interface PyFileReport {
  path: string;
  valid: boolean;
  error?: string;
  keys: string[];
  dtypes: Record<string, string>;
  shapes: Record<string, number[]>;
  finite: boolean;
  min: number;
  max: number;
  meanEnergy: number;
  coordsInside: boolean;
  startEqual: boolean;
  metaDtype: string;
  metaShape: number[];
  tools: (string | null)[];
  canon: { operation: string; parameters: Record<string, unknown> }[];
  nphotons?: number;
  schema?: string;
  gridsize?: number;
  ymaxTrain: number;
  yminTest: number;
}

function validateWithPython(r: SynthResult): PyFileReport[] {
  const specs = r.files.map((f) => ({ path: f.path, gridsize: f.view === "dense" ? 2 : 1 }));
  return JSON.parse(py(PY_VALIDATOR, [JSON.stringify(specs)])) as PyFileReport[];
}

describe("synthesizeStudy()", () => {
  let result: SynthResult;
  let outDir: string;
  beforeAll(() => {
    outDir = join(tmp, "study");
    result = synthesizeStudy({ outDir, positions: 48, size: 64, seed: 3, timestamp: new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678)) });
  });

  it("writes the Phase C/D tree for every dose", () => {
    expect(result.files).toHaveLength(3 * 6);
    for (const dose of [1e3, 1e4, 1e5]) {
      const d = doseDirName(dose);
      for (const split of ["train", "test"]) {
        expect(existsSync(join(outDir, "phase_c", d, `patched_${split}.npz`))).toBe(true);
        for (const view of ["dense", "sparse"]) expect(existsSync(join(outDir, "phase_d", d, view, `${split}.npz`))).toBe(true);
      }
    }
    expect(existsSync(join(outDir, "phase_c", "run_manifest.json"))).toBe(true);
    const c = result.files.filter((f) => f.phase === "c");
    expect(c.reduce((s, f) => s + f.positions, 0)).toBe(3 * 48);
    const dense = result.files.filter((f) => f.view === "dense");
    for (const f of dense) {
      const parent = c.find((p) => p.dose === f.dose && p.split === f.split)!;
      expect(f.positions).toBe(Math.max(1, Math.round(0.8 * parent.positions)));
    }
    expect(result.maxAmplitude).toBeGreaterThan(0);
    expect(result.maxAmplitude).toBeLessThan(10);
  });

  it("is deterministic for a seed and timestamp", () => {
    const again = join(tmp, "study-again");
    const file = join(again, "phase_c", "dose_1000", "patched_train.npz");
    const opts = { outDir: again, positions: 48, size: 64 as const, seed: 3, doses: [1e3], timestamp: new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678)) };
    synthesizeStudy(opts);
    const a = readFileSync(file);
    synthesizeStudy(opts);
    expect(readFileSync(file).equals(a)).toBe(true);
    synthesizeStudy({ ...opts, seed: 4 });
    expect(readFileSync(file).equals(a)).toBe(false);
  });

  it.skipIf(!HAS_NUMPY)("every file loads in numpy and passes the reference validator", () => {
    const reports = validateWithPython(result);
    expect(reports).toHaveLength(result.files.length);
    for (const [i, rep] of reports.entries()) {
      const f = result.files[i]!;
      expect(rep.error, rep.path).toBeUndefined();
      expect(rep.valid, rep.path).toBe(true);
      expect(rep.dtypes).toMatchObject({
        diffraction: "float32",
        probeGuess: "complex64",
        objectGuess: "complex64",
        xcoords: "float64",
        ycoords: "float64",
        xcoords_start: "float64",
        ycoords_start: "float64",
        scan_index: "int64",
        Y: "complex64",
      });
      expect(rep.shapes.diffraction).toEqual([f.positions, 64, 64]);
      expect(rep.shapes.probeGuess).toEqual([64, 64]);
      expect(rep.shapes.Y).toEqual([1, 64, 64, 1]);
      expect(rep.shapes.objectGuess![0]).toBeGreaterThan(64);
      expect(rep.shapes.xcoords).toEqual([f.positions]);
      expect(rep.finite).toBe(true);
      expect(rep.min).toBeGreaterThanOrEqual(0);
      expect(rep.max).toBeGreaterThan(0);
      expect(rep.max).toBeLessThan(10);
      // Normalized to mean sum X^2 ~ (N/2)^2 (Poisson noise on top).
      expect(rep.meanEnergy / (32 * 32)).toBeGreaterThan(0.7);
      expect(rep.meanEnergy / (32 * 32)).toBeLessThan(1.3);
      expect(rep.coordsInside).toBe(true);
      expect(rep.startEqual).toBe(true);
      expect(rep.metaShape).toEqual([]);
      if (f.phase === "c") {
        expect(rep.metaDtype).toBe("object");
        expect(rep.schema).toBe("1.0.0");
        expect(rep.nphotons).toBe(f.dose);
        expect(rep.gridsize).toBe(1);
        expect(rep.tools).toEqual(["transpose_rename_convert", "generate_patches", "split_dataset_tool.py"]);
        expect(rep.canon[0]!.operation).toBe("canonicalize");
        expect(rep.canon[0]!.parameters).toEqual({ flipx: false, flipy: false });
      } else {
        expect(rep.metaDtype).toMatch(/^<U\d+$/);
        expect(rep.gridsize).toBe(f.view === "dense" ? 2 : 1);
      }
    }
    // y-split: every train y lies below every test y (same dose, Phase C).
    const byPath = new Map(reports.map((r) => [r.path, r]));
    for (const dose of result.doses) {
      const tr = byPath.get(result.files.find((f) => f.phase === "c" && f.dose === dose && f.split === "train")!.path)!;
      const te = byPath.get(result.files.find((f) => f.phase === "c" && f.dose === dose && f.split === "test")!.path)!;
      expect(tr.ymaxTrain).toBeLessThan(te.yminTest);
    }
  });

  it.skipIf(!HAS_NUMPY)("writes STORED archives with --stored and 128-pixel frames", () => {
    const r = synthesizeStudy({ outDir: join(tmp, "stored"), positions: 8, size: 128, doses: [2500.7], compressed: false });
    expect(r.files.every((f) => f.path.includes("dose_2500"))).toBe(true);
    const reports = validateWithPython(r);
    for (const rep of reports) {
      expect(rep.valid, rep.error).toBe(true);
      expect(rep.shapes.diffraction!.slice(1)).toEqual([128, 128]);
      expect(rep.max).toBeLessThan(10);
    }
    const methods = py(
      `import sys, zipfile
print(sorted({i.compress_type for i in zipfile.ZipFile(sys.argv[1]).infolist()}))`,
      [r.files[0]!.path],
    ).trim();
    expect(methods).toBe("[0]");
  });

  it("rejects bad options", () => {
    expect(() => synthesizeStudy({ outDir: join(tmp, "bad"), positions: 2 })).toThrow(RangeError);
    expect(() => synthesizeStudy({ outDir: join(tmp, "bad"), size: 96 as 64 })).toThrow(RangeError);
    expect(() => synthesizeStudy({ outDir: join(tmp, "bad"), doses: [] })).toThrow(RangeError);
    expect(() => synthesizeStudy({ outDir: join(tmp, "bad"), doses: [1000, 1000.5] })).toThrow(RangeError);
  });
});

function capture(fn: () => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const ow = process.stdout.write.bind(process.stdout);
  const ew = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string | Uint8Array) => (out.push(String(s)), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string | Uint8Array) => (err.push(String(s)), true)) as typeof process.stderr.write;
  return fn().then(
    (code) => {
      process.stdout.write = ow;
      process.stderr.write = ew;
      return { code, out: out.join(""), err: err.join("") };
    },
    (e: unknown) => {
      process.stdout.write = ow;
      process.stderr.write = ew;
      throw e;
    },
  );
}

describe("npzguard synth", () => {
  it("prints the tree as JSON with --json", async () => {
    const dir = join(tmp, "cli");
    const r = await capture(() => runSynthCli(["--out", dir, "--doses", "1e3,2e3", "--positions", "12", "--seed", "9", "--json"]));
    expect(r.code).toBe(0);
    const parsed = JSON.parse(r.out) as SynthResult;
    expect(parsed.doses).toEqual([1000, 2000]);
    expect(parsed.files).toHaveLength(12);
    expect(parsed.files.every((f) => existsSync(f.path))).toBe(true);
  });

  it("prints human-readable paths by default", async () => {
    const dir = join(tmp, "cli-text");
    const r = await capture(() => runSynthCli(["--out", dir, "--doses", "1000", "--positions", "8", "--stored"]));
    expect(r.code).toBe(0);
    expect(r.out).toContain(`${dir}/phase_c/dose_1000/patched_train.npz`);
    expect(r.out).toContain(`${dir}/phase_d/dose_1000/dense/test.npz`);
  });

  it("exits 2 on usage errors", async () => {
    for (const argv of [
      [],
      ["--out", tmp, "--size", "96"],
      ["--out", tmp, "--doses", "1e3,abc"],
      ["--out", tmp, "--bogus"],
      ["--out", tmp, "--positions", "3"],
      ["--out", tmp, "--deflate-level", "10"],
    ]) {
      const r = await capture(() => runSynthCli(argv));
      expect(r.code, argv.join(" ")).toBe(2);
    }
  });
});

describe("synthesizeStudy() defaults", () => {
  // Core guarantee: the default synthetic study passes the default plan (the trainer's own
  // n_groups 512 and K 4, tensorflow profile), so nobody is taught to relax the check settings.
  it("writes a study that passes the default plan: exit 0, 9 jobs verified", async () => {
    const dir = join(tmp, "default-study");
    const study = synthesizeStudy({ outDir: dir });
    expect(study.positions).toBe(SYNTH_DEFAULT_POSITIONS);
    expect(study.frameSize).toBe(64);
    const dense = study.files.filter((f) => f.phase === "d" && f.view === "dense").map((f) => f.positions);
    expect(Math.min(...dense)).toBeGreaterThanOrEqual(512);
    const r = await capture(() =>
      runPlanCli(["--phase-c-root", study.phaseCRoot, "--phase-d-root", study.phaseDRoot, "--artifact-root", join(dir, "phase_e"), "--no-cache", "--json"]),
    );
    expect(r.code, r.out).toBe(0);
    const plan = JSON.parse(r.out) as { verified: boolean; jobs: { verified: boolean; violations: unknown[] }[]; skipped_views: unknown[] };
    expect(plan.verified).toBe(true);
    expect(plan.jobs).toHaveLength(9);
    expect(plan.jobs.filter((j) => j.verified)).toHaveLength(9);
    expect(plan.skipped_views).toEqual([]);
  }, 120_000);
});

describe("npzguard demo", () => {
  it("synthesizes the default study and runs check, plan and run --dry-run on it, every step exit 0, no --n-groups", async () => {
    const dir = join(tmp, "demo");
    const r = await capture(() => runDemoCli(["--out", dir, "--seed", "5"]));
    expect(existsSync(join(dir, "phase_c", "dose_1000", "patched_train.npz"))).toBe(true);
    expect(existsSync(join(dir, "phase_d", "dose_100000", "sparse", "test.npz"))).toBe(true);
    const order = ["== 1/4 synth", "== 2/4 check", "== 3/4 plan", "== 4/4 run --dry-run", "== summary"].map((h) => r.out.indexOf(h));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(r.code, r.err).toBe(0);
    const summary = r.out.slice(r.out.indexOf("== summary"));
    expect(summary.match(/ok \(exit 0\)/g)).toHaveLength(4);
    // plan and run use the trainer's own settings.
    expect(r.out).not.toContain("--n-groups");
    expect(r.out).not.toContain("--neighbor-count");
    expect(r.out).toMatch(/9 job\(s\): 9 verified, 0 blocked/);
  }, 120_000);

  it("exits 2 on usage errors", async () => {
    for (const argv of [["--size", "32"], ["--nope"], ["--positions", "x"]]) {
      expect((await capture(() => runDemoCli(argv))).code, argv.join(" ")).toBe(2);
    }
  });
});
