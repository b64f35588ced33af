// Executes member jobs into a ZipOut: raw copies (no re-encoding), transformed numeric members
// (permutation + element conversion, streamed), string members and `_metadata`. Shared by fix
// and repack. Every size written is derived from the NPY header the reader validated.
import { npyHeader } from "../writer/npy.js";
import type { MemberInfo, NpyHeaderInfo } from "../types.js";
import { NpzError } from "../errors.js";
import {
  arrayData,
  convert,
  countsToAmplitude,
  f64ToF32,
  permuted,
  randomAccess,
  rawRead,
  readFullyAt,
  swapConversion,
  type Conversion,
  type MemberSource,
} from "./member-io.js";
import type { ZipEntry } from "./zip-index.js";
import { tempPathBeside, type MemberRecord, type ZipOut } from "./zip-out.js";

export interface InputArchive {
  fd: number;
  path: string;
  /** Zip entries by member name. */
  entries: Map<string, ZipEntry>;
}

/** NPY header length of a member: what precedes the array data in the uncompressed bytes. */
export function npyHeaderLen(info: MemberInfo): number {
  const h = info.header;
  if (!h || info.error || !info.npyMagic) return 0;
  return info.uncompressedSize - h.byteLength - h.trailingBytes;
}

export function sourceOf(input: InputArchive, info: MemberInfo): MemberSource {
  const entry = input.entries.get(info.name);
  if (!entry) throw new NpzError("ERR_NPZ_CORRUPT", `member '${info.name}' is not in the central directory`, { path: input.path, member: info.key });
  const h = info.header;
  let headerLen = npyHeaderLen(info);
  if (entry.method === 0 && info.npyMagic && entry.uncompressedSize >= 12) {
    // Read the NPY prefix itself: for |O members byteLength says nothing about the pickle after it.
    const pre = rawRead({ fd: input.fd, path: input.path, entry, headerLen: 0, dataLen: 0 }, 0, 12);
    if (pre[0] === 0x93 && pre.toString("latin1", 1, 6) === "NUMPY") headerLen = pre[6] === 1 ? 10 + pre.readUInt16LE(8) : 12 + pre.readUInt32LE(8);
  }
  return { fd: input.fd, path: input.path, entry, headerLen, dataLen: h && !info.error ? h.byteLength : entry.uncompressedSize };
}

/** Copies a member's raw bytes (method, CRC and sizes unchanged); STORED members aligned. */
export function copyRawMember(out: ZipOut, input: InputArchive, info: MemberInfo, outName: string, align: number): MemberRecord {
  const src = sourceOf(input, info);
  const method = src.entry.method === 0 ? 0 : 8;
  // One scratch buffer for the whole copy: copyRaw writes each piece before asking for the next.
  // CRCs are not recomputed here: the caller verifies every CRC of OUT before renaming it.
  const scratch = Buffer.allocUnsafe(Math.min(4 << 20, Math.max(1, src.entry.compressedSize)));
  return out.copyRaw(
    outName,
    { method, crc32: src.entry.crc32, compressedSize: src.entry.compressedSize, uncompressedSize: src.entry.uncompressedSize },
    (p, l) => {
      const b = scratch.subarray(0, l);
      readFullyAt(input.fd, b, src.entry.dataOffset + p, input.path);
      return b;
    },
    {
      align,
      npyHeaderLen: src.headerLen,
    },
  );
}

async function* withHeader(header: Buffer, body: AsyncIterable<Buffer> | Iterable<Buffer>): AsyncGenerator<Buffer> {
  yield header;
  yield* body;
}

export interface TransformSpec {
  header: NpyHeaderInfo;
  outDescr: string;
  outShape: number[];
  storedShape: number[];
  perm: number[] | null;
  swap: boolean;
  cast: "none" | "f8-f4" | "c16-c8" | "counts-sqrt";
  /** Multiplier for counts-sqrt (--normalize), null for none. */
  scale?: number | null;
}

