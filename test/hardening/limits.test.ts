// Limits (npy-npz-format.md §5.4, §8, §10): declared sizes must agree with the file, inflated
// output stops at the declared size, the header cap option is honoured up to 1 MiB, the ndim cap
// holds, nothing allocates from an unchecked header field, and a 1 GiB zip bomb is scanned in
// bounded memory (child process, peak RSS <= 256 MB).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDeflateRaw, crc32, deflateRawSync } from "node:zlib";
import { openNpz, loadNpy } from "../../src/index.js";
import { runChild } from "./run-child.js";
import { expectNpzError, expectNpzErrorAsync } from "../helpers/expect.js";
import { concat, npy, tempDir, zip } from "../helpers/npz-writer.js";

const tmp = tempDir("npzguard-limits-");
afterAll(() => tmp.cleanup());

interface ChildReply {
  ok: boolean;
  code?: string | null;
  message?: string;
  vmHwmKiB?: number;
  result?: { crcChecked: boolean; crcOk: boolean; bytesRead: number; stats: { elements: number; components: { zero: number; finite: number }[] } | null };
}

const f32 = (values: number[]): Uint8Array => new Uint8Array(new Float32Array(values).buffer);

describe("declared sizes must agree with the file", () => {
  it("a header declaring far more data than the file holds is refused at open, nothing allocated", () => {
    // 2^40 float32 = 4 TiB declared by a 200-byte file.
    const p = tmp.write("huge.npy", npy(f32([1, 2, 3]), { descr: "<f4", shape: [2 ** 40] }));
    const f = openNpz(p);
    try {
      expect(f.members()[0]!.error?.code).toBe("ERR_NPY_TRUNCATED");
      expectNpzError(() => f.array("huge", { copy: true }), "ERR_NPY_TRUNCATED");
      expectNpzError(() => f.header("huge"), "ERR_NPY_TRUNCATED");
    } finally {
      f.close();
    }
  });

  it("a deflated member whose NPY header declares more than the CD size is refused before inflating", () => {
    const data = npy(f32([1, 2]), { descr: "<f4", shape: [1 << 28] });
    const p = tmp.write("declares_more.npz", zip([{ name: "a.npy", data, method: 8 }]).bytes);
    const f = openNpz(p);
    try {
      expectNpzError(() => f.header("a"), "ERR_NPY_TRUNCATED");
    } finally {
      f.close();
    }
  });

  it("usize beyond the DEFLATE ratio limit (1032:1) is a size lie, refused at open", () => {
    const data = npy(f32([0, 0, 0, 0]), { descr: "<f4", shape: [4] });
    const payload = new Uint8Array(deflateRawSync(data));
    const usize = 1032 * payload.length + 1024 + 1;
    const p = tmp.write("ratio.npz", zip([{ name: "a.npy", data, method: 8, payload, usize }]).bytes);
    expectNpzError(() => openNpz(p), "ERR_NPZ_SIZE_MISMATCH");
  });

  it("a STORED member whose csize differs from usize is refused", () => {
    const data = npy(f32([1, 2, 3, 4]), { descr: "<f4", shape: [4] });
    const p = tmp.write("stored_mismatch.npz", zip([{ name: "a.npy", data, usize: data.length + 8 }]).bytes);
    expectNpzError(() => openNpz(p), ["ERR_NPZ_SIZE_MISMATCH", "ERR_NPZ_CORRUPT"]);
  });

  it("object arrays with an absurd shape are refused by the walker's caps, not allocated", () => {
    const pickle = Uint8Array.of(0x80, 0x02, 0x4e, 0x2e); // PROTO 2, NONE, STOP
    const p = tmp.write("obj.npy", npy(pickle, { descr: "|O", shape: [2 ** 50] }));
    const f = openNpz(p);
    try {
      expectNpzError(() => f.strings("obj"), ["ERR_NPY_PICKLE_REFUSED", "ERR_NPZ_LIMIT"]);
    } finally {
      f.close();
    }
  });
});

