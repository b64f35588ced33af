// NpzFile#scan() on a member without NPY magic: numpy's loader returns such members as raw bytes
// and still verifies their CRC, so npzguard scans them (CRC only, no stats) instead of refusing;
// `check` therefore reports corruption there like the Python gate would (BadZipFile).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { openNpz, checkFile } from "../../src/index.js";
import { NpzWriter } from "../../src/writer/npz.js";
import { numericNpy } from "../../src/writer/npy.js";

let dir = "";
let good = "";
let bad = "";
const RAW = "not an npy payload, just bytes ".repeat(8);

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "npzguard-raw-"));
  good = path.join(dir, "good.npz");
  const w = NpzWriter.create(good);
  w.add("x", numericNpy("<f4", [3], new Float32Array([1, 2, 3])));
  w.addRaw("notes.txt", [Buffer.from(RAW)]);
  w.close();
  const bytes = readFileSync(good);
  const at = bytes.indexOf(Buffer.from("just bytes"));
  expect(at).toBeGreaterThan(0);
  bytes[at] = (bytes[at] as number) ^ 0x20; // same size, CRC in the central directory unchanged
  bad = path.join(dir, "bad.npz");
  writeFileSync(bad, bytes);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("NpzFile#scan() of a non-NPY member", () => {
  it("verifies the CRC of the raw bytes and returns no stats", async () => {
    using g = openNpz(good);
    const ok = await g.scan("notes.txt");
    expect(ok).toMatchObject({ crcChecked: true, crcOk: true, stats: null, bytesRead: RAW.length });
    using b = openNpz(bad);
    const r = await b.scan("notes.txt");
    expect(r.crcChecked).toBe(true);
    expect(r.crcOk).toBe(false);
  });

  it("array() of such a member is still a coded refusal", () => {
    using g = openNpz(good);
    expect(() => g.array("notes.txt")).toThrow(expect.objectContaining({ code: "ERR_NPY_BAD_MAGIC" }));
  });

  it("check finds the corruption (npz/integrity error)", async () => {
    const rep = await checkFile(bad, { profile: "reference" });
    expect(rep.violations.some((v) => v.rule === "npz/integrity" && v.severity === "error")).toBe(true);
    const okRep = await checkFile(good, { profile: "reference" });
    expect(okRep.violations.some((v) => v.rule === "npz/integrity")).toBe(false);
  });
});
