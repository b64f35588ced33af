import { describe, expect, it } from "vitest";
import { checkFile, checkPaths, defaultConcurrency, MAX_DEFAULT_CONCURRENCY } from "../../src/contract/check.js";
import { HINTS } from "../../src/contract/rules.js";
import type { CheckOptions } from "../../src/contract/types.js";
import { FIXTURES, find, fx, rules } from "./helpers.js";

const check = (name: string, options: CheckOptions = {}) => checkFile(fx(name), options);

describe("checkFile() keys and dtypes", () => {
  it("passes a canonical file in every profile", async () => {
    for (const profile of ["reference", "study", "tensorflow", "pytorch"] as const) {
      const r = await check("valid.npz", { profile });
      expect(rules(r, "error"), profile).toEqual([]);
      expect(r.ok).toBe(true);
      expect(r.referenceVerdict).toEqual({ status: "pass" });
    }
  });

  it("reports missing required keys with the validator's exact message", async () => {
    const r = await check("missing_keys.npz");
    expect(r.ok).toBe(false);
    const [v] = find(r, "data001/required-keys");
    expect(v?.severity).toBe("error");
    expect(v?.message).toBe(
      "Missing required NPZ keys (DATA-001): ['objectGuess', 'xcoords']. Expected keys: ['diffraction', 'objectGuess', 'probeGuess', 'xcoords', 'ycoords']",
    );
  });

  it("adds the container hint to grouped container NPZs", async () => {
    const r = await check("container.npz");
    expect(find(r, "data001/required-keys")[0]?.hint).toContain(HINTS.container);
  });

  it("fails complex diffraction, float objects and integer coordinates", async () => {
    const a = await check("complex_diffraction.npz");
    expect(find(a, "data001/diffraction-dtype")[0]?.severity).toBe("error");
    const b = await check("float_object.npz");
    expect(find(b, "data001/object-dtype")[0]?.message).toBe("objectGuess must be complex dtype (complex64/complex128), got dtype=float32");
    const c = await check("int_coords.npz");
    expect(find(c, "data001/coords-dtype")[0]?.message).toBe("xcoords must be float dtype, got dtype=int64");
  });

  it("accepts complex128 object/probe and float32 coordinates (info in study, warning in tensorflow)", async () => {
    const s = await check("complex128.npz");
    expect(s.ok).toBe(true);
    expect(find(s, "data001/complex-precision").map((v) => v.severity)).toEqual(["info", "info"]);
    expect(find(s, "data001/coords-precision").length).toBe(2);
    const t = await check("complex128.npz", { profile: "tensorflow", nGroups: 4 });
    expect(find(t, "data001/complex-precision").every((v) => v.severity === "warning")).toBe(true);
    expect(t.ok).toBe(true);
  });

  it("flags raw uint16 diff3d with the canonicalize and intensity hints", async () => {
    const r = await check("raw_diff3d_uint16.npz");
    const [req] = find(r, "data001/required-keys");
    expect(req?.severity).toBe("error");
    expect(req?.hint).toContain(HINTS.diff3d);
    expect(find(r, "data001/diffraction-dtype")[0]?.hint).toBe(HINTS.uint16);
  });

  it("both diff3d and diffraction: warning in study, error in tensorflow unless byte-identical", async () => {
    const s = await check("both_diff3d_differ.npz");
    expect(find(s, "data001/diffraction-key-conflict")[0]?.severity).toBe("warning");
    const t = await check("both_diff3d_differ.npz", { profile: "tensorflow" });
    expect(find(t, "data001/diffraction-key-conflict")[0]?.severity).toBe("error");
    const same = await check("both_diff3d_same.npz", { profile: "tensorflow" });
    expect(find(same, "data001/diffraction-key-conflict")[0]?.severity).toBe("warning");
  });

  it("requires xcoords_start/ycoords_start only in the tensorflow profile", async () => {
    const t = await check("valid_min.npz", { profile: "tensorflow" });
    expect(find(t, "data001/coords-start")[0]?.severity).toBe("error");
    expect(t.ok).toBe(false);
    const s = await check("valid_min.npz");
    expect(find(s, "data001/coords-start")[0]?.severity).toBe("warning");
    expect(s.ok).toBe(true);
    const p = await check("valid_min.npz", { profile: "pytorch" });
    expect(find(p, "data001/coords-start")[0]?.severity).toBe("info");
  });
});