describe("inflated output stops at the declared size", () => {
  // 64 MiB of zeros after the header, but the CD declares a 1 MiB array.
  const real = 64 << 20;
  const declared = 1 << 20;
  let liar = "";
  let short = "";
  beforeAll(() => {
    const hdrDeclared = npy(new Uint8Array(0), { descr: "<f4", shape: [declared / 4] });
    const big = concat([hdrDeclared, new Uint8Array(real)]);
    const payload = new Uint8Array(deflateRawSync(big, { level: 9 }));
    const usize = hdrDeclared.length + declared;
    const crc = crc32(big.subarray(0, usize)) >>> 0;
    liar = tmp.write("inflates_more.npz", zip([{ name: "diffraction.npy", data: big.subarray(0, usize), method: 8, payload, usize, crc }]).bytes);
    // The other way round: declares 2x what the stream holds.
    // Incompressible bytes, so the declared size stays within the 1032:1 ratio check.
    const noise = new Uint8Array(declared);
    let x = 12345;
    for (let i = 0; i < noise.length; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      noise[i] = x >>> 24;
    }
    const small = npy(noise, { descr: "<f4", shape: [declared / 2] });
    const sp = new Uint8Array(deflateRawSync(small));
    short = tmp.write("inflates_less.npz", zip([{ name: "diffraction.npy", data: small, method: 8, payload: sp, usize: small.length + declared }]).bytes);
  });

  it("more output than declared: ERR_NPZ_SIZE_MISMATCH from scan and from a copy", async () => {
    const f = openNpz(liar);
    try {
      expect(f.header("diffraction").byteLength).toBe(declared);
      await expectNpzErrorAsync(() => f.scan("diffraction"), "ERR_NPZ_SIZE_MISMATCH");
      expectNpzError(() => f.array("diffraction", { copy: true }), "ERR_NPZ_SIZE_MISMATCH");
      expectNpzError(() => f.array("diffraction", { copy: false }), "ERR_NPZ_COMPRESSED_MEMBER");
    } finally {
      f.close();
    }
  });

  it("a stream that ends before the declared size: ERR_NPZ_SIZE_MISMATCH", async () => {
    const f = openNpz(short);
    try {
      await expectNpzErrorAsync(() => f.scan("diffraction"), "ERR_NPZ_SIZE_MISMATCH");
      expectNpzError(() => f.array("diffraction", { copy: true }), "ERR_NPZ_SIZE_MISMATCH");
    } finally {
      f.close();
    }
  });
});

describe("a copy allocates from a declared size only as data arrives", () => {
  it("a 1 MB deflated member declaring 1 GiB (within the 1032:1 ratio) fails a copy in bounded memory", async () => {
    // 1 MiB of incompressible bytes after a header declaring float32 (2^28,) = 1 GiB; the CD
    // declares 1 GiB too, which the ratio check accepts for a ~1 MB payload.
    const noise = new Uint8Array(1 << 20);
    let x = 987654321;
    for (let i = 0; i < noise.length; i++) {
      x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
      noise[i] = x >>> 24;
    }
    const head = npy(new Uint8Array(0), { descr: "<f4", shape: [2 ** 28] });
    const body = concat([head, noise]);
    const payload = new Uint8Array(deflateRawSync(body));
    const p = tmp.write("copy_liar.npz", zip([{ name: "diffraction.npy", data: body, method: 8, payload, usize: head.length + 2 ** 30 }]).bytes);
    const r = await runChild<ChildReply>(["copy", p, "diffraction"], 60_000);
    expect(r.signal, r.stderr).toBeNull();
    expect(r.reply?.ok).toBe(false);
    expect(r.reply?.code).toBe("ERR_NPZ_SIZE_MISMATCH");
    expect(r.reply!.vmHwmKiB!).toBeGreaterThan(0);
    expect(r.reply!.vmHwmKiB! * 1024).toBeLessThanOrEqual(256 * 1000 * 1000);
  }, 70_000);
});

describe("header cap (maxHeaderSize, default 10,000, at most 1 MiB)", () => {
  /** An .npy whose HEADER_LEN is exactly `len` (v2 prefix: 12 bytes). */
  function bigHeader(len: number): Uint8Array {
    const dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
    const text = dict + " ".repeat(len - dict.length - 1) + "\n";
    return npy(f32([1, 2]), { headerText: text, pad: false, version: [2, 0] });
  }

  it("a 20,000-byte header is refused by default and read with maxHeaderSize", () => {
    const p = tmp.write("h20k.npy", bigHeader(20_000));
    const f = openNpz(p);
    try {
      expectNpzError(() => f.header("h20k"), "ERR_NPY_HEADER_TOO_LARGE");
    } finally {
      f.close();
    }
    expectNpzError(() => loadNpy(p), "ERR_NPY_HEADER_TOO_LARGE");
    const g = openNpz(p, { maxHeaderSize: 20_000 });
    try {
      expect(Array.from(g.array("h20k").data as Float32Array)).toEqual([1, 2]);
    } finally {
      g.close();
    }
    expectNpzError(() => {
      const h = openNpz(p, { maxHeaderSize: 19_999 });
      try {
        h.header("h20k");
      } finally {
        h.close();
      }
    }, "ERR_NPY_HEADER_TOO_LARGE");
  });

  it("exactly 1 MiB is the ceiling: accepted with the option, 1 MiB + 1 never, and the option cannot exceed it", () => {
    const at = tmp.write("h1m.npy", bigHeader(1 << 20));
    const over = tmp.write("h1m1.npy", bigHeader((1 << 20) + 64));
    const f = openNpz(at, { maxHeaderSize: 1 << 20 });
    try {
      expect(f.header("h1m").shape).toEqual([2]);
    } finally {
      f.close();
    }
    const g = openNpz(over, { maxHeaderSize: 1 << 20 });
    try {
      expectNpzError(() => g.header("h1m1"), "ERR_NPY_HEADER_TOO_LARGE");
    } finally {
      g.close();
    }
    expect(() => openNpz(over, { maxHeaderSize: (1 << 20) + 64 })).toThrow(RangeError);
  });

  it("the cap applies to deflated members too (header peek inflates only header bytes)", () => {
    const data = bigHeader(500_000);
    const p = tmp.write("hdr_deflated.npz", zip([{ name: "x.npy", data, method: 8 }]).bytes);
    const f = openNpz(p);
    try {
      expectNpzError(() => f.header("x"), "ERR_NPY_HEADER_TOO_LARGE");
    } finally {
      f.close();
    }
    const g = openNpz(p, { maxHeaderSize: 1 << 20 });
    try {
      expect(Array.from(g.array("x").data as Float32Array)).toEqual([1, 2]);
    } finally {
      g.close();
    }
  });
});

