// Member data streams for fix/repack, in bounded memory (4 MiB chunks, 8 MiB transposition
// slabs): the array bytes of a member of the input archive, read straight from the file
// (STORED) or inflated on the fly (DEFLATE, Node's zlib); axis permutations (Fortran -> C
// order, legacy (H, W, M) -> (M, H, W)) from a random-access copy; element conversions
// (byte swap, float64 -> float32, complex128 -> complex64, integer counts -> float32 sqrt).
import { closeSync, openSync, readSync, unlinkSync, writeSync, constants } from "node:fs";
import { Readable } from "node:stream";
import { createInflateRaw } from "node:zlib";
import { NpzError } from "../errors.js";
import type { ZipEntry } from "./zip-index.js";
import { createExclusive } from "./zip-out.js";

const CHUNK = 4 << 20;
const SLAB_BYTES = 8 << 20;

/** The input side of one member: its raw bytes in the input file and where the array starts. */
export interface MemberSource {
  fd: number;
  path: string;
  entry: ZipEntry;
  /** NPY header length (bytes before the array data in the uncompressed member). */
  headerLen: number;
  /** Array data length (count * itemsize), trailing bytes excluded. */
  dataLen: number;
}

/** Fills `buf` from `fd` at `pos`; a short read is ERR_NPZ_CORRUPT. */
export function readFullyAt(fd: number, buf: Buffer, pos: number, path: string): void {
  preadInto(fd, buf, pos, path);
}

function preadInto(fd: number, buf: Buffer, pos: number, path: string): void {
  let done = 0;
  while (done < buf.length) {
    const n = readSync(fd, buf, done, buf.length - done, pos + done);
    if (n === 0) throw new NpzError("ERR_NPZ_CORRUPT", `short read at offset ${pos + done}`, { path });
    done += n;
  }
}

/** Raw (possibly compressed) bytes of the member, chunked. */
export function* rawChunks(src: MemberSource, from = 0, len = src.entry.compressedSize - from): Generator<Buffer> {
  const base = src.entry.dataOffset + from;
  for (let p = 0; p < len; p += CHUNK) {
    const b = Buffer.allocUnsafe(Math.min(CHUNK, len - p));
    preadInto(src.fd, b, base + p, src.path);
    yield b;
  }
}

/** Reads `len` raw bytes at `pos` of the member data. */
export function rawRead(src: MemberSource, pos: number, len: number): Buffer {
  const b = Buffer.allocUnsafe(len);
  preadInto(src.fd, b, src.entry.dataOffset + pos, src.path);
  return b;
}

/** Uncompressed bytes [skip, skip + len) of the member, streamed. Inflation stops after them. */
export async function* uncompressed(src: MemberSource, skip: number, len: number): AsyncGenerator<Buffer> {
  if (src.entry.method === 0) {
    yield* rawChunks(src, skip, len);
    return;
  }
  if (src.entry.method !== 8)
    throw new NpzError("ERR_NPZ_UNSUPPORTED_METHOD", `member '${src.entry.name}' uses method ${src.entry.method}`, { path: src.path, member: src.entry.name });
  const inflate = Readable.from(rawChunks(src), { highWaterMark: 1 }).pipe(createInflateRaw({ chunkSize: 1 << 20 }));
  let pos = 0;
  const end = skip + len;
  try {
    for await (const c of inflate as AsyncIterable<Buffer>) {
      const a = Math.max(skip - pos, 0);
      const b = Math.min(end - pos, c.length);
      if (b > a) yield c.subarray(a, b);
      pos += c.length;
      if (pos >= end) break;
    }
  } finally {
    inflate.destroy();
  }
  if (pos < end) {
    throw new NpzError("ERR_NPZ_SIZE_MISMATCH", `member '${src.entry.name}' inflates to ${pos} bytes, expected at least ${end}`, {
      path: src.path,
      member: src.entry.name,
    });
  }
}

/** The array data of the member (NPY header and trailing bytes dropped). */
export function arrayData(src: MemberSource): AsyncGenerator<Buffer> {
  return uncompressed(src, src.headerLen, src.dataLen);
}

/** Random access to the array data: the input file itself (STORED) or an inflated temp copy. */
export interface RandomAccess {
  /** Fills `target` with the array bytes at `pos`. */
  readInto(target: Buffer, pos: number): void;
  close(): void;
}

export async function randomAccess(src: MemberSource, tempPath: () => string): Promise<RandomAccess> {
  if (src.entry.method === 0) {
    const base = src.entry.dataOffset + src.headerLen;
    return { readInto: (target, pos) => preadInto(src.fd, target, base + pos, src.path), close: () => {} };
  }
  const tmp = tempPath();
  const fd = createExclusive(tmp);
  let readFd = -1;
  try {
    let p = 0;
    for await (const c of arrayData(src)) {
      let done = 0;
      while (done < c.length) done += writeSync(fd, c, done, c.length - done, p + done);
      p += c.length;
    }
    readFd = openSync(tmp, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
  } catch (e) {
    closeSync(fd);
    unlinkSync(tmp);
    throw e;
  }
  closeSync(fd);
  unlinkSync(tmp); // the open descriptor keeps the data until close
  return {
    readInto(target, pos) {
      preadInto(readFd, target, pos, tmp);
    },
    close() {
      closeSync(readFd);
    },
  };
}

function product(a: readonly number[]): number {
  return a.reduce((x, y) => x * y, 1);
}

function cStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1]! * shape[i + 1]!;
  return s;
}

