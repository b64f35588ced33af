// Copies of large STORED members (>= 64 MiB) take the core's two-thread path: each thread preads
// and CRCs its half of the array, the member CRC is combined from header, halves and trailing
// bytes, and big-endian data is swapped per chunk. These tests pin that path to exact values,
// both byte orders, odd (misaligned) data offsets, trailing bytes, CRC mismatches in every part,
// and truncation after open. Smaller members (the numpy-written fixtures) use the stream path.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync, truncateSync } from "node:fs";
import { openNpz, loadNpy } from "../../src/index.js";
import { expectNpzError } from "../helpers/expect.js";
import { concat, npy, tempDir, zip } from "../helpers/npz-writer.js";

const tmp = tempDir("npzguard-large-copy-");
afterAll(() => tmp.cleanup());

const COUNT = (72 << 20) / 8; // 72 MiB of 8-byte elements: above the 64 MiB threshold
const odd = COUNT + 1; // odd element count: the split cannot be an exact half

/** Deterministic values whose 8 bytes all differ, so a wrong swap or a shifted chunk shows. */
function pattern(n: number): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = i * 1.000000119 - 0.5 * (i % 7);
  return a;
}

function bigEndianBytes(a: Float64Array): Uint8Array {
  const out = new Uint8Array(a.length * 8);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < a.length; i++) dv.setFloat64(i * 8, a[i]!, false);
  return out;
}

function expectSameValues(got: ArrayLike<number>, want: Float64Array): void {
  expect(got.length).toBe(want.length);
  // Compare in bulk first (fast), then pinpoint the first difference for a readable failure.
  const g = new Uint8Array((got as Float64Array).buffer, (got as Float64Array).byteOffset, want.length * 8);
  const w = new Uint8Array(want.buffer);
  if (Buffer.compare(g, w) !== 0) {
    const i = want.findIndex((v, k) => !Object.is(v, got[k]));
    expect({ index: i, value: got[i] }).toEqual({ index: i, value: want[i] });
  }
}

const values = pattern(odd);
let le = "";
let be = "";
let misaligned = "";
let trailing = "";
let npyBe = "";
let lePayload: Uint8Array;

beforeAll(() => {
  lePayload = npy(new Uint8Array(values.buffer), { descr: "<f8", shape: [odd] });
  const bePayload = npy(bigEndianBytes(values), { descr: ">f8", shape: [odd] });
  le = tmp.write(
    "le.npz",
    zip([
      { name: "small.npy", data: npy(new Uint8Array(8), { descr: "<f8", shape: [1] }) },
      { name: "diffraction.npy", data: lePayload },
    ]).bytes,
  );
  be = tmp.write("be.npz", zip([{ name: "diffraction.npy", data: bePayload }]).bytes);
  // A 3-character name puts the data at an odd file offset, like numpy's real archives
  // ("diffraction.npy" lands at 193): a view is impossible, the copy must still be exact.
  misaligned = tmp.write("misaligned.npz", zip([{ name: "abc.npy", data: lePayload }]).bytes);
  trailing = tmp.write("trailing.npz", zip([{ name: "diffraction.npy", data: concat([lePayload, new Uint8Array([1, 2, 3, 4, 5])]) }]).bytes);
  npyBe = tmp.write("be.npy", bePayload);
}, 120_000);

