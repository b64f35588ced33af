import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { checkFile } from "../../src/contract/check.js";
import { numpyDtypeName, referenceVerdict } from "../../src/contract/reference.js";
import { pyRepr } from "../../src/python/repr.js";
import { fx } from "./helpers.js";

interface Case {
  file: string;
  view: string | null;
  gridsize: number;
  neighbor_count: number | null;
  deviation?: boolean;
  verdict: { status: "pass" | "fail"; error?: string; stage?: "load" | "validate" };
}

const reference = JSON.parse(readFileSync(fx("reference.json"), "utf8")) as { cases: Case[] };

describe("referenceVerdict (parity with the Python gate, reference.json)", () => {
  it("has cases for every fixture", () => {
    expect(reference.cases.length).toBeGreaterThan(40);
  });

  for (const c of reference.cases) {
    const label = `${c.file} gridsize=${c.gridsize} K=${c.neighbor_count} view=${c.view}`;
    it(label, async () => {
      for (const mode of ["full", "header"] as const) {
        const r = await checkFile(fx(c.file), {
          profile: "reference",
          gridsize: c.gridsize,
          mode,
          ...(c.neighbor_count !== null ? { neighborCount: c.neighbor_count } : {}),
          ...(c.view !== null ? { view: c.view } : {}),
        });
        if (mode === "header") {
          // The Python gate loads every array; from headers its verdict is not known (a bad
          // CRC-32, crc_flip.npz, is a load failure found only by reading data).
          expect(r.referenceVerdict.status, mode).toBe(r.readError ? "fail" : "not-evaluated");
          if (!r.readError) expect(r.notEvaluated).toContain("npz/integrity");
          // The rules that were evaluated still decide pass/fail as the Python gate does.
          if (c.file !== "crc_flip.npz") expect(r.ok, mode).toBe(c.verdict.status === "pass" && !c.deviation);
          continue;
        }
        if (c.deviation) {
          // §5.4: npzguard refuses unrecognised pickles that Python would execute.
          expect(r.referenceVerdict.status).toBe("fail");
          expect(r.ok).toBe(false);
          continue;
        }
        expect(r.referenceVerdict.status, mode).toBe(c.verdict.status);
        // Profile reference: pass/fail equals the Python gate.
        expect(r.ok, mode).toBe(c.verdict.status === "pass");
        if (c.verdict.stage === "validate") expect(r.referenceVerdict.error).toBe(c.verdict.error);
      }
    });
  }
});

describe("referenceVerdict()", () => {
  const arr = (dtypeName: string, dtypeKind: string, shape: number[]) => ({ kind: "array" as const, dtypeName, dtypeKind, shape });
  const good = () =>
    new Map([
      ["diffraction", arr("float32", "f", [3, 64, 64])],
      ["objectGuess", arr("complex64", "c", [128, 128])],
      ["probeGuess", arr("complex64", "c", [64, 64])],
      ["xcoords", arr("float64", "f", [3])],
      ["ycoords", arr("float64", "f", [3])],
    ]);

  it("checks ycoords after xcoords and reports the first failure", () => {
    const v = good();
    v.set("ycoords", arr("float64", "f", [2]));
    expect(referenceVerdict({ values: v }).error).toBe("Dataset validation failed: ValueError: ycoords length 2 != diffraction first axis 3");
    v.set("probeGuess", arr(">c8", "c", [64, 64]));
    v.set("objectGuess", arr("float64", "f", [64, 64]));
    expect(referenceVerdict({ values: v }).error).toBe(
      "Dataset validation failed: ValueError: objectGuess must be complex dtype (complex64/complex128), got dtype=float64",
    );
  });

  it("reports a load failure with the npzguard code", () => {
    expect(referenceVerdict({ values: good(), loadError: { code: "ERR_NPY_TRUNCATED", message: "short" } }).error).toBe(
      "Dataset validation failed: ERR_NPY_TRUNCATED: short",
    );
  });

  it("K = C passes", () => {
    expect(referenceVerdict({ values: good(), gridsize: 2, neighborCount: 4 }).status).toBe("pass");
    expect(referenceVerdict({ values: good(), gridsize: 3, neighborCount: 8 }).status).toBe("fail");
  });
});

describe("numpyDtypeName() (§5.3)", () => {
  it.each([
    ["<f2", "float16"],
    ["<f4", "float32"],
    ["<f8", "float64"],
    ["<c8", "complex64"],
    ["<c16", "complex128"],
    ["|b1", "bool"],
    ["|i1", "int8"],
    ["<i8", "int64"],
    ["|u1", "uint8"],
    ["<u2", "uint16"],
    ["|O", "object"],
    ["<M8[ns]", "datetime64[ns]"],
    ["<m8[s]", "timedelta64[s]"],
    ["<f16", "float128"],
    ["<c32", "complex256"],
    ["<U8", "<U8"],
    ["|S3", "|S3"],
    ["|V8", "|V8"],
    [">f4", ">f4"],
    [">c8", ">c8"],
    [">i8", ">i8"],
    [">U5", ">U5"],
    ["|i1", "int8"],
    [">i1", "int8"],
    ["[('x', '<f4')]", "[('x', '<f4')]"],
  ])("%s -> %s", (descr, name) => {
    expect(numpyDtypeName(descr)).toBe(name);
  });
});

describe("pyRepr()", () => {
  it("renders lists of str/None like Python", () => {
    expect(pyRepr(["generate_patches", null, "it's"])).toBe(`['generate_patches', None, "it's"]`);
    expect(pyRepr([1, 2.5, true])).toBe("[1, 2.5, True]");
  });
});
