// The reader API over the native addon: openNpz / loadNpy / NpzFile, on small files written by
// numpy (test/fixtures/probes/, from test/fixtures/gen_probes.py) and one 48 MiB archive the
// TypeScript writer makes here (too large to commit).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { openNpz, loadNpy, halfToFloat32, type NpzError, isNpzError, type ErrorCode } from "../../src/index.js";
import { native } from "../../src/native.js";
import { numericNpy } from "../../src/writer/npy.js";
import { writeNpz } from "../../src/writer/npz.js";

const PROBES = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "probes");
let dir = "";
// big.npz (written into dir) or a committed probe file.
const f = (name: string) => path.join(name === "big.npz" ? dir : PROBES, name);

function expectCode(fn: () => unknown, code: ErrorCode): NpzError {
  try {
    fn();
  } catch (err) {
    expect(isNpzError(err)).toBe(true);
    expect((err as NpzError).code).toBe(code);
    return err as NpzError;
  }
  throw new Error(`expected ${code}, nothing was thrown`);
}

async function expectCodeAsync(p: Promise<unknown>, code: ErrorCode): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isNpzError(err)).toBe(true);
  expect((err as NpzError).code).toBe(code);
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), "npzguard-api-"));
  // np.savez(big=np.zeros(12 Mi, "<f4")): above the size where scans split over two threads.
  writeNpz(path.join(dir, "big.npz"), { big: numericNpy("<f4", [12 * 1024 * 1024], new Float32Array(12 * 1024 * 1024)) });
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("openNpz()", () => {
  it("lists keys in archive order and headers", () => {
    using npz = openNpz(f("basic.npz"));
    expect(npz.kind).toBe("npz");
    expect(npz.keys().slice(0, 3)).toEqual(["f4", "f8", "i1"]);
    expect(npz.keys()).toContain("be");
    const h = npz.header("f4");
    expect(h).toMatchObject({
      key: "f4",
      descr: "<f4",
      dtypeName: "float32",
      kind: "f",
      itemsize: 4,
      shape: [3, 4],
      fortranOrder: false,
      compression: "stored",
      byteLength: 48,
      count: 12,
      version: "1.0",
      supported: true,
      bigEndian: false,
    });
    expect(h.arrayOffset).not.toBeNull();
    expect(h.alignment).toBe(h.arrayOffset! % 64);
    expect(npz.header("f4.npy").key).toBe("f4");
    expect(npz.header("fort").fortranOrder).toBe(true);
    expect(npz.header("scalar").shape).toEqual([]);
    expect(npz.header("be").bigEndian).toBe(true);
    expect(npz.members().length).toBe(npz.keys().length);
  });

  it("throws ERR_NPZ_MEMBER_NOT_FOUND for an unknown key", () => {
    using npz = openNpz(f("basic.npz"));
    const e = expectCode(() => npz.header("nope"), "ERR_NPZ_MEMBER_NOT_FOUND");
    expect(e.path).toBe(f("basic.npz"));
    expectCode(() => npz.array("nope"), "ERR_NPZ_MEMBER_NOT_FOUND");
  });

  it("reports unreadable files with coded errors", () => {
    expectCode(() => openNpz(f("missing.npz")), "ERR_NPZ_OPEN");
    expectCode(() => openNpz(dir), "ERR_NPZ_OPEN");
    let err: unknown;
    try {
      openNpz(f("garbage.bin"));
    } catch (e) {
      err = e;
    }
    expect(isNpzError(err, "ERR_NPZ_NOT_ZIP", "ERR_NPY_BAD_MAGIC")).toBe(true);
  });

  it("records member-level errors and throws them for that key only", () => {
    using npz = openNpz(f("badmember.npz"));
    expect(npz.keys()).toEqual(["good", "bad"]);
    const bad = npz.members()[1]!;
    expect(bad.error?.code).toBe("ERR_NPY_BAD_VERSION");
    expect(bad.header).toBeNull();
    expectCode(() => npz.header("bad"), "ERR_NPY_BAD_VERSION");
    expectCode(() => npz.array("bad"), "ERR_NPY_BAD_VERSION");
    expect(Array.from(npz.array("good").data as Int32Array)).toEqual([0, 1, 2]);
  });

  it("accepts .npy paths as one member keyed by the file stem", () => {
    using npz = openNpz(f("one.npy"));
    expect(npz.kind).toBe("npy");
    expect(npz.keys()).toEqual(["one"]);
    expect(npz.header("one").arrayOffset).toBe(128);
  });

  it("rejects bad arguments with TypeError before native code", () => {
    expect(() => openNpz(42 as unknown as string)).toThrow(TypeError);
    expect(() => openNpz(f("basic.npz"), { maxHeadrSize: 5 } as never)).toThrow(TypeError);
    expect(() => openNpz(f("basic.npz"), { maxHeaderSize: 2 ** 21 })).toThrow(RangeError);
    using npz = openNpz(f("basic.npz"));
    expect(() => npz.array("f4", { copy: "yes" } as never)).toThrow(TypeError);
    expect(() => npz.header(3 as unknown as string)).toThrow(TypeError);
  });
});

