// The reader on files numpy itself wrote, of the kinds issue 2 names (test/fixtures/probes/,
// written by test/fixtures/gen_probes.py): positional and '/' keys, empty archives, big-endian
// complex, 0-d U/S, non-BMP and lone surrogates in <U, S with NULs, pickled objects, Fortran
// order, archives written to a pipe or with a comment, pickles at protocols 2-5; members above
// the 4 GiB external-buffer cap (sparse files written here); argument checking and errors.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { NpzError, isNpzError, loadNpy, openNpz } from "../../src/index.js";
import { npyHeader } from "../../src/writer/npy.js";
import { zipEndRecords } from "../../src/writer/npz.js";
import { expectNpzError } from "../helpers/expect.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const PROBES = path.join(ROOT, "test", "fixtures", "probes");
const f = (name: string) => path.join(PROBES, name);

// Sparse files too large to commit, written into `dir`.
let dir = "";
const big = (name: string) => path.join(dir, name);

/** Writes `head` at offset 0, then extends the file (sparse) to `size` bytes. */
function writeSparse(file: string, head: Uint8Array, size: number): void {
  const fd = openSync(file, "w");
  try {
    writeSync(fd, head);
    ftruncateSync(fd, size);
  } finally {
    closeSync(fd);
  }
}

/** Little-endian record like Python's struct.pack("<" + fmt): H 2, I 4, Q 8 bytes (Q < 2^53). */
function pack(fmt: string, ...values: number[]): Buffer {
  const widths = [...fmt].map((c) => ({ H: 2, I: 4, Q: 8 })[c as "H" | "I" | "Q"]);
  const b = Buffer.alloc(widths.reduce((n, w) => n + w, 0));
  let o = 0;
  widths.forEach((w, i) => {
    const v = values[i] ?? 0;
    if (w === 8) b.writeBigUInt64LE(BigInt(v), o);
    else b.writeUIntLE(v, o, w);
    o += w;
  });
  return b;
}

