// Acceptance review of the DATA-001 engine against the PtychoPINN test-suite realities
// (data-001.md §5, §11) with numpy-written files generated at test time, plus the CLI's
// output formats and exit codes.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { capture } from "../helpers/capture.js";
import { run } from "../../src/cli/check.js";
import { checkFile } from "../../src/contract/check.js";
import type { Report } from "../../src/contract/types.js";

let dir: string;
const p = (name: string) => path.join(dir, name);

// Small files only: a few frames of 64x64 (or 32x32) float32.
const GEN = String.raw`
import sys, json, io, zipfile
import numpy as np
out = sys.argv[1]
rng = np.random.default_rng(7)
def P(n): return out + "/" + n
def cplx(*s): return rng.random(s) + 1j * rng.random(s)          # complex128, like the fixtures
def amp(*s): return rng.random(s).astype(np.float32)
M = 6
xs = (np.arange(M) * 5 + 40).astype(np.float32)
# tests/study/test_dose_overlap_training.py style fixture
np.savez(P("fixture.npz"), diffraction=amp(M, 64, 64), objectGuess=cplx(128, 128), probeGuess=cplx(64, 64),
         xcoords=xs, ycoords=xs.copy(), Y=cplx(M, 128, 128).astype(np.complex64),
         filenames=np.array(["img_%04d" % i for i in range(M)]))
# TF bundle test: (4,32,32) diffraction with a (64,64) probe
np.savez(P("tf_bundle.npz"), diffraction=amp(4, 32, 32), objectGuess=cplx(128, 128), probeGuess=cplx(64, 64),
         xcoords=np.arange(4, dtype=np.float32) + 40, ycoords=np.arange(4, dtype=np.float32) + 40)
# dataset-contract fixture: coordinates 110 px apart
c = np.arange(10, dtype=np.float32) * 110
base = dict(diffraction=amp(10, 64, 64), objectGuess=np.ones((128, 128), np.complex64),
            probeGuess=np.ones((64, 64), np.complex64), xcoords=c, ycoords=c.copy())
np.savez(P("contract.npz"), **base)
np.savez(P("meta_unicode.npz"), _metadata=json.dumps({"nphotons": 1000.0}), **base)
np.savez_compressed(P("meta_pickled.npz"), _metadata=np.array(json.dumps({"a": 1}, indent=2), dtype=object), **base)
np.savez(P("meta_nan.npz"), _metadata=json.dumps({"schema_version": "1.0.0", "physics_parameters": {"nphotons": 1000.0, "nll_weight": float("nan")},
         "data_transformations": [{"tool": "transpose_rename_convert"}]}), **base)
np.savez(P("meta_dict_transforms.npz"), _metadata=json.dumps({"data_transformations": {}}), **base)
open(P("touched.npz"), "wb").close()
# validator cases
d = dict(base); del d["objectGuess"]; del d["xcoords"]; np.savez(P("missing.npz"), **d)
d = dict(base); d["diffraction"] = np.float32(1.0); np.savez(P("zero_d.npz"), **d)
d = dict(base); d["xcoords"] = c.astype(">i4"); np.savez(P("be_int_coords.npz"), **d)
d = dict(base); d["diffraction"] = base["diffraction"].astype(">f4"); np.savez(P("be_float_diffraction.npz"), **d)
d = dict(base); d["objectGuess"] = np.array(["a", "b"], dtype=object); np.savez(P("object_dtype.npz"), **d)
def npy(a):
    b = io.BytesIO(); np.save(b, a); return b.getvalue()
with zipfile.ZipFile(P("bytes_probe.npz"), "w") as z:
    for k, v in base.items(): z.writestr(k + ".npy", b"not an array" if k == "probeGuess" else npy(v))
`;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), "npzguard-review-"));
  writeFileSync(p("gen.py"), GEN);
  execFileSync("python3", [p("gen.py"), dir]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const errors = (r: Report) => r.violations.filter((v) => v.severity === "error").map((v) => v.rule);
const warnings = (r: Report) => r.violations.filter((v) => v.severity === "warning").map((v) => v.rule);

describe("checkFile() on PtychoPINN fixture realities (data-001.md §11)", () => {
  for (const profile of ["reference", "study"] as const) {
    it(`passes complex128 object/probe, float32 coords, Y (M,128,128) with (M,64,64) frames, filenames <U8 (${profile})`, async () => {
      const r = await checkFile(p("fixture.npz"), { profile });
      expect(errors(r)).toEqual([]);
      expect(r.ok).toBe(true);
      expect(r.referenceVerdict).toEqual({ status: "pass" });
    });

    it(`(4,32,32) diffraction with a (64,64) probe gives warnings only (${profile})`, async () => {
      const r = await checkFile(p("tf_bundle.npz"), { profile });
      expect(r.ok).toBe(true);
      expect(warnings(r)).toEqual(expect.arrayContaining(["data001/patch-size", "data001/probe-shape"]));
    });

    it(`passes the dataset-contract fixture (110 px spacing, 'dense' view, gs2 with K=4) (${profile})`, async () => {
      const r = await checkFile(p("contract.npz"), { profile, view: "dense", gridsize: 2, neighborCount: 4 });
      expect(errors(r)).toEqual([]);
      expect(r.referenceVerdict.status).toBe("pass");
    });

    it(`parses _metadata as <U and as pickled |O (${profile})`, async () => {
      for (const f of ["meta_unicode.npz", "meta_pickled.npz"]) {
        const r = await checkFile(p(f), { profile });
        expect(r.ok).toBe(true);
        expect(r.metadata).toBeTypeOf("object");
        expect(r.violations.map((v) => v.rule)).not.toContain("data001/metadata-json");
      }
    });
  }

  it("rejects a zero-byte .touch()ed file with npz/readable (error, readError set)", async () => {
    const r = await checkFile(p("touched.npz"), { profile: "reference" });
    expect(r.ok).toBe(false);
    expect(r.readError?.code).toMatch(/^ERR_NP[YZ]_/);
    expect(errors(r)).toEqual(["npz/readable"]);
  });
});

describe("referenceVerdict (data-001.md §5)", () => {
  const verdict = async (f: string, extra: { gridsize?: number; neighborCount?: number } = {}) =>
    (await checkFile(p(f), { profile: "reference", ...extra })).referenceVerdict;

  it("reproduces the missing-keys message exactly", async () => {
    expect((await verdict("missing.npz")).error).toBe(
      "Dataset validation failed: ValueError: Missing required NPZ keys (DATA-001): ['objectGuess', 'xcoords']. Expected keys: ['diffraction', 'objectGuess', 'probeGuess', 'xcoords', 'ycoords']",
    );
  });

  it("0-d diffraction -> IndexError; non-NPY required member -> AttributeError", async () => {
    expect((await verdict("zero_d.npz")).error).toBe("Dataset validation failed: IndexError: tuple index out of range");
    expect((await verdict("bytes_probe.npz")).error).toBe("Dataset validation failed: AttributeError: 'bytes' object has no attribute 'dtype'");
  });

  it("names dtypes like numpy: big-endian keeps its prefix, pickled arrays are 'object'", async () => {
    expect((await verdict("be_int_coords.npz")).error).toBe("Dataset validation failed: ValueError: xcoords must be float dtype, got dtype=>i4");
    expect((await verdict("object_dtype.npz")).error).toBe(
      "Dataset validation failed: ValueError: objectGuess must be complex dtype (complex64/complex128), got dtype=object",
    );
    expect(await verdict("be_float_diffraction.npz")).toEqual({ status: "pass" });
  });

  it("OVERSAMPLING-001 messages use ² and ≥; K = C passes", async () => {
    expect((await verdict("contract.npz", { gridsize: 2 })).error).toBe(
      "Dataset validation failed: ValueError: neighbor_count required when gridsize=2 > 1 for oversampling validation (OVERSAMPLING-001)",
    );
    expect((await verdict("contract.npz", { gridsize: 2, neighborCount: 3 })).error).toBe(
      "Dataset validation failed: ValueError: neighbor_count=3 < C=4 (gridsize²=2²). OVERSAMPLING-001 requires K ≥ C for K-choose-C to work. Increase neighbor_count to at least 4.",
    );
    expect(await verdict("contract.npz", { gridsize: 2, neighborCount: 4 })).toEqual({ status: "pass" });
  });
});

describe("_metadata parsing like json.loads (data-001.md §7)", () => {
  it("accepts the NaN token Python's json.dumps writes", async () => {
    const r = await checkFile(p("meta_nan.npz"), { role: "phase-c", dose: 1000 });
    expect(r.violations.map((v) => v.rule)).not.toContain("data001/metadata-json");
    expect(r.violations.map((v) => v.rule)).not.toContain("data001/phasec-provenance");
    expect(r.ok).toBe(true);
  });

  it("data_transformations = {} is an empty list for the Phase C guard, not a malformed file", async () => {
    const r = await checkFile(p("meta_dict_transforms.npz"), { role: "phase-c" });
    const v = r.violations.filter((x) => x.rule === "data001/phasec-provenance");
    expect(v).toHaveLength(1);
    expect(v[0]?.severity).toBe("error");
    expect(v[0]?.message).toContain("Found transformations: [].");
  });
});

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await capture(() => run(argv));
  return { code: r.code, out: r.stdout, err: r.stderr };
}