describe("NpzFile#array()", () => {
  it("types data by dtype, in storage order", () => {
    using npz = openNpz(f("basic.npz"));
    const f4 = npz.array("f4");
    expect(f4.data).toBeInstanceOf(Float32Array);
    expect(Array.from(f4.data as Float32Array)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(f4.shape).toEqual([3, 4]);
    expect(Array.from(npz.array("f8").data as Float64Array)).toEqual([0.5, -1.25, 1e300]);
    expect(Array.from(npz.array("i1").data as Int8Array)).toEqual([-128, 127]);
    expect(Array.from(npz.array("i2").data as Int16Array)).toEqual([-3, 4]);
    expect(Array.from(npz.array("i4").data as Int32Array)).toEqual([-5, 6]);
    expect(Array.from(npz.array("i8").data as BigInt64Array)).toEqual([-(2n ** 40n), 5n]);
    expect(Array.from(npz.array("u1").data as Uint8Array)).toEqual([0, 255]);
    expect(Array.from(npz.array("u2").data as Uint16Array)).toEqual([65535]);
    expect(Array.from(npz.array("u4").data as Uint32Array)).toEqual([4000000000]);
    expect(Array.from(npz.array("u8").data as BigUint64Array)).toEqual([2n ** 63n + 1n]);
    const b1 = npz.array("b1").data;
    expect(b1).toBeInstanceOf(Uint8Array);
    expect(Array.from(b1 as Uint8Array)).toEqual([1, 0, 1]);
    expect(Array.from(npz.array("c8").data as Float32Array)).toEqual([1, 2, 3, -4]);
    expect(Array.from(npz.array("c16").data as Float64Array)).toEqual([0.5, -1]);
    const f2 = npz.array("f2").data;
    expect(f2).toBeInstanceOf(Uint16Array);
    expect(Array.from(halfToFloat32(f2 as Uint16Array))).toEqual([1, -2.5, 65504]);
    expect(npz.array("u").data).toEqual(["ab", "cde"]);
    expect(npz.array("s").data).toEqual(["x", "yz"]);
    const fort = npz.array("fort");
    expect(fort.fortranOrder).toBe(true);
    expect(Array.from(fort.data as Int32Array)).toEqual([0, 3, 1, 4, 2, 5]);
    expect(Array.from(npz.array("scalar").data as Float64Array)).toEqual([3.5]);
    expect((npz.array("empty").data as Float32Array).length).toBe(0);
    expect(npz.arrayAs<Float32Array>("f4").data[11]).toBe(11);
    expect(npz.arrayOf("f4", "<f4").data).toBeInstanceOf(Float32Array);
  });

  it("byte-swaps big-endian data into a copy, and refuses a view", () => {
    using npz = openNpz(f("basic.npz"));
    const be = npz.array("be");
    expect(be.zeroCopy).toBe(false);
    expect(Array.from(be.data as Float32Array)).toEqual([0, 1, 2, 3]);
    expectCode(() => npz.array("be", { copy: false }), "ERR_NPY_NON_NATIVE_ENDIAN");
    expect(Array.from(loadNpy(f("be.npy")).data as Float64Array)).toEqual([1.5, -2]);
  });

  it("gives zero-copy views of aligned stored data and copies on request", () => {
    const before = native.liveMappings();
    using npz = openNpz(f("one.npy"));
    const view = npz.array("one");
    expect(view.zeroCopy).toBe(true);
    expect(native.liveMappings()).toBeGreaterThan(before);
    expect(Array.from(view.data as Float32Array)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const copy = npz.array("one", { copy: true });
    expect(copy.zeroCopy).toBe(false);
    (copy.data as Float32Array)[0] = 42;
    expect((view.data as Float32Array)[0]).toBe(0);
  });

  it("refuses a view of a deflated member with ERR_NPZ_COMPRESSED_MEMBER", () => {
    using npz = openNpz(f("comp.npz"));
    expectCode(() => npz.array("x", { copy: false }), "ERR_NPZ_COMPRESSED_MEMBER");
    const x = npz.array("x");
    expect(x.zeroCopy).toBe(false);
    expect((x.data as Float32Array)[999]).toBe(999);
  });

  it("refuses object members with ERR_NPY_UNSUPPORTED_DTYPE", () => {
    using npz = openNpz(f("objs.npz"));
    expectCode(() => npz.array("o"), "ERR_NPY_UNSUPPORTED_DTYPE");
  });
});

describe("NpzFile#strings() / metadata()", () => {
  it("walks pickled object arrays of str/None", () => {
    using npz = openNpz(f("objs.npz"));
    const s = npz.strings("o");
    expect(s.items).toEqual(["a", null, "b"]);
    expect(s.shape).toEqual([3]);
    expect(s.encoding).toBe("pickled-str");
  });

  it("parses pickled and <U _metadata, undefined when absent", () => {
    using comp = openNpz(f("comp.npz"));
    expect(comp.metadata()).toEqual({ schema_version: "1.0.0", n: 3 });
    using u = openNpz(f("umeta.npz"));
    expect(u.metadata()).toEqual({ gridsize: 1 });
    expect(u.strings("_metadata").encoding).toBe("unicode");
    using basic = openNpz(f("basic.npz"));
    expect(basic.metadata()).toBeUndefined();
  });
});

describe("NpzFile#scan()", () => {
  it("computes CRC and stats off the main thread", async () => {
    using npz = openNpz(f("basic.npz"));
    const r = await npz.scan("f4");
    expect(r.key).toBe("f4");
    expect(r.crcChecked).toBe(true);
    expect(r.crcOk).toBe(true);
    const c = r.stats!.components[0]!;
    expect(c).toMatchObject({ count: 12, zero: 1, finite: 12, min: 0, max: 11, sum: 66 });
    const c8 = await npz.scan("c8");
    expect(c8.stats!.components.length).toBe(2);
    const noStats = await npz.scan("f8", { stats: false });
    expect(noStats.stats).toBeNull();
  });

  it("scans deflated members", async () => {
    using npz = openNpz(f("comp.npz"));
    const r = await npz.scan("x");
    expect(r.crcOk).toBe(true);
    expect(r.stats!.components[0]!.max).toBe(999);
  });

  it("rejects with ERR_NPZ_ABORTED when the signal aborts", async () => {
    using npz = openNpz(f("big.npz"));
    await expectCodeAsync(npz.scan("big", { signal: AbortSignal.abort() }), "ERR_NPZ_ABORTED");
    const ac = new AbortController();
    const p = npz.scan("big", { signal: ac.signal });
    ac.abort();
    await expectCodeAsync(p, "ERR_NPZ_ABORTED");
    // Other scans of the same archive are unaffected and later scans work.
    const r = await npz.scan("big", { stats: false });
    expect(r.crcOk).toBe(true);
  });

  it("rejects with ERR_NPZ_ABORTED when the abort comes after the native scan finished but before the promise settled", async () => {
    using npz = openNpz(f("one.npy"));
    const ac = new AbortController();
    const p = npz.scan("one", { signal: ac.signal });
    // Block this thread long enough for the pool thread to finish the tiny scan; its result can
    // only be delivered once this synchronous code returns, after the abort.
    const until = Date.now() + 300;
    while (Date.now() < until) {
      /* spin */
    }
    ac.abort();
    await expectCodeAsync(p, "ERR_NPZ_ABORTED");
  });

  it("finishes a running scan even when the archive is closed meanwhile", async () => {
    const npz = openNpz(f("big.npz"));
    const p = npz.scan("big");
    npz.close();
    const r = await p;
    expect(r.stats!.components[0]!.zero).toBe(12 * 1024 * 1024);
  });
});

describe("NpzFile#close()", () => {
  it("is idempotent, detaches views, and later calls throw ERR_NPZ_CLOSED", async () => {
    const npz = openNpz(f("one.npy"));
    const view = npz.array("one");
    const copy = npz.array("one", { copy: true });
    expect(npz.closed).toBe(false);
    npz.close();
    npz.close();
    expect(npz.closed).toBe(true);
    expect((view.data as Float32Array).length).toBe(0);
    expect((copy.data as Float32Array).length).toBe(0);
    expectCode(() => npz.keys(), "ERR_NPZ_CLOSED");
    expectCode(() => npz.header("one"), "ERR_NPZ_CLOSED");
    expectCode(() => npz.array("one"), "ERR_NPZ_CLOSED");
    await expectCodeAsync(npz.scan("one"), "ERR_NPZ_CLOSED");
  });

  it("[Symbol.dispose] closes", () => {
    let outer: ReturnType<typeof openNpz> | undefined;
    {
      using npz = openNpz(f("basic.npz"));
      outer = npz;
    }
    expect(outer.closed).toBe(true);
  });
});

describe("loadNpy()", () => {
  it("returns a zero-copy view that survives the file being closed", () => {
    const a = loadNpy(f("one.npy"));
    expect(a.zeroCopy).toBe(true);
    expect(a.shape).toEqual([10]);
    expect((a.data as Float32Array)[9]).toBe(9);
    expect(loadNpy(f("one.npy"), { copy: true }).zeroCopy).toBe(false);
  });

  it("refuses a ZIP archive", () => {
    expectCode(() => loadNpy(f("basic.npz")), "ERR_NPY_BAD_MAGIC");
  });
});

describe("native addon", () => {
  it("loads and reads in a worker thread", async () => {
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
    const addon = process.env.NPZGUARD_ADDON ?? path.join(root, "build", "Release", "npzguard.node");
    const code = `
      const { parentPort, workerData } = require("node:worker_threads");
      const addon = require(workerData.addon);
      const a = addon.open(workerData.file, {});
      const r = a.readArray(0, 1);
      const n = new Float32Array(r.buffer)[9];
      a.scan(0, { crc: true, stats: true }).then((s) => { a.close(); parentPort.postMessage({ n, max: s.stats.components[0].max }); });
    `;
    const w = new Worker(code, { eval: true, workerData: { addon, file: f("one.npy") } });
    const msg = await new Promise((resolve, reject) => {
      w.once("message", resolve);
      w.once("error", reject);
    });
    await w.terminate();
    expect(msg).toEqual({ n: 9, max: 9 });
  });

  it("reports build info: the implementations chosen at run time, the compiler, no sanitizers in a release build", () => {
    const info = native.buildInfo();
    // The core's own CRC-32 kernel (whichever this CPU runs) and inflate, unless ISA-L is linked.
    expect(info.crc32).toMatch(/^(vpclmul-avx512|vpclmul-avx512-noprefetch|vpclmul-avx2|pclmul|pmull|armv8-crc32|slice-by-8) \(npzguard\)$/);
    expect(info.inflate).toMatch(/^(npzguard|isa-l \d+\.\d+)/);
    expect(info.compiler).toMatch(/^(gcc|clang) \d+/);
    expect(info.sanitizers).toBe(false);
  });
});
