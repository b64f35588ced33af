// NPZ writer shaped like `np.savez` (STORED) / `np.savez_compressed` (raw DEFLATE, zlib level 6)
// as written by NumPy 2.4 through Python's zipfile with `force_zip64=True`
// (npy-npz-format.md §5.2): every local header carries sizes 0xFFFFFFFF and a 20-byte zip64
// extra with the real sizes; central-directory records carry real 32-bit values and no extra
// while values stay <= 2^31-1 (Python's ZIP64_LIMIT), zip64 fields beyond; a zip64 end record
// + locator when there are > 65,535 entries or the directory lies beyond the limit. Timestamps
// are the fixed 1980-01-01 00:00:00 NumPy writes, so output is byte-reproducible.
//
// Members are written to the file one at a time as they are added (only the member being added
// is in memory, plus one compressed copy of it when deflating); the central directory is
// written by close(). Not thread-safe; one writer per file. Errors are plain Node errors
// (ENOENT, EACCES, ...) from node:fs, TypeError/RangeError for bad arguments.
import { closeSync, openSync, writeSync } from "node:fs";
import { crc32, deflateRawSync } from "node:zlib";
import type { NpyParts } from "./npy.js";

const ZIP64_LIMIT = 0x7fffffff; // Python zipfile.ZIP64_LIMIT = (1 << 31) - 1
const ZIP_FILECOUNT_LIMIT = 0xffff;
const ZIP64_VERSION = 45;
const CREATE_SYSTEM_UNIX = 3;
const DOS_TIME = 0x0000; // 00:00:00
const DOS_DATE = 0x0021; // 1980-01-01
const EXTERNAL_ATTR = (0o600 << 16) >>> 0; // what zipfile.open(name, 'w') sets
const FLAG_UTF8 = 0x800;

export interface NpzWriterOptions {
  /** DEFLATE members like `np.savez_compressed` (default false: STORED like `np.savez`). */
  compressed?: boolean;
  /** zlib level for DEFLATE, default 6 (Python's Z_DEFAULT_COMPRESSION). */
  level?: number;
}

interface CentralRecord {
  name: Buffer;
  flags: number;
  method: number;
  crc: number;
  csize: number;
  usize: number;
  offset: number;
}

/** Summary of a member written, for callers that print what they wrote. */
export interface WrittenMember {
  name: string;
  method: "stored" | "deflated";
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
}

export class NpzWriter {
  readonly path: string;
  readonly #compressed: boolean;
  readonly #level: number;
  #fd: number | null;
  #pos = 0;
  readonly #records: CentralRecord[] = [];
  readonly #names = new Set<string>();

  private constructor(path: string, fd: number, opts: NpzWriterOptions) {
    this.path = path;
    this.#fd = fd;
    this.#compressed = opts.compressed ?? false;
    this.#level = opts.level ?? 6;
  }

  /** Creates (truncates) `path`. Unlike NumPy, no `.npz` suffix is appended. */
  static create(path: string, opts: NpzWriterOptions = {}): NpzWriter {
    if (typeof path !== "string" || path === "") throw new TypeError(`Expected a non-empty string for path, got ${JSON.stringify(path)}`);
    const level = opts.level ?? 6;
    if (!Number.isInteger(level) || level < 0 || level > 9) throw new RangeError(`Expected an integer 0..9 for level, got ${String(opts.level)}`);
    return new NpzWriter(path, openSync(path, "w"), opts);
  }

  get closed(): boolean {
    return this.#fd === null;
  }

  get memberCount(): number {
    return this.#records.length;
  }

  #write(buf: Uint8Array): void {
    const fd = this.#fd;
    if (fd === null) throw new Error(`NpzWriter for ${this.path} is closed`);
    let done = 0;
    while (done < buf.length) done += writeSync(fd, buf, done, buf.length - done, this.#pos + done);
    this.#pos += buf.length;
  }

  /** Adds member `<key>.npy` holding the given NPY parts (or a complete `.npy` image). */
  add(key: string, npy: NpyParts | Uint8Array): WrittenMember {
    return this.addRaw(`${key}.npy`, npy instanceof Uint8Array ? [npy] : [npy.header, npy.data]);
  }