describe("checkFile() shapes", () => {
  it("fails a coordinate length mismatch with the exact message", async () => {
    const r = await check("coords_length.npz");
    const [v] = find(r, "data001/coords-length");
    expect(v?.severity).toBe("error");
    expect(v?.message).toBe("xcoords length 9 != diffraction first axis 10");
  });

  it("passes positions 20 px apart in the dense view and an unknown view", async () => {
    expect((await check("dense_20px.npz", { view: "dense" })).ok).toBe(true);
    expect((await check("valid.npz", { view: "invalid" })).ok).toBe(true);
  });

  it("gridsize 2: K=7 and K=4 pass, K=3 and no K fail", async () => {
    expect((await check("valid.npz", { gridsize: 2, neighborCount: 7 })).ok).toBe(true);
    expect((await check("valid.npz", { gridsize: 2, neighborCount: 4 })).ok).toBe(true);
    const k3 = await check("valid.npz", { gridsize: 2, neighborCount: 3 });
    expect(find(k3, "data001/oversampling-k")[0]?.message).toBe(
      "neighbor_count=3 < C=4 (gridsize²=2²). OVERSAMPLING-001 requires K ≥ C for K-choose-C to work. Increase neighbor_count to at least 4.",
    );
    const none = await check("valid.npz", { gridsize: 2 });
    expect(find(none, "data001/oversampling-k")[0]?.message).toBe("neighbor_count required when gridsize=2 > 1 for oversampling validation (OVERSAMPLING-001)");
    expect(none.ok).toBe(false);
  });

  it("grouping capacity: error in tensorflow when groups exceed points without oversampling", async () => {
    const t = await check("valid.npz", { profile: "tensorflow", gridsize: 2, neighborCount: 4 });
    expect(find(t, "data001/grouping-capacity")[0]?.severity).toBe("error");
    const ok = await check("valid.npz", { profile: "tensorflow", gridsize: 2, neighborCount: 4, nGroups: 5 });
    expect(find(ok, "data001/grouping-capacity")).toEqual([]);
  });

  it("detects the legacy (H, W, M) layout; coords-length also fails", async () => {
    const s = await check("legacy_hwm.npz");
    expect(find(s, "data001/legacy-layout")[0]?.severity).toBe("warning");
    expect(find(s, "data001/coords-length")[0]?.severity).toBe("error");
    const t = await check("legacy_hwm.npz", { profile: "tensorflow" });
    expect(find(t, "data001/legacy-layout")[0]?.severity).toBe("error");
    expect(find(await check("valid.npz"), "data001/legacy-layout")).toEqual([]);
  });

  it("rank-4 diffraction with a trailing 1: info in study, error in pytorch", async () => {
    expect(find(await check("rank4.npz"), "data001/diffraction-rank")[0]?.severity).toBe("info");
    expect(find(await check("rank4.npz", { profile: "pytorch" }), "data001/diffraction-rank")[0]?.severity).toBe("error");
  });

  it("32x32 frames with a 64x64 probe: warnings in study, errors in tensorflow", async () => {
    const s = await check("small_frames.npz");
    expect(s.ok).toBe(true);
    expect(find(s, "data001/patch-size")[0]?.severity).toBe("warning");
    expect(find(s, "data001/probe-shape")[0]?.message).toBe("probeGuess shape (64, 64) must equal the frame shape (32, 32)");
    const t = await check("small_frames.npz", { profile: "tensorflow" });
    expect(rules(t, "error")).toEqual(expect.arrayContaining(["data001/patch-size", "data001/probe-shape"]));
  });

  it("Y: singleton is info, per-image passes", async () => {
    expect(find(await check("y_singleton.npz"), "data001/y-patches")[0]?.severity).toBe("info");
    expect(find(await check("y_per_image.npz"), "data001/y-patches")).toEqual([]);
  });

  it("reproduces the 0-d and bytes edge cases of the gate", async () => {
    const d = await check("zero_d_diffraction.npz");
    expect(d.referenceVerdict.error).toBe("Dataset validation failed: IndexError: tuple index out of range");
    expect(find(d, "data001/coords-length")[0]?.severity).toBe("error");
    const b = await check("bytes_xcoords.npz");
    expect(b.referenceVerdict.error).toBe("Dataset validation failed: AttributeError: 'bytes' object has no attribute 'dtype'");
    expect(find(b, "npz/non-npy-member")[0]?.severity).toBe("error");
  });
});

describe("checkFile() supervised labels", () => {
  it("pytorch with supervised needs label; other profiles do not evaluate it", async () => {
    const p = await check("valid.npz", { profile: "pytorch", supervised: true });
    expect(find(p, "data001/label")[0]?.severity).toBe("error");
    expect(find(await check("valid.npz", { supervised: true }), "data001/label")).toEqual([]);
    expect(find(await check("valid.npz", { profile: "pytorch" }), "data001/label")).toEqual([]);
  });
});