describe("ndim cap (64)", () => {
  it("64 dimensions are read, 65 are ERR_NPY_BAD_HEADER", () => {
    const ok = tmp.write("nd64.npy", npy(f32([7]), { descr: "<f4", shape: new Array<number>(64).fill(1) }));
    const bad = tmp.write("nd65.npy", npy(f32([7]), { descr: "<f4", shape: new Array<number>(65).fill(1) }));
    expect(loadNpy(ok).shape.length).toBe(64);
    expectNpzError(() => loadNpy(bad), "ERR_NPY_BAD_HEADER");
  });
});

describe("1 GiB zip bomb", () => {
  const GIB = 1 << 30;
  let bomb = "";
  let header: Uint8Array = new Uint8Array(0);

  beforeAll(async () => {
    // float32 (65536, 64, 64) = exactly 1 GiB of zeros after a 128-byte header, deflated at
    // level 9 (about 1 MB): a valid-looking NPZ with a correct header, sizes and CRC.
    header = npy(new Uint8Array(0), { descr: "<f4", shape: [65536, 64, 64] });
    const zeros = new Uint8Array(1 << 20);
    const d = createDeflateRaw({ level: 9 });
    const parts: Buffer[] = [];
    d.on("data", (b: Buffer) => parts.push(b));
    const ended = new Promise<void>((resolve, reject) => {
      d.once("end", () => resolve());
      d.once("error", reject);
    });
    let crc = crc32(header);
    d.write(header);
    for (let i = 0; i < GIB / zeros.length; i++) {
      crc = crc32(zeros, crc);
      if (!d.write(zeros)) await new Promise<void>((r) => d.once("drain", () => r()));
    }
    d.end();
    await ended;
    const payload = new Uint8Array(Buffer.concat(parts));
    expect(payload.length).toBeLessThan(2 << 20);
    const probe = npy(new Uint8Array(new Float32Array(64 * 64 * 2).buffer), { descr: "<c8", shape: [64, 64] });
    bomb = tmp.write(
      "bomb.npz",
      zip([
        { name: "diffraction.npy", data: header, method: 8, payload, crc: crc >>> 0, usize: header.length + GIB },
        { name: "probeGuess.npy", data: probe },
      ]).bytes,
    );
  }, 120_000);

  it("header-only open is cheap and reports the declared 1 GiB", () => {
    const f = openNpz(bomb);
    try {
      const h = f.header("diffraction");
      expect(h.byteLength).toBe(GIB);
      expect(h.compression).toBe("deflated");
      expect(h.uncompressedSize).toBe(header.length + GIB);
    } finally {
      f.close();
    }
  });

  it("is fully scanned (CRC ok, every value seen) in a child whose peak RSS stays <= 256 MB", async () => {
    const r = await runChild<ChildReply>(["scan", bomb, "diffraction"], 110_000);
    expect(r.signal, r.stderr).toBeNull();
    expect(r.code, r.stderr).toBe(0);
    const reply = r.reply!;
    expect(reply.ok, reply.message).toBe(true);
    expect(reply.result!.crcChecked).toBe(true);
    expect(reply.result!.crcOk).toBe(true);
    expect(reply.result!.bytesRead).toBe(header.length + GIB);
    expect(reply.result!.stats!.elements).toBe(GIB / 4);
    expect(reply.result!.stats!.components[0]!.zero).toBe(GIB / 4);
    expect(reply.vmHwmKiB).toBeGreaterThan(0);
    expect(reply.vmHwmKiB! * 1024).toBeLessThanOrEqual(256 * 1000 * 1000);
  }, 120_000);
});