describe("npzguard check (CLI)", () => {
  it("exit codes: 0 fixtures, 1 violations, 2 usage, 3 unreadable", async () => {
    expect((await cli(p("fixture.npz"), "--profile", "reference")).code).toBe(0);
    expect((await cli(p("tf_bundle.npz"))).code).toBe(0);
    expect((await cli(p("missing.npz"))).code).toBe(1);
    expect((await cli(p("fixture.npz"), "--profile", "bogus")).code).toBe(2);
    const r = await cli(p("fixture.npz"), p("touched.npz"));
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/^ERR_NP[YZ]_[A-Z_]+: .*touched\.npz\)$/m);
  });

  it("--dose parses like Python's float() (1e3, 1_000); junk or non-finite is a usage error", async () => {
    expect((await cli(p("meta_unicode.npz"), "--dose", "1e3")).code).toBe(0);
    expect((await cli(p("meta_unicode.npz"), "--dose", "1_000")).code).toBe(0);
    expect((await cli(p("meta_unicode.npz"), "--dose", "lots")).code).toBe(2);
    expect((await cli(p("meta_unicode.npz"), "--dose", "inf")).code).toBe(2);
  });

  it("recurses into a directory PATH (every .npz/.npy below it)", async () => {
    const sub = p("tree/a/b");
    mkdirSync(sub, { recursive: true });
    execFileSync("cp", [p("fixture.npz"), path.join(sub, "x.npz")]);
    execFileSync("cp", [p("missing.npz"), p("tree/y.npz")]);
    writeFileSync(p("tree/notes.txt"), "not a dataset");
    const r = await cli(p("tree"), "--json");
    expect(r.code).toBe(1);
    const files = (JSON.parse(r.out) as { files: { path: string; ok: boolean }[] }).files;
    expect(files.map((f) => path.relative(p("tree"), f.path)).sort()).toEqual(["a/b/x.npz", "y.npz"]);
  });

  it("--format junit is well-formed XML even with markup in paths", async () => {
    const odd = p("odd & <dir>");
    mkdirSync(odd, { recursive: true });
    execFileSync("cp", [p("missing.npz"), path.join(odd, `a"b'c.npz`)]);
    const r = await cli(odd, "--format", "junit");
    expect(r.code).toBe(1);
    const xml = path.join(dir, "out.xml");
    writeFileSync(xml, r.out);
    const n = execFileSync("python3", ["-c", "import sys, xml.dom.minidom as m; d = m.parse(sys.argv[1]); print(len(d.getElementsByTagName('failure')))", xml]);
    expect(Number(String(n).trim())).toBeGreaterThan(0);
  });

  it("--format github escapes %, newlines and property delimiters", async () => {
    const odd = p("gh,a:b%c");
    mkdirSync(odd, { recursive: true });
    execFileSync("cp", [p("missing.npz"), path.join(odd, "m.npz")]);
    const r = await cli(odd, "--format", "github");
    expect(r.code).toBe(1);
    const lines = r.out.trimEnd().split("\n");
    for (const line of lines) expect(line).toMatch(/^::(error|warning) file=[^:,]*,title=[^:,]*::/);
    expect(r.out).toContain("gh%2Ca%3Ab%25c");
    expect(lines.some((l) => l.startsWith("::error") && l.includes("title=data001/required-keys"))).toBe(true);
  });
});