describe("checkFile() values", () => {
  it("NaN/Inf amplitudes: error in study, warning in reference", async () => {
    const s = await check("nan_diffraction.npz");
    expect(find(s, "data001/diffraction-finite")[0]?.message).toBe("diffraction contains 2 non-finite values");
    expect(s.ok).toBe(false);
    const ref = await check("nan_diffraction.npz", { profile: "reference" });
    expect(find(ref, "data001/diffraction-finite")[0]?.severity).toBe("warning");
    expect(ref.ok).toBe(true);
  });

  it("negative amplitudes fail; -0.0 does not", async () => {
    const n = await check("negative_diffraction.npz");
    expect(find(n, "data001/diffraction-nonnegative")[0]?.message).toBe("amplitude must be non-negative; min=-0.25");
    expect(find(await check("negzero_diffraction.npz"), "data001/diffraction-nonnegative")).toEqual([]);
  });

  it("all-zero amplitudes fail", async () => {
    expect(find(await check("zero_diffraction.npz"), "data001/diffraction-nonzero")[0]?.severity).toBe("error");
  });

  it("unnormalized amplitudes warn", async () => {
    const r = await check("unnormalized.npz");
    expect(find(r, "data001/amplitude-scale")[0]?.severity).toBe("warning");
    expect(r.ok).toBe(true);
  });

  it("non-finite or zero-energy probe, non-finite object fail", async () => {
    expect(find(await check("nonfinite_probe.npz"), "data001/probe-values")[0]?.message).toBe("probe real and imaginary components must be finite.");
    expect(find(await check("zero_probe.npz"), "data001/probe-values")[0]?.message).toBe("probe must have nonzero energy");
    expect(find(await check("nonfinite_object.npz"), "data001/object-values")[0]?.severity).toBe("error");
    expect(find(await check("valid.npz"), "data001/probe-values")).toEqual([]);
  });

  it("coordinates: non-finite fails, outside the object warns", async () => {
    expect(find(await check("nan_coords.npz"), "data001/coords-values")[0]?.severity).toBe("error");
    const o = await check("coords_outside.npz");
    expect(find(o, "data001/coords-values")[0]?.severity).toBe("warning");
    expect(o.ok).toBe(true);
  });

  it("bool bytes other than 0/1 warn", async () => {
    expect(find(await check("bad_bool.npz"), "data001/bool-values")[0]?.severity).toBe("warning");
    expect(find(await check("valid.npz"), "data001/bool-values")).toEqual([]);
  });

  it("header mode lists value rules as not evaluated and verifies no CRC", async () => {
    const r = await check("nan_diffraction.npz", { mode: "header" });
    expect(r.mode).toBe("header");
    expect(r.notEvaluated).toContain("data001/diffraction-finite");
    expect(find(r, "data001/diffraction-finite")).toEqual([]);
    expect(r.members.every((m) => !m.crcVerified)).toBe(true);
  });

  it("full mode verifies every member's CRC and records stats", async () => {
    const r = await check("valid.npz");
    expect(r.members.length).toBeGreaterThan(5);
    expect(r.members.every((m) => m.crcVerified)).toBe(true);
    expect(r.stats.diffraction?.elements).toBe(10 * 64 * 64);
    expect(r.digest.members.map((m) => m.key)).toContain("diffraction");
  });
});

describe("checkFile() integrity and pickles", () => {
  it("finds a CRC mismatch in a stored member by the value scan", async () => {
    const r = await check("crc_flip.npz");
    expect(find(r, "npz/integrity")[0]?.key).toBe("xcoords");
    expect(r.ok).toBe(false);
    expect(r.referenceVerdict.status).toBe("fail");
    expect(r.members.find((m) => m.key === "xcoords")?.crcVerified).toBe(false);
    const h = await check("crc_flip.npz", { mode: "header" });
    expect(find(h, "npz/integrity")).toEqual([]);
  });

  it("reports an unreadable file with readError and npz/readable", async () => {
    const r = await check("empty.npz");
    expect(r.readError?.code).toMatch(/^ERR_NPZ_/);
    expect(rules(r, "error")).toEqual(["npz/readable"]);
    expect(r.referenceVerdict.status).toBe("fail");
  });

  it("pickled non-metadata members warn; unrecognised pickles fail", async () => {
    expect(find(await check("pickled_member.npz"), "npz/pickled-member")[0]?.severity).toBe("warning");
    const refused = await check("pickle_refused.npz");
    expect(find(refused, "npz/pickle-refused")[0]?.severity).toBe("error");
  });

  it("a required key stored as |O fails the dtype step with dtype=object", async () => {
    const r = await check("object_required.npz");
    expect(find(r, "data001/object-dtype")[0]?.message).toBe("objectGuess must be complex dtype (complex64/complex128), got dtype=object");
    expect(find(r, "npz/pickled-member")[0]?.severity).toBe("warning");
    const t = await check("object_required.npz", { profile: "tensorflow" });
    expect(find(t, "npz/pickled-member")[0]?.severity).toBe("error");
  });
});

