// Streaming ZIP writer for fix/repack. Writes to a temporary file created beside the target
// (O_CREAT|O_EXCL|O_NOFOLLOW, so a planted file or symlink is never followed or reused) and
// renames it over the target on commit(); abort() removes it. One member at a time, in
// bounded memory: a member's bytes arrive as chunks (or are copied raw from another archive,
// compressed bytes and CRC unchanged), its local header is patched with the CRC and sizes
// afterwards. Layout follows np.savez (npy-npz-format.md §5.2): zip64 extra in every local
// header, 32-bit central records with zip64 fields only past 2^31-1, fixed 1980 timestamps.
//
// Alignment (`align` > 1, STORED members): like zipalign, the local header's extra field gets
// an alignment record (id 0xD935: u16 alignment, then zero padding) sized so that the array
// data (member data + NPY header length) starts at a multiple of `align`. The central record
// carries the same record without the padding, so both extra fields stay well-formed lists of
// (id, length) records, which is all zipfile and the native reader require.
import { closeSync, constants, fchmodSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { crc32, createDeflateRaw } from "node:zlib";
import { NpzError } from "../errors.js";
import { zipEndRecords } from "../writer/npz.js";

const ZIP64_LIMIT = 0x7fffffff;
const ALIGN_EXTRA_ID = 0xd935;

export interface MemberRecord {
  name: string;
  method: 0 | 8;
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
  localOffset: number;
  /** Offset of the member data in the new file. */
  dataOffset: number;
  /** Alignment recorded for this member (1 when not aligned). */
  align: number;
}

interface Central extends MemberRecord {
  nameBytes: Buffer;
  flags: number;
}

/** Creates a file that did not exist, never following a symlink; mode 0o666 & ~umask. */
export function createExclusive(file: string): number {
  return openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0), 0o666);
}

/** A fresh temporary path in the directory of `target`. */
export function tempPathBeside(target: string, tag: string): string {
  const dir = path.dirname(path.resolve(target));
  return path.join(dir, `.${path.basename(target)}.${tag}-${process.pid}-${randomBytes(6).toString("hex")}.tmp`);
}

export class ZipOut {
  readonly target: string;
  readonly tempPath: string;
  #fd: number | null;
  #pos = 0;
  readonly #records: Central[] = [];

  readonly #signal: AbortSignal | undefined;

  /** `signal`: every write checks it; an abort throws ERR_NPZ_ABORTED (the caller then abort()s). */
  constructor(target: string, signal?: AbortSignal) {
    this.target = target;
    this.#signal = signal;
    this.tempPath = tempPathBeside(target, "npzguard");
    this.#fd = createExclusive(this.tempPath);
  }

  get members(): readonly MemberRecord[] {
    return this.#records;
  }

  #fdOrThrow(): number {
    if (this.#fd === null) throw new Error(`ZipOut for ${this.target} is closed`);
    return this.#fd;
  }

  #write(buf: Uint8Array): void {
    if (this.#signal?.aborted) throw new NpzError("ERR_NPZ_ABORTED", `writing ${this.target} was aborted`, { path: this.target });
    const fd = this.#fdOrThrow();
    let done = 0;
    while (done < buf.length) done += writeSync(fd, buf, done, buf.length - done, this.#pos + done);
    this.#pos += buf.length;
  }

  #writeAt(buf: Buffer, pos: number): void {
    const fd = this.#fdOrThrow();
    let done = 0;
    while (done < buf.length) done += writeSync(fd, buf, done, buf.length - done, pos + done);
  }