// The three fill strategies: huge pages where free 2 MiB blocks are plentiful (the default; the
// core takes userfaultfd by itself otherwise), UFFDIO_COPY into fresh pages (where the kernel
// allows userfaultfd; pread otherwise), and pread forced by both switches. The native test
// archive_parallel_stored_copy_every_strategy checks which pages each strategy ends up with.
const FILL_ENV = ["NPZGUARD_NO_HUGEPAGES", "NPZGUARD_NO_USERFAULTFD"] as const;
describe.each([
  ["huge pages", { NPZGUARD_NO_HUGEPAGES: "0", NPZGUARD_NO_USERFAULTFD: "0" }],
  ["userfaultfd fill", { NPZGUARD_NO_HUGEPAGES: "1", NPZGUARD_NO_USERFAULTFD: "0" }],
  ["pread", { NPZGUARD_NO_HUGEPAGES: "1", NPZGUARD_NO_USERFAULTFD: "1" }],
])("large STORED copies (two-thread path, %s)", (_label, env) => {
  const saved = Object.fromEntries(FILL_ENV.map((k) => [k, process.env[k]]));
  beforeAll(() => {
    for (const k of FILL_ENV) process.env[k] = env[k];
  });
  afterAll(() => {
    for (const k of FILL_ENV) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  });

  it("little-endian: forced copy equals the stored values", () => {
    using npz = openNpz(le);
    const a = npz.array("diffraction", { copy: true });
    expect(a.zeroCopy).toBe(false);
    expect(a.shape).toEqual([odd]);
    expectSameValues(a.data as Float64Array, values);
  });

  it("big-endian: swapped into native order, exact values", () => {
    using npz = openNpz(be);
    const a = npz.array("diffraction");
    expect(a.descr).toBe(">f8");
    expect(a.zeroCopy).toBe(false);
    expectSameValues(a.data as Float64Array, values);
  });

  it("misaligned data offset: auto mode copies exactly, copy:false refuses with ERR_NPY_MISALIGNED", () => {
    using npz = openNpz(misaligned);
    expect(npz.header("abc").arrayOffset! % 8).not.toBe(0);
    expectNpzError(() => npz.array("abc", { copy: false }), "ERR_NPY_MISALIGNED");
    const a = npz.array("abc");
    expect(a.zeroCopy).toBe(false);
    expectSameValues(a.data as Float64Array, values);
  });

  it("trailing bytes after the array are part of the CRC and not of the data", () => {
    using npz = openNpz(trailing);
    const a = npz.array("diffraction", { copy: true });
    expectSameValues(a.data as Float64Array, values);
  });

  it("a big-endian .npy file (no CRC) is swapped exactly", () => {
    const a = loadNpy(npyBe);
    expectSameValues(a.data as Float64Array, values);
  });

  it.each([
    ["the NPY header", (p: Uint8Array) => p.indexOf(0x3a) + 1 /* the space after "'descr':" */],
    ["the first half", (p: Uint8Array) => p.length - odd * 8 + 12345],
    ["the second half", (p: Uint8Array) => p.length - 777],
    ["the trailing bytes", (p: Uint8Array) => p.length + 2],
  ])("a flipped byte in %s is ERR_NPZ_CRC_MISMATCH", (_where, at) => {
    const payload = concat([lePayload, new Uint8Array([1, 2, 3, 4, 5])]);
    const good = zip([{ name: "diffraction.npy", data: payload }]);
    const bytes = good.bytes.slice();
    const pos = at(lePayload);
    const fileOffset = good.layout.dataOffsets[0]! + pos;
    // In the header, the space after a colon becomes a tab: still a valid header, other bytes.
    bytes[fileOffset] = pos < lePayload.length - odd * 8 ? 0x09 : bytes[fileOffset]! ^ 0x40;
    const f = tmp.write(`crc-${pos}-${_label.replace(/\W/g, "")}.npz`, bytes);
    using npz = openNpz(f);
    expectNpzError(() => npz.array("diffraction", { copy: true }), "ERR_NPZ_CRC_MISMATCH");
  });

  it("a file truncated after open is a coded error, never a crash", () => {
    const f = tmp.write(`truncated-${_label.replace(/\W/g, "")}.npz`, zip([{ name: "diffraction.npy", data: lePayload }]).bytes);
    using npz = openNpz(f);
    truncateSync(f, 40 << 20);
    expectNpzError(() => npz.array("diffraction", { copy: true }), "ERR_NPZ_CORRUPT");
  });
});

describe("close() releases what it detaches at once, not at the next GC", () => {
  it("a loop of open / array({copy: true}) / close keeps RSS flat", () => {
    const rssMiB = (): number => process.memoryUsage().rss / (1 << 20);
    const once = (): void => {
      const npz = openNpz(le);
      const a = npz.array("diffraction", { copy: true });
      const data = a.data as Float64Array;
      expect(data.byteLength).toBe(odd * 8);
      npz.close();
      expect(data.byteLength).toBe(0); // detached
    };
    once();
    const before = rssMiB();
    for (let i = 0; i < 8; i++) once(); // 8 x 72 MiB: would be ~576 MiB if held until GC
    expect(rssMiB() - before).toBeLessThan(150);
  });

  it("a zero-copy view's mapping is gone from /proc/self/maps right after close()", () => {
    const f = tmp.write(
      "aligned.npz",
      zip([{ name: "ab.npy", data: npy(new Uint8Array(new Float64Array([1, 2, 3]).buffer), { descr: "<f8", shape: [3] }) }]).bytes,
    );
    const mapped = (): boolean => readFileSync("/proc/self/maps", "utf8").includes(f);
    const npz = openNpz(f);
    const a = npz.array("ab");
    expect(a.zeroCopy).toBe(true);
    expect(Array.from(a.data as Float64Array)).toEqual([1, 2, 3]);
    expect(mapped()).toBe(true);
    npz.close();
    expect((a.data as Float64Array).byteLength).toBe(0);
    expect(mapped()).toBe(false);
  });
});
