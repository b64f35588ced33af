// The global inflate budget (format spec 5.4): one open handle may inflate at most
// maxInflateBytes in total (default 1 TiB), charged per full read of a DEFLATE member by its
// declared size; STORED members cost nothing. checkFile and `npzguard check --max-inflate` pass it.
import { afterAll, describe, expect, it } from "vitest";
import { deflateRawSync } from "node:zlib";
import { checkFile, openNpz } from "../../src/index.js";
import { run as checkCli } from "../../src/cli/check.js";
import { capture } from "../helpers/study-harness.js";
import { expectNpzError, expectNpzErrorAsync } from "../helpers/expect.js";
import { npy, tempDir, zip } from "../helpers/npz-writer.js";

const tmp = tempDir("npzguard-budget-");
afterAll(() => tmp.cleanup());

const MiB = 1 << 20;
const member = (name: string, method: 0 | 8) => {
  const data = npy(new Uint8Array(MiB), { descr: "<f4", shape: [MiB / 4] });
  return method === 8 ? { name, data, method, payload: new Uint8Array(deflateRawSync(data, { level: 9 })) } : { name, data };
};
// Three deflated members of ~1 MiB each (zeros: ~1 KiB compressed) and one stored.
const file = tmp.write("bomb-ish.npz", zip([member("a.npy", 8), member("b.npy", 8), member("c.npy", 8), member("s.npy", 0)]).bytes);
const size = (key: string) => openNpz(file).header(key).byteLength; // data bytes; the member is a little larger

describe("inflate budget", () => {
  it("the default budget reads everything", async () => {
    using npz = openNpz(file);
    for (const k of ["a", "b", "c", "s"]) expect((await npz.scan(k)).crcOk).toBe(true);
    expect((npz.array("a").data as Float32Array).length).toBe(MiB / 4);
  });

  it("charges each full read of a deflated member; the read that would go over is ERR_NPZ_LIMIT", async () => {
    using npz = openNpz(file, { maxInflateBytes: Math.floor(2.5 * size("a")) });
    expect((await npz.scan("a")).crcOk).toBe(true);
    expect((npz.array("b").data as Float32Array).length).toBe(MiB / 4);
    const err = await expectNpzErrorAsync(() => npz.scan("c"), "ERR_NPZ_LIMIT");
    expect(err.message).toMatch(/inflate budget of \d+ bytes/);
    expect(err.member).toBe("c");
    expectNpzError(() => npz.array("a"), "ERR_NPZ_LIMIT"); // reading again costs again
    // STORED members are not inflated: still readable.
    expect((await npz.scan("s")).crcOk).toBe(true);
  });

  it("0 allows no inflation at all but keeps headers (open inflates only header bytes)", () => {
    using npz = openNpz(file, { maxInflateBytes: 0 });
    expect(npz.keys()).toEqual(["a", "b", "c", "s"]);
    expect(npz.header("a").shape).toEqual([MiB / 4]);
    expectNpzError(() => npz.array("a", { copy: true }), "ERR_NPZ_LIMIT");
    expect((npz.array("s", { copy: true }).data as Float32Array).length).toBe(MiB / 4);
  });

  it("rejects bad values before native code runs", () => {
    expect(() => openNpz(file, { maxInflateBytes: -1 })).toThrow(RangeError);
    expect(() => openNpz(file, { maxInflateBytes: 1.5 })).toThrow(TypeError);
    expect(() => openNpz(file, { maxInflateBytes: "1G" as unknown as number })).toThrow(TypeError);
  });

  it("checkFile passes it: members over the budget are reported with ERR_NPZ_LIMIT", async () => {
    const ok = await checkFile(file, { profile: "reference" });
    expect(JSON.stringify(ok)).not.toContain("ERR_NPZ_LIMIT");
    const limited = await checkFile(file, { profile: "reference", maxInflateBytes: size("a") });
    expect(JSON.stringify(limited)).toContain("ERR_NPZ_LIMIT");
    await expect(checkFile(file, { maxInflateBytes: -5 })).rejects.toThrow(RangeError);
  });

  it("npzguard check --max-inflate: sizes with suffixes, usage errors exit 2", async () => {
    const fine = await capture(() => checkCli([file, "--profile", "reference", "--max-inflate", "1G", "--json"]));
    expect(fine.stdout).not.toContain("ERR_NPZ_LIMIT");
    // Like a CRC mismatch, a member that cannot be read in full is an npz/readable error (exit 1).
    const tight = await capture(() => checkCli([file, "--profile", "reference", "--max-inflate", "1M", "--json"]));
    expect(tight.code).toBe(1);
    const doc = JSON.parse(tight.stdout) as { files: { violations: { rule: string; message: string }[] }[] };
    const readable = doc.files[0]!.violations.filter((v) => v.rule === "npz/readable");
    expect(readable.length).toBeGreaterThan(0);
    expect(readable.every((v) => v.message.startsWith("ERR_NPZ_LIMIT"))).toBe(true);
    for (const bad of ["", "abc", "-1", "1.5G", "1P"]) {
      expect((await capture(() => checkCli([file, "--max-inflate", bad]))).code, bad).toBe(2);
    }
  });
});