  /** Adds a member with an arbitrary name and content chunks (for edge-case archives). */
  addRaw(memberName: string, chunks: readonly Uint8Array[]): WrittenMember {
    if (this.#fd === null) throw new Error(`NpzWriter for ${this.path} is closed`);
    if (typeof memberName !== "string" || memberName === "")
      throw new TypeError(`Expected a non-empty string for memberName, got ${JSON.stringify(memberName)}`);
    if (this.#names.has(memberName)) throw new Error(`member '${memberName}' already written to ${this.path}`);
    this.#names.add(memberName);
    const name = Buffer.from(memberName, "utf8");
    if (name.length > 0xffff) throw new RangeError(`Expected a member name under 65,536 bytes for memberName, got ${name.length}`);
    const flags = /^[\x00-\x7f]*$/.test(memberName) ? 0 : FLAG_UTF8;

    let crc = 0;
    let usize = 0;
    for (const c of chunks) {
      crc = crc32(c, crc);
      usize += c.length;
    }
    let payload: readonly Uint8Array[] = chunks;
    let csize = usize;
    const method = this.#compressed ? 8 : 0;
    if (this.#compressed) {
      const whole = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      const deflated = deflateRawSync(whole, { level: this.#level });
      payload = [deflated];
      csize = deflated.length;
    }

    const offset = this.#pos;
    const lfh = Buffer.alloc(30 + name.length + 20);
    lfh.writeUInt32LE(0x04034b50, 0);
    lfh.writeUInt16LE(ZIP64_VERSION, 4);
    lfh.writeUInt16LE(flags, 6);
    lfh.writeUInt16LE(method, 8);
    lfh.writeUInt16LE(DOS_TIME, 10);
    lfh.writeUInt16LE(DOS_DATE, 12);
    lfh.writeUInt32LE(crc >>> 0, 14);
    lfh.writeUInt32LE(0xffffffff, 18);
    lfh.writeUInt32LE(0xffffffff, 22);
    lfh.writeUInt16LE(name.length, 26);
    lfh.writeUInt16LE(20, 28);
    name.copy(lfh, 30);
    const x = 30 + name.length;
    lfh.writeUInt16LE(0x0001, x);
    lfh.writeUInt16LE(16, x + 2);
    lfh.writeBigUInt64LE(BigInt(usize), x + 4);
    lfh.writeBigUInt64LE(BigInt(csize), x + 12);
    this.#write(lfh);
    for (const p of payload) this.#write(p);

    this.#records.push({ name, flags, method, crc: crc >>> 0, csize, usize, offset });
    return { name: memberName, method: method === 8 ? "deflated" : "stored", crc32: crc >>> 0, compressedSize: csize, uncompressedSize: usize };
  }

  /** Writes the central directory and end records and closes the file. Idempotent. */
  close(): void {
    if (this.#fd === null) return;
    try {
      const cdOffset = this.#pos;
      for (const r of this.#records) this.#write(centralRecord(r));
      const cdSize = this.#pos - cdOffset;
      const count = this.#records.length;
      this.#write(zipEndRecords(count, cdOffset, cdSize));
    } finally {
      const fd = this.#fd;
      this.#fd = null;
      if (fd !== null) closeSync(fd);
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * The end of a ZIP archive whose central directory (`count` records, `cdSize` bytes) starts at
 * `cdOffset`: a zip64 end record and locator when any value exceeds what Python's zipfile writes
 * without zip64, then the classic end-of-central-directory record (values capped as zipfile does).
 */
export function zipEndRecords(count: number, cdOffset: number, cdSize: number): Buffer {
  const parts: Buffer[] = [];
  if (count > ZIP_FILECOUNT_LIMIT || cdOffset > ZIP64_LIMIT || cdSize > ZIP64_LIMIT) {
    const rec = Buffer.alloc(56);
    rec.writeUInt32LE(0x06064b50, 0);
    rec.writeBigUInt64LE(44n, 4);
    rec.writeUInt16LE(ZIP64_VERSION, 12);
    rec.writeUInt16LE(ZIP64_VERSION, 14);
    rec.writeBigUInt64LE(BigInt(count), 24);
    rec.writeBigUInt64LE(BigInt(count), 32);
    rec.writeBigUInt64LE(BigInt(cdSize), 40);
    rec.writeBigUInt64LE(BigInt(cdOffset), 48);
    const loc = Buffer.alloc(20);
    loc.writeUInt32LE(0x07064b50, 0);
    loc.writeBigUInt64LE(BigInt(cdOffset + cdSize), 8); // the zip64 record follows the directory
    loc.writeUInt32LE(1, 16);
    parts.push(rec, loc);
  }
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(Math.min(count, 0xffff), 8);
  eocd.writeUInt16LE(Math.min(count, 0xffff), 10);
  eocd.writeUInt32LE(Math.min(cdSize, 0xffffffff), 12);
  eocd.writeUInt32LE(Math.min(cdOffset, 0xffffffff), 16);
  parts.push(eocd);
  return Buffer.concat(parts);
}

function centralRecord(r: CentralRecord): Buffer {
  // Python: both sizes go to the extra as soon as either exceeds the limit; the offset independently.
  const bigSizes = r.usize > ZIP64_LIMIT || r.csize > ZIP64_LIMIT;
  const bigOffset = r.offset > ZIP64_LIMIT;
  const extraVals: number[] = [];
  if (bigSizes) extraVals.push(r.usize, r.csize);
  if (bigOffset) extraVals.push(r.offset);
  const extraLen = extraVals.length ? 4 + 8 * extraVals.length : 0;
  const b = Buffer.alloc(46 + r.name.length + extraLen);
  b.writeUInt32LE(0x02014b50, 0);
  b.writeUInt8(ZIP64_VERSION, 4);
  b.writeUInt8(CREATE_SYSTEM_UNIX, 5);
  b.writeUInt16LE(ZIP64_VERSION, 6);
  b.writeUInt16LE(r.flags, 8);
  b.writeUInt16LE(r.method, 10);
  b.writeUInt16LE(DOS_TIME, 12);
  b.writeUInt16LE(DOS_DATE, 14);
  b.writeUInt32LE(r.crc, 16);
  b.writeUInt32LE(bigSizes ? 0xffffffff : r.csize, 20);
  b.writeUInt32LE(bigSizes ? 0xffffffff : r.usize, 24);
  b.writeUInt16LE(r.name.length, 28);
  b.writeUInt16LE(extraLen, 30);
  b.writeUInt16LE(0, 32); // comment length
  b.writeUInt16LE(0, 34); // disk number start
  b.writeUInt16LE(0, 36); // internal attributes
  b.writeUInt32LE(EXTERNAL_ATTR, 38);
  b.writeUInt32LE(bigOffset ? 0xffffffff : r.offset, 42);
  r.name.copy(b, 46);
  if (extraLen) {
    let o = 46 + r.name.length;
    b.writeUInt16LE(0x0001, o);
    b.writeUInt16LE(8 * extraVals.length, o + 2);
    o += 4;
    for (const v of extraVals) {
      b.writeBigUInt64LE(BigInt(v), o);
      o += 8;
    }
  }
  return b;
}

/** Writes a whole archive: `np.savez(path, **arrays)` (or `savez_compressed` with `compressed`). */
export function writeNpz(
  path: string,
  arrays: Iterable<[string, NpyParts | Uint8Array]> | Record<string, NpyParts | Uint8Array>,
  opts: NpzWriterOptions = {},
): WrittenMember[] {
  const entries = Symbol.iterator in arrays ? (arrays as Iterable<[string, NpyParts | Uint8Array]>) : Object.entries(arrays);
  const w = NpzWriter.create(path, opts);
  const written: WrittenMember[] = [];
  try {
    for (const [k, v] of entries) written.push(w.add(k, v));
  } finally {
    w.close();
  }
  return written;
}