/** Streams a rewritten numeric member into `out`. */
export async function writeTransformed(
  out: ZipOut,
  input: InputArchive,
  info: MemberInfo,
  outName: string,
  spec: TransformSpec,
  opts: { deflateLevel?: number; align: number },
): Promise<MemberRecord> {
  const src = sourceOf(input, info);
  const h = spec.header;
  const convs: Conversion[] = [];
  const comp = h.kind === "c" ? h.itemsize / 2 : h.itemsize;
  if (spec.swap) convs.push(swapConversion(h.itemsize, comp));
  if (spec.cast === "f8-f4") convs.push(f64ToF32(1));
  else if (spec.cast === "c16-c8") convs.push(f64ToF32(2));
  else if (spec.cast === "counts-sqrt")
    convs.push(countsToAmplitude(h.kind as "i" | "u", h.itemsize, spec.scale ?? null, { path: input.path, member: info.key }));
  const header = npyHeader(spec.outDescr, spec.outShape, false);
  let ra: Awaited<ReturnType<typeof randomAccess>> | null = null;
  try {
    let body: AsyncIterable<Buffer> | Iterable<Buffer>;
    if (spec.perm) {
      ra = await randomAccess(src, () => tempPathBeside(out.target, "transpose"));
      body = permuted(ra, spec.storedShape, spec.perm, h.itemsize);
    } else {
      body = arrayData(src);
    }
    const rec = await out.addStream(outName, withHeader(header, convert(body, convs)), {
      ...(opts.deflateLevel !== undefined ? { deflateLevel: opts.deflateLevel } : {}),
      align: opts.align,
      npyHeaderLen: header.length,
    });
    const outItem = spec.outDescr === "<f4" ? 4 : spec.outDescr === "<c8" ? 8 : h.itemsize;
    const want = header.length + h.count * outItem;
    if (rec.uncompressedSize !== want)
      throw new NpzError("ERR_NPZ_SIZE_MISMATCH", `wrote ${rec.uncompressedSize} bytes for '${outName}', expected ${want}`, {
        path: input.path,
        member: info.key,
      });
    return rec;
  } finally {
    ra?.close();
  }
}

function ucs4(items: readonly string[], width: number): Buffer {
  const b = Buffer.alloc(items.length * width * 4);
  items.forEach((s, i) => {
    let j = 0;
    for (const ch of s) b.writeUInt32LE(ch.codePointAt(0)!, (i * width + j++) * 4);
  });
  return b;
}

/** A string array as numpy unicode (`<U{max length}`, C order), like np.array(list_of_str). */
export function unicodeNpy(items: readonly string[], shape: readonly number[], fortranOrder: boolean): { header: Buffer; data: Buffer } {
  let ordered = [...items];
  if (fortranOrder && shape.length > 1) {
    // items are in column-major order: reorder to row-major.
    const n = shape.length;
    const fStrides = shape.map((_, i) => shape.slice(0, i).reduce((a, b) => a * b, 1));
    ordered = new Array<string>(items.length);
    const idx = new Array<number>(n).fill(0);
    for (let c = 0; c < items.length; c++) {
      ordered[c] = items[idx.reduce((a, v, i) => a + v * fStrides[i]!, 0)]!;
      for (let ax = n - 1; ax >= 0; ax--) {
        idx[ax]!++;
        if (idx[ax]! < shape[ax]!) break;
        idx[ax] = 0;
      }
    }
  }
  const width = Math.max(1, ...ordered.map((s) => Array.from(s).length));
  return { header: npyHeader(`<U${width}`, shape, false), data: ucs4(ordered, width) };
}

export async function writeBuffers(
  out: ZipOut,
  outName: string,
  parts: { header: Buffer; data: Uint8Array },
  opts: { deflateLevel?: number; align: number },
): Promise<MemberRecord> {
  return out.addStream(outName, [parts.header, parts.data], {
    ...(opts.deflateLevel !== undefined ? { deflateLevel: opts.deflateLevel } : {}),
    align: opts.align,
    npyHeaderLen: parts.header.length,
  });
}