  /** Writes a local header; returns its offset. Sizes/CRC are patched later for streams. */
  #localHeader(name: Buffer, flags: number, method: number, align: number, npyHeaderLen: number): { offset: number; dataOffset: number } {
    const offset = this.#pos;
    let alignLen = 0;
    if (align > 1) {
      const base = offset + 30 + name.length + 20 + 6 + npyHeaderLen;
      alignLen = 6 + ((align - (base % align)) % align);
    }
    const extraLen = 20 + alignLen;
    const h = Buffer.alloc(30 + name.length + extraLen);
    h.writeUInt32LE(0x04034b50, 0);
    h.writeUInt16LE(45, 4);
    h.writeUInt16LE(flags, 6);
    h.writeUInt16LE(method, 8);
    h.writeUInt16LE(0x0000, 10);
    h.writeUInt16LE(0x0021, 12);
    h.writeUInt32LE(0, 14);
    h.writeUInt32LE(0xffffffff, 18);
    h.writeUInt32LE(0xffffffff, 22);
    h.writeUInt16LE(name.length, 26);
    h.writeUInt16LE(extraLen, 28);
    name.copy(h, 30);
    const x = 30 + name.length;
    h.writeUInt16LE(0x0001, x);
    h.writeUInt16LE(16, x + 2);
    if (alignLen) {
      h.writeUInt16LE(ALIGN_EXTRA_ID, x + 20);
      h.writeUInt16LE(alignLen - 4, x + 22);
      h.writeUInt16LE(align, x + 24);
    }
    this.#write(h);
    return { offset, dataOffset: this.#pos };
  }