// A .npy whose header declares 4 GiB + 64 bytes of float32 (the header numpy writes for it), and
// the same member STORED in a zip64 archive: sizes only in zip64 extras (as numpy writes them),
// a 0xD935 padding extra putting the array data on a 64-byte boundary, CRC 0 (never read fully).
function writeHugeFiles(): void {
  const n = 2 ** 30 + 16;
  const hdr = npyHeader("<f4", [n]);
  const usize = hdr.length + 4 * n;
  writeSparse(big("huge.npy"), hdr, usize);
  const name = Buffer.from("huge.npy");
  const z64 = pack("HHQQ", 1, 16, usize, usize);
  const padLen = (64 - ((30 + name.length + z64.length + 4 + hdr.length) % 64)) % 64;
  const localExtra = Buffer.concat([z64, pack("HH", 0xd935, padLen), Buffer.alloc(padLen)]);
  const lfh = pack("IHHHHHIIIHH", 0x04034b50, 45, 0, 0, 0, 0x21, 0, 0xffffffff, 0xffffffff, name.length, localExtra.length);
  const cdOff = lfh.length + name.length + localExtra.length + usize;
  const cdHead = pack("IHHHHHHIIIHHHHHII", 0x02014b50, 45, 45, 0, 0, 0, 0x21, 0, 0xffffffff, 0xffffffff, name.length, z64.length);
  const cd = Buffer.concat([cdHead, name, z64]);
  const tail = Buffer.concat([cd, zipEndRecords(1, cdOff, cd.length)]);
  const file = big("huge.npz");
  writeSparse(file, Buffer.concat([lfh, name, localExtra, hdr]), cdOff);
  const fd = openSync(file, "r+");
  try {
    writeSync(fd, tail, 0, tail.length, cdOff);
  } finally {
    closeSync(fd);
  }
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), "npzguard-numpy-written-"));
  writeHugeFiles();
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("openNpz() on numpy-written archives", () => {
  it("names positional arrays arr_0, arr_1 in archive order", () => {
    using npz = openNpz(f("positional.npz"));
    expect(npz.keys()).toEqual(["arr_0", "arr_1"]);
    expect(npz.array("arr_0").data).toEqual(new BigInt64Array([0n, 1n, 2n]));
    expect(Array.from(npz.array("arr_1").data as Float64Array)).toEqual([1, 1]);
  });

  it("keeps '/' in keys and accepts the member name with .npy", () => {
    using npz = openNpz(f("slash.npz"));
    expect(npz.keys()).toEqual(["group/a", "c"]);
    expect(npz.header("group/a.npy").key).toBe("group/a");
    expect(Array.from(npz.array("group/a").data as Int16Array)).toEqual([0, 1, 2, 3]);
  });

  it("opens an archive with no arrays (np.savez(f) / np.savez_compressed(f))", () => {
    for (const name of ["empty.npz", "empty_compressed.npz"]) {
      using npz = openNpz(f(name));
      expect(npz.kind).toBe("npz");
      expect(npz.keys()).toEqual([]);
      expect(npz.metadata()).toBeUndefined();
    }
  });

  it("reads members of an archive written to a pipe (deflated, data descriptors)", () => {
    using npz = openNpz(f("piped.npz"));
    expect(npz.keys()).toEqual(["x", "y"]);
    expect(npz.header("x").compression).toBe("deflated");
    expect(Array.from(npz.array("x").data as Float32Array)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(npz.array("y").data).toEqual(new BigInt64Array([0n, 1n, 2n, 3n, 4n]));
  });

  it("reads an archive with a comment and mixed stored/deflated members", () => {
    using npz = openNpz(f("comment.npz"));
    expect(npz.members().map((m) => m.compression)).toEqual(["deflated", "stored"]);
    expect(Array.from(npz.array("a").data as Uint16Array)).toEqual([0, 1, 2]);
    expect(Array.from(npz.array("b").data as Uint32Array)).toEqual([0, 1, 2]);
  });

  it("byte-swaps big-endian complex into interleaved native floats, keeping the descr", () => {
    using npz = openNpz(f("be_complex.npz"));
    const c8 = npz.array("c8");
    expect(c8.descr).toBe(">c8");
    expect(c8.data).toBeInstanceOf(Float32Array);
    expect(Array.from(c8.data as Float32Array)).toEqual([1, -1]);
    const c16 = npz.array("c16");
    expect(c16.descr).toBe(">c16");
    expect(Array.from(c16.data as Float64Array)).toEqual([2, 0.5]);
    expectNpzError(() => npz.array("c8", { copy: false }), ["ERR_NPZ_COMPRESSED_MEMBER", "ERR_NPY_NON_NATIVE_ENDIAN"]);
  });

  it("metadata() extracts the JSON from a pickled 0-d object array at protocols 2, 3, 4 and 5", () => {
    for (const proto of [2, 3, 4, 5]) {
      using npz = openNpz(f(`meta_p${proto}.npz`));
      expect(npz.metadata(), `protocol ${proto}`).toEqual({ a: 1, s: "\u00e9" });
    }
  });
});

describe("loadNpy() on numpy-written .npy files", () => {
  it("big-endian c8 / c16 come back interleaved (re, im) in native order", () => {
    const a = loadNpy(f("be_c8.npy"));
    expect(a.descr).toBe(">c8");
    expect(a.zeroCopy).toBe(false);
    expect(Array.from(a.data as Float32Array)).toEqual([1, 2, -3.5, 0.25]);
    const b = loadNpy(f("be_c16.npy"));
    expect(b.shape).toEqual([2, 2]);
    expect(Array.from(b.data as Float64Array)).toEqual([1, 2, 3, -4, 0, 5, -6, 0]);
    expectNpzError(() => loadNpy(f("be_c8.npy"), { copy: false }), "ERR_NPY_NON_NATIVE_ENDIAN");
  });

  it("0-d U and S arrays are one-string arrays with shape []", () => {
    const u = loadNpy(f("u0d.npy"));
    expect(u).toMatchObject({ shape: [], descr: "<U7", data: ["h\u00e9llo\u{1F600}"] });
    const s = loadNpy(f("s0d.npy"));
    expect(s).toMatchObject({ shape: [], descr: "|S4", data: ["ab"] });
  });

  it("U decodes non-BMP characters, including big-endian <U", () => {
    expect(loadNpy(f("u_be_astral.npy")).data).toEqual(["\u{1D11E}x", "y"]);
  });

  it("U keeps a lone surrogate as numpy stores it (not U+FFFD)", () => {
    expect(loadNpy(f("u_surrogate.npy")).data).toEqual(["a\ud800b", "ok"]);
  });

  // strings() decodes through UTF-8, which cannot carry a lone surrogate: the core substitutes
  // U+FFFD (array() keeps the exact code units).
  it("strings() reads a numpy-written <U holding a lone surrogate", () => {
    using npz = openNpz(f("u_surrogate.npy"));
    const items = npz.strings("u_surrogate").items;
    expect(items[1]).toBe("ok");
    expect(items[0]).toBe("a\ufffdb");
  });

  it("S strips only trailing NULs, like numpy", () => {
    expect(loadNpy(f("s_nuls.npy")).data).toEqual(["a\u0000b", "\u0000\u0000c", "", "ab"]);
  });

  it("a 2-D Fortran array stays in column-major storage order", () => {
    const a = loadNpy(f("fortran.npy"));
    expect(a.fortranOrder).toBe(true);
    expect(a.shape).toEqual([2, 3]);
    expect(Array.from(a.data as Float64Array)).toEqual([0, 3, 1, 4, 2, 5]);
  });

  it("a pickled object array: array() is a coded refusal, strings() reads str/None", () => {
    expectNpzError(() => loadNpy(f("obj.npy")), "ERR_NPY_UNSUPPORTED_DTYPE");
    using npz = openNpz(f("obj.npy"));
    expect(npz.header("obj").descr).toBe("|O");
    expect(npz.strings("obj").items).toEqual(["x", null, "yz"]);
  });
});

const BIG = process.env.NPZGUARD_BIG_TESTS === "1" || !!process.env.CI;

describe("members larger than the 4 GiB external-buffer cap", () => {
  it("header() works and array({ copy: false }) is ERR_NPZ_LIMIT, without aborting", () => {
    using npz = openNpz(big("huge.npy"));
    const h = npz.header("huge");
    expect(h.byteLength).toBe(4 * (2 ** 30 + 16));
    expect(h.alignment).toBe(0);
    expectNpzError(() => npz.array("huge", { copy: false }), "ERR_NPZ_LIMIT");
    expect(npz.closed).toBe(false);
  });

  it("the same in a stored zip64 archive: header from the zip64 extras, ERR_NPZ_LIMIT for a view", () => {
    using npz = openNpz(big("huge.npz"));
    expect(npz.keys()).toEqual(["huge"]);
    const h = npz.header("huge");
    expect(h.compression).toBe("stored");
    expect(h.byteLength).toBe(4 * (2 ** 30 + 16));
    expect(h.alignment).toBe(0);
    expectNpzError(() => npz.array("huge", { copy: false }), "ERR_NPZ_LIMIT");
  });

  // Allocates 4 GiB: runs in CI (24 GB machines) and where NPZGUARD_BIG_TESTS=1; skipped on
  // developer machines otherwise so a laptop is not pushed to swap.
  it.runIf(BIG)(
    "array() copies it once into a V8-owned buffer",
    () => {
      using npz = openNpz(big("huge.npy"));
      const a = npz.array("huge");
      expect(a.zeroCopy).toBe(false);
      expect(a.data.length).toBe(2 ** 30 + 16);
      expect((a.data as Float32Array)[a.data.length - 1]).toBe(0);
    },
    300_000,
  );

  // An 8 TiB sparse .npy: the copy cannot be allocated. v8::ArrayBuffer::New would abort the
  // process, and under vm.overcommit_memory=1 the kernel would grant it and the process would die
  // filling it; the binding answers ERR_NPZ_LIMIT first, naming the machine's memory (RAM + swap
  // or the cgroup limit). Needs a filesystem with 8 TiB sparse files: runs in CI and with
  // NPZGUARD_BIG_TESTS=1.
  it.runIf(BIG)("a copy that cannot be allocated is ERR_NPZ_LIMIT, not an abort", () => {
    const p = big("absurd.npy");
    const hdr = npyHeader("<f8", [2 ** 40]);
    writeSparse(p, hdr, hdr.length + 8 * 2 ** 40);
    using npz = openNpz(p);
    expectNpzError(() => npz.array("absurd"), "ERR_NPZ_LIMIT");
    expect(() => npz.array("absurd")).toThrow(/more than this machine's memory/);
  });
});

describe("argument checking and errors", () => {
  it("misuse is a TypeError before native code runs", () => {
    expect(() => openNpz(123 as unknown as string)).toThrow(TypeError);
    expect(() => loadNpy(undefined as unknown as string)).toThrow(TypeError);
    using npz = openNpz(f("positional.npz"));
    expect(() => npz.array(5 as unknown as string)).toThrow(TypeError);
    expect(() => npz.array("arr_0", { copy: "yes" } as unknown as { copy: boolean })).toThrow(TypeError);
    expect(() => npz.array("arr_0", { cpoy: true } as unknown as { copy: boolean })).toThrow(TypeError);
  });

  it("NpzError carries code, path and member", () => {
    using npz = openNpz(f("positional.npz"));
    const e = expectNpzError(() => npz.array("nope"), "ERR_NPZ_MEMBER_NOT_FOUND");
    expect(e).toBeInstanceOf(NpzError);
    expect(e.path).toBe(f("positional.npz"));
    expect(e.member).toBe("nope");
    const missing = expectNpzError(() => openNpz(f("missing.npz")), "ERR_NPZ_OPEN");
    expect(missing.path).toBe(f("missing.npz"));
    expect(isNpzError(missing, "ERR_NPZ_OPEN")).toBe(true);
    expectNpzError(() => openNpz(dir), "ERR_NPZ_OPEN");
  });

  it("after close() methods throw ERR_NPZ_CLOSED and views are detached", () => {
    const npz = openNpz(f("comment.npz"));
    const b = npz.array("b");
    expect(b.zeroCopy).toBe(true);
    npz.close();
    npz.close();
    expect(b.data.length).toBe(0);
    expectNpzError(() => npz.keys(), "ERR_NPZ_CLOSED");
    expectNpzError(() => npz.header("a"), "ERR_NPZ_CLOSED");
    expectNpzError(() => npz.array("a"), "ERR_NPZ_CLOSED");
    expectNpzError(() => npz.metadata(), "ERR_NPZ_CLOSED");
    expectNpzError(() => npz.has("a"), "ERR_NPZ_CLOSED");
    // Argument checks come first, closed or not.
    expect(() => npz.has(5 as unknown as string)).toThrow(TypeError);
  });
});