type Words = Uint8Array | Uint16Array | Uint32Array;

function wordView(buf: Buffer, itemsize: number): { view: Words; w: number } {
  const unit = itemsize % 4 === 0 ? 4 : itemsize % 2 === 0 ? 2 : 1;
  let b = buf;
  if (b.byteOffset % unit !== 0) b = ownCopy(b);
  const view =
    unit === 4
      ? new Uint32Array(b.buffer, b.byteOffset, b.length / 4)
      : unit === 2
        ? new Uint16Array(b.buffer, b.byteOffset, b.length / 2)
        : new Uint8Array(b.buffer, b.byteOffset, b.length);
  return { view, w: itemsize / unit };
}

/** dst (C order, shape outShape) = src (C order, shape srcShape) with out axis k = src axis perm[k]. */
function permuteInto(src: Buffer, srcShape: readonly number[], perm: readonly number[], dst: Buffer, itemsize: number): void {
  const n = perm.length;
  const { view: s, w } = wordView(src, itemsize);
  const { view: d } = wordView(dst, itemsize);
  const inStrides = cStrides(srcShape);
  const outShape = perm.map((p) => srcShape[p]!);
  const st = perm.map((p) => inStrides[p]! * w); // word stride in src per out axis
  const last = outShape[n - 1]!;
  const lastStride = st[n - 1]!;
  const idx = new Array<number>(n).fill(0);
  const total = product(outShape);
  let o = 0;
  let base = 0;
  while (o < total * w) {
    let si = base;
    if (w === 1) {
      for (let j = 0; j < last; j++, si += lastStride) d[o++] = s[si]!;
    } else {
      for (let j = 0; j < last; j++, si += lastStride) for (let k = 0; k < w; k++) d[o++] = s[si + k]!;
    }
    // odometer over the outer axes
    let ax = n - 2;
    while (ax >= 0) {
      idx[ax]!++;
      base += st[ax]!;
      if (idx[ax]! < outShape[ax]!) break;
      base -= st[ax]! * outShape[ax]!;
      idx[ax] = 0;
      ax--;
    }
    if (ax < 0) break;
  }
  if (d.buffer !== dst.buffer) Buffer.from(d.buffer, d.byteOffset, d.byteLength).copy(dst);
}

/**
 * C-order bytes of the array whose stored C-order shape is `storedShape`, permuted so that
 * output axis k is stored axis perm[k]. Slabs along output axis 0 (at most ~8 MiB each, at
 * least one row), each gathered with one read per run of contiguous input bytes.
 */
export function* permuted(ra: RandomAccess, storedShape: readonly number[], perm: readonly number[], itemsize: number): Generator<Buffer> {
  const n = storedShape.length;
  if (n === 0 || product(storedShape) === 0) return;
  const outShape = perm.map((p) => storedShape[p]!);
  const rowBytes = product(outShape.slice(1)) * itemsize;
  const rowsPerSlab = Math.max(1, Math.floor(SLAB_BYTES / Math.max(1, rowBytes)));
  const p0 = perm[0]!;
  const lead = product(storedShape.slice(0, p0));
  const inner = product(storedShape.slice(p0 + 1)) * itemsize;
  // The gathered input block is reused for every slab (it never leaves this function); the
  // permuted slab is yielded, so each one is new.
  const subAll = Buffer.allocUnsafe(lead * Math.min(rowsPerSlab, outShape[0]!) * inner);
  for (let a = 0; a < outShape[0]!; a += rowsPerSlab) {
    const b = Math.min(outShape[0]!, a + rowsPerSlab);
    const run = (b - a) * inner;
    const sub = subAll.subarray(0, lead * run);
    for (let l = 0; l < lead; l++) {
      const pos = (l * storedShape[p0]! + a) * inner;
      ra.readInto(sub.subarray(l * run, (l + 1) * run), pos);
    }
    const subShape = [...storedShape];
    subShape[p0] = b - a;
    const out = Buffer.allocUnsafe(sub.length);
    permuteInto(sub, subShape, perm, out, itemsize);
    yield out;
  }
}

/** An element conversion: itemsizes in and out, and the chunk function (count elements). */
export interface Conversion {
  inItem: number;
  outItem: number;
  /** Converts `count` little-endian input elements; may reuse `input`. */
  apply(input: Buffer, count: number): Buffer;
}