  #patch(offset: number, nameLen: number, crc: number, usize: number, csize: number): void {
    const c = Buffer.alloc(4);
    c.writeUInt32LE(crc >>> 0, 0);
    this.#writeAt(c, offset + 14);
    const s = Buffer.alloc(16);
    s.writeBigUInt64LE(BigInt(usize), 0);
    s.writeBigUInt64LE(BigInt(csize), 8);
    this.#writeAt(s, offset + 30 + nameLen + 4);
  }

  #begin(memberName: string): { name: Buffer; flags: number } {
    if (this.#records.some((r) => r.name === memberName)) throw new Error(`member '${memberName}' written twice`);
    const name = Buffer.from(memberName, "utf8");
    if (name.length > 0xffff) throw new RangeError(`member name too long: ${name.length} bytes`);
    return { name, flags: /^[\x00-\x7f]*$/.test(memberName) ? 0 : 0x800 };
  }

  /**
   * Copies a member's raw (possibly compressed) bytes from `read` without re-encoding: same
   * method, CRC and sizes. `read(pos, len)` returns bytes of the source member data. The CRC is
   * not recomputed: callers verify the finished archive before renaming it.
   */
  copyRaw(
    memberName: string,
    src: { method: 0 | 8; crc32: number; compressedSize: number; uncompressedSize: number },
    read: (pos: number, len: number) => Buffer,
    opts: { align?: number; npyHeaderLen?: number } = {},
  ): MemberRecord {
    const { name, flags } = this.#begin(memberName);
    const align = src.method === 0 ? (opts.align ?? 1) : 1;
    const { offset, dataOffset } = this.#localHeader(name, flags, src.method, align, opts.npyHeaderLen ?? 0);
    const CH = 4 << 20;
    for (let p = 0; p < src.compressedSize; p += CH) this.#write(read(p, Math.min(CH, src.compressedSize - p)));
    this.#patch(offset, name.length, src.crc32, src.uncompressedSize, src.compressedSize);
    const rec: Central = {
      name: memberName,
      nameBytes: name,
      flags,
      method: src.method,
      crc32: src.crc32 >>> 0,
      compressedSize: src.compressedSize,
      uncompressedSize: src.uncompressedSize,
      localOffset: offset,
      dataOffset,
      align,
    };
    this.#records.push(rec);
    return rec;
  }

  /** Writes a member from a stream of uncompressed chunks (CRC computed here; deflated when `level` is set). */
  async addStream(
    memberName: string,
    chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    opts: { deflateLevel?: number; align?: number; npyHeaderLen?: number } = {},
  ): Promise<MemberRecord> {
    const { name, flags } = this.#begin(memberName);
    const method: 0 | 8 = opts.deflateLevel === undefined ? 0 : 8;
    const align = method === 0 ? (opts.align ?? 1) : 1;
    const { offset, dataOffset } = this.#localHeader(name, flags, method, align, opts.npyHeaderLen ?? 0);
    let crc = 0;
    let usize = 0;
    const start = this.#pos;
    if (method === 0) {
      for await (const c of chunks) {
        crc = crc32(c, crc);
        usize += c.length;
        this.#write(c);
      }
    } else {
      const counted = async function* (): AsyncGenerator<Uint8Array> {
        for await (const c of chunks) {
          crc = crc32(c, crc);
          usize += c.length;
          yield c;
        }
      };
      await pipeline(
        Readable.from(counted(), { highWaterMark: 1 }),
        createDeflateRaw({ level: opts.deflateLevel ?? 6 }),
        async (src: AsyncIterable<Buffer>) => {
          for await (const c of src) this.#write(c);
        },
      );
    }
    const csize = this.#pos - start;
    this.#patch(offset, name.length, crc, usize, csize);
    const rec: Central = {
      name: memberName,
      nameBytes: name,
      flags,
      method,
      crc32: crc >>> 0,
      compressedSize: csize,
      uncompressedSize: usize,
      localOffset: offset,
      dataOffset,
      align,
    };
    this.#records.push(rec);
    return rec;
  }

  /** Sets the mode of the temporary file (e.g. the replaced file's mode for --in-place). */
  chmod(mode: number): void {
    fchmodSync(this.#fdOrThrow(), mode & 0o7777);
  }

  /** Writes the central directory, fsyncs and closes the temporary file (not yet renamed). */
  finish(): void {
    const cdOffset = this.#pos;
    for (const r of this.#records) this.#write(centralRecord(r));
    const cdSize = this.#pos - cdOffset;
    const count = this.#records.length;
    this.#write(zipEndRecords(count, cdOffset, cdSize));
    const fd = this.#fdOrThrow();
    fsyncSync(fd);
    this.#fd = null;
    closeSync(fd);
  }

  /** Renames the finished temporary file over `dest` (default: the target). */
  commit(dest: string = this.target): void {
    if (this.#fd !== null) this.finish();
    renameSync(this.tempPath, dest);
  }

  /** Closes and removes the temporary file. Idempotent. */
  abort(): void {
    if (this.#fd !== null) {
      try {
        closeSync(this.#fd);
      } catch {
        /* already closed */
      }
      this.#fd = null;
    }
    try {
      unlinkSync(this.tempPath);
    } catch {
      /* already gone (committed or removed) */
    }
  }
}

function centralRecord(r: Central): Buffer {
  const bigSizes = r.uncompressedSize > ZIP64_LIMIT || r.compressedSize > ZIP64_LIMIT;
  const bigOffset = r.localOffset > ZIP64_LIMIT;
  const vals: number[] = [];
  if (bigSizes) vals.push(r.uncompressedSize, r.compressedSize);
  if (bigOffset) vals.push(r.localOffset);
  const z64Len = vals.length ? 4 + 8 * vals.length : 0;
  const alignLen = r.align > 1 ? 6 : 0;
  const extraLen = z64Len + alignLen;
  const b = Buffer.alloc(46 + r.nameBytes.length + extraLen);
  b.writeUInt32LE(0x02014b50, 0);
  b.writeUInt8(45, 4);
  b.writeUInt8(3, 5);
  b.writeUInt16LE(45, 6);
  b.writeUInt16LE(r.flags, 8);
  b.writeUInt16LE(r.method, 10);
  b.writeUInt16LE(0x0000, 12);
  b.writeUInt16LE(0x0021, 14);
  b.writeUInt32LE(r.crc32 >>> 0, 16);
  b.writeUInt32LE(bigSizes ? 0xffffffff : r.compressedSize, 20);
  b.writeUInt32LE(bigSizes ? 0xffffffff : r.uncompressedSize, 24);
  b.writeUInt16LE(r.nameBytes.length, 28);
  b.writeUInt16LE(extraLen, 30);
  b.writeUInt32LE((0o600 << 16) >>> 0, 38);
  b.writeUInt32LE(bigOffset ? 0xffffffff : r.localOffset, 42);
  r.nameBytes.copy(b, 46);
  let o = 46 + r.nameBytes.length;
  if (z64Len) {
    b.writeUInt16LE(0x0001, o);
    b.writeUInt16LE(8 * vals.length, o + 2);
    o += 4;
    for (const v of vals) {
      b.writeBigUInt64LE(BigInt(v), o);
      o += 8;
    }
  }
  if (alignLen) {
    b.writeUInt16LE(ALIGN_EXTRA_ID, o);
    b.writeUInt16LE(2, o + 2);
    b.writeUInt16LE(r.align, o + 4);
  }
  return b;
}