describe("checkFile() _metadata", () => {
  it("parses pickled and unicode _metadata", async () => {
    const p = await check("valid.npz");
    expect(find(p, "data001/metadata-encoding")[0]?.message).toContain("pickled-str");
    expect((p.metadata as { schema_version?: string }).schema_version).toBe("1.0.0");
    const u = await check("metadata_unicode.npz");
    expect(find(u, "data001/metadata-encoding")[0]?.message).toContain("unicode");
    expect((u.metadata as { schema_version?: string }).schema_version).toBe("1.0.0");
    expect(find(u, "data001/metadata-json")).toEqual([]);
  });

  it("flags bytes, 1-D and non-JSON _metadata", async () => {
    expect(find(await check("metadata_bytes.npz"), "data001/metadata-shape")[0]?.severity).toBe("warning");
    expect(find(await check("metadata_1d.npz"), "data001/metadata-shape")[0]?.severity).toBe("warning");
    const j = await check("metadata_bad_json.npz");
    expect(find(j, "data001/metadata-json")[0]?.severity).toBe("warning");
    expect(j.ok).toBe(true);
  });

  it("cross-checks nphotons against the dose", async () => {
    expect(find(await check("valid.npz", { dose: 1000 }), "data001/metadata-physics")).toEqual([]);
    const r = await check("valid.npz", { dose: 2000 });
    expect(find(r, "data001/metadata-physics")[0]?.message).toBe("nphotons mismatch: dataset=1000.0, config=2000.0");
  });

  it("Phase C provenance: present passes, missing and without the transformation fail with exact messages", async () => {
    expect((await check("valid.npz", { role: "phase-c" })).ok).toBe(true);
    const missingPath = fx("valid_min.npz");
    const m = await checkFile(missingPath, { role: "phase-c" });
    expect(find(m, "data001/phasec-provenance")[0]?.message).toBe(
      `Phase C NPZ file missing required _metadata field: ${missingPath}. This file was likely generated before metadata tracking was enabled. Please regenerate Phase C outputs with metadata support.`,
    );
    const noT = fx("phasec_no_transform.npz");
    const n = await checkFile(noT, { role: "phase-c" });
    expect(find(n, "data001/phasec-provenance")[0]?.message).toBe(
      `Phase C NPZ file missing required canonical transformation in _metadata: ${noT}. Expected 'transpose_rename_convert' in data_transformations list. Found transformations: ['generate_patches', 'split_dataset_tool.py']. Please ensure Phase C pipeline includes transpose_rename_convert canonicalization.`,
    );
    const mal = fx("phasec_malformed.npz");
    expect(find(await checkFile(mal, { role: "phase-c" }), "data001/phasec-provenance")[0]?.message).toBe(`Phase C NPZ file has malformed _metadata: ${mal}`);
    expect(find(await check("valid_min.npz"), "data001/phasec-provenance")).toEqual([]);
  });
});

describe("checkFile() cancellation", () => {
  it("rejects when the signal is already aborted", async () => {
    await expect(check("valid.npz", { signal: AbortSignal.abort() })).rejects.toThrow();
  });
});

describe("members scanned at once", () => {
  it("is threads, but at most 4 by default whatever threads (each scan holds memory); concurrency overrides", () => {
    expect(MAX_DEFAULT_CONCURRENCY).toBe(4);
    expect(defaultConcurrency({ threads: 1 })).toBe(1);
    expect(defaultConcurrency({ threads: 2 })).toBe(2);
    expect(defaultConcurrency({ threads: 1024 })).toBe(4);
    expect(defaultConcurrency({ threads: 1024, concurrency: 16 })).toBe(16);
    expect(defaultConcurrency({})).toBeLessThanOrEqual(4);
  });
});

describe("checkPaths()", () => {
  it("expands a directory to every .npz below it, sorted, errors first in each report", async () => {
    const reports = await checkPaths([FIXTURES], { mode: "header", concurrency: 2 });
    const names = reports.map((r) => r.path);
    expect(names).toEqual([...names].sort());
    expect(names.length).toBeGreaterThan(30);
    for (const r of reports) {
      const order = r.violations.map((v) => ["error", "warning", "info"].indexOf(v.severity));
      expect(order).toEqual([...order].sort((a, b) => a - b));
    }
  });
});