/** A copy of `b` in its own ArrayBuffer (offset 0, so any typed-array view is aligned). */
export function ownCopy(b: Uint8Array): Buffer {
  const ab = new ArrayBuffer(b.length);
  new Uint8Array(ab).set(b);
  return Buffer.from(ab);
}

function aligned(b: Buffer, unit: number): Buffer {
  return b.byteOffset % unit === 0 ? b : ownCopy(b);
}

/** Byte-swaps components of `compSize` bytes (big-endian -> little-endian). */
export function swapConversion(itemsize: number, compSize: number): Conversion {
  return {
    inItem: itemsize,
    outItem: itemsize,
    apply(input) {
      const b = Buffer.from(input); // own copy: swap in place
      if (compSize === 2) b.swap16();
      else if (compSize === 4) b.swap32();
      else if (compSize === 8) b.swap64();
      return b;
    },
  };
}

/** float64 components -> float32 (round to nearest, like numpy astype). */
export function f64ToF32(components: number): Conversion {
  return {
    inItem: 8 * components,
    outItem: 4 * components,
    apply(input, count) {
      const src = aligned(input, 8);
      const f64 = new Float64Array(src.buffer, src.byteOffset, count * components);
      const out = new Float32Array(count * components);
      out.set(f64);
      return Buffer.from(out.buffer);
    },
  };
}

/** Integer counts -> float32 amplitude: float32(sqrt(float64(c)) * scale); negatives refused. */
export function countsToAmplitude(kind: "i" | "u", itemsize: number, scale: number | null, where: { path: string; member: string }): Conversion {
  return {
    inItem: itemsize,
    outItem: 4,
    apply(input, count) {
      const src = aligned(input, itemsize);
      const o = new Float32Array(count);
      const ab = src.buffer;
      const off = src.byteOffset;
      let v: ArrayLike<number | bigint>;
      if (itemsize === 1) v = kind === "u" ? new Uint8Array(ab, off, count) : new Int8Array(ab, off, count);
      else if (itemsize === 2) v = kind === "u" ? new Uint16Array(ab, off, count) : new Int16Array(ab, off, count);
      else if (itemsize === 4) v = kind === "u" ? new Uint32Array(ab, off, count) : new Int32Array(ab, off, count);
      else v = kind === "u" ? new BigUint64Array(ab, off, count) : new BigInt64Array(ab, off, count);
      for (let i = 0; i < count; i++) {
        const x = Number(v[i]!);
        if (x < 0) throw new NpzError("ERR_NPZ_CORRUPT", `negative count ${x} in '${where.member}': no amplitude exists`, where);
        o[i] = scale === null ? Math.sqrt(x) : Math.sqrt(x) * scale;
      }
      return Buffer.from(o.buffer);
    },
  };
}

/** Applies conversions in order to a byte stream, re-chunking at element boundaries. */
export async function* convert(chunks: AsyncIterable<Buffer> | Iterable<Buffer>, convs: readonly Conversion[]): AsyncGenerator<Buffer> {
  if (convs.length === 0) {
    yield* chunks;
    return;
  }
  const item = convs[0]!.inItem;
  let carry: Buffer | null = null;
  for await (let c of chunks) {
    if (carry) {
      c = Buffer.concat([carry, c]);
      carry = null;
    }
    const whole = c.length - (c.length % item);
    if (whole < c.length) carry = Buffer.from(c.subarray(whole));
    if (whole === 0) continue;
    let b = c.subarray(0, whole);
    const count = whole / item;
    for (const cv of convs) b = cv.apply(b, count);
    yield b;
  }
  if (carry?.length) throw new Error("array data is not a whole number of elements");
}

/** Sums integer counts (exact below 2^53) for --normalize. */
export async function sumCounts(chunks: AsyncIterable<Buffer>, kind: "i" | "u", itemsize: number, swap: boolean): Promise<number> {
  let total = 0;
  const conv: Conversion = {
    inItem: itemsize,
    outItem: 0,
    apply(input, count) {
      const src = ownCopy(input);
      if (swap) {
        if (itemsize === 2) src.swap16();
        else if (itemsize === 4) src.swap32();
        else if (itemsize === 8) src.swap64();
      }
      const ab = src.buffer;
      const off = src.byteOffset;
      let v: ArrayLike<number | bigint>;
      if (itemsize === 1) v = kind === "u" ? new Uint8Array(ab, off, count) : new Int8Array(ab, off, count);
      else if (itemsize === 2) v = kind === "u" ? new Uint16Array(ab, off, count) : new Int16Array(ab, off, count);
      else if (itemsize === 4) v = kind === "u" ? new Uint32Array(ab, off, count) : new Int32Array(ab, off, count);
      else v = kind === "u" ? new BigUint64Array(ab, off, count) : new BigInt64Array(ab, off, count);
      for (let i = 0; i < count; i++) total += Number(v[i]!);
      return Buffer.alloc(0);
    },
  };
  for await (const _ of convert(chunks, [conv])) void _;
  return total;
}
