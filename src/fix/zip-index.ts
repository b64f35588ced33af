// Read-only ZIP index for the rewriting commands (fix, repack): where each member's raw bytes
// live (local header offset, data offset, compressed size), which the reader API does not
// expose. Only archives that openNpz() has already accepted are indexed here (the caller opens
// them first), so this parser checks every offset against the file size but does not repeat
// the reader's deeper validation (overlaps, names, NPY headers). Errors are NpzError
// ERR_NPZ_CORRUPT. Synchronous pread on a descriptor the caller owns.
import { fstatSync, readSync } from "node:fs";
import { NpzError } from "../errors.js";

export interface ZipEntry {
  name: string;
  method: number; // 0 STORED, 8 DEFLATE
  flags: number;
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
  localOffset: number;
  /** First byte of the (possibly compressed) member data. */
  dataOffset: number;
}

function readAt(fd: number, pos: number, len: number, size: number, path: string): Buffer {
  if (pos < 0 || len < 0 || pos + len > size) {
    throw new NpzError("ERR_NPZ_CORRUPT", `ZIP structure at offset ${pos} (+${len}) lies outside the file (${size} bytes)`, { path });
  }
  const b = Buffer.alloc(len);
  let done = 0;
  while (done < len) {
    const n = readSync(fd, b, done, len - done, pos + done);
    if (n === 0) throw new NpzError("ERR_NPZ_CORRUPT", `short read at offset ${pos + done}`, { path });
    done += n;
  }
  return b;
}

function u64(b: Buffer, o: number, path: string): number {
  const v = b.readBigUInt64LE(o);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new NpzError("ERR_NPZ_CORRUPT", `zip64 value ${v} is too large`, { path });
  return Number(v);
}

/** Central directory of an archive, with each member's data offset from its local header. */
export function readZipIndex(fd: number, path: string): ZipEntry[] {
  const size = fstatSync(fd).size;
  const tailLen = Math.min(size, 22 + 0xffff);
  const tail = readAt(fd, size - tailLen, tailLen, size, path);
  let eocd = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tail.readUInt32LE(i) === 0x06054b50 && i + 22 + tail.readUInt16LE(i + 20) === tail.length) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new NpzError("ERR_NPZ_CORRUPT", "no end of central directory record", { path });
  const eocdPos = size - tailLen + eocd;
  let count = tail.readUInt16LE(eocd + 10);
  let cdSize = tail.readUInt32LE(eocd + 12);
  let cdOffset = tail.readUInt32LE(eocd + 16);
  if (eocdPos >= 20) {
    const loc = readAt(fd, eocdPos - 20, 20, size, path);
    if (loc.readUInt32LE(0) === 0x07064b50) {
      const recPos = u64(loc, 8, path);
      const rec = readAt(fd, recPos, 56, size, path);
      if (rec.readUInt32LE(0) !== 0x06064b50) throw new NpzError("ERR_NPZ_CORRUPT", "bad zip64 end record", { path });
      count = u64(rec, 32, path);
      cdSize = u64(rec, 40, path);
      cdOffset = u64(rec, 48, path);
    }
  }
  const cd = readAt(fd, cdOffset, cdSize, size, path);
  const out: ZipEntry[] = [];
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cd.length || cd.readUInt32LE(p) !== 0x02014b50) throw new NpzError("ERR_NPZ_CORRUPT", `central directory record ${i} is malformed`, { path });
    const flags = cd.readUInt16LE(p + 8);
    const method = cd.readUInt16LE(p + 10);
    const crc32 = cd.readUInt32LE(p + 16);
    let compressedSize = cd.readUInt32LE(p + 20);
    let uncompressedSize = cd.readUInt32LE(p + 24);
    const nameLen = cd.readUInt16LE(p + 28);
    const extraLen = cd.readUInt16LE(p + 30);
    const commentLen = cd.readUInt16LE(p + 32);
    let localOffset = cd.readUInt32LE(p + 42);
    const end = p + 46 + nameLen + extraLen + commentLen;
    if (end > cd.length) throw new NpzError("ERR_NPZ_CORRUPT", `central directory record ${i} is truncated`, { path });
    const name = cd.toString(flags & 0x800 ? "utf8" : "latin1", p + 46, p + 46 + nameLen);
    let e = p + 46 + nameLen;
    const extraEnd = e + extraLen;
    while (e + 4 <= extraEnd) {
      const id = cd.readUInt16LE(e);
      const len = cd.readUInt16LE(e + 2);
      if (e + 4 + len > extraEnd) throw new NpzError("ERR_NPZ_CORRUPT", `extra field of '${name}' is malformed`, { path, member: name });
      if (id === 0x0001) {
        let q = e + 4;
        const take = () => {
          if (q + 8 > e + 4 + len) throw new NpzError("ERR_NPZ_CORRUPT", `zip64 extra of '${name}' is short`, { path, member: name });
          const v = u64(cd, q, path);
          q += 8;
          return v;
        };
        if (uncompressedSize === 0xffffffff) uncompressedSize = take();
        if (compressedSize === 0xffffffff) compressedSize = take();
        if (localOffset === 0xffffffff) localOffset = take();
      }
      e += 4 + len;
    }
    const lh = readAt(fd, localOffset, 30, size, path);
    if (lh.readUInt32LE(0) !== 0x04034b50) throw new NpzError("ERR_NPZ_CORRUPT", `no local header for '${name}' at ${localOffset}`, { path, member: name });
    const dataOffset = localOffset + 30 + lh.readUInt16LE(26) + lh.readUInt16LE(28);
    if (dataOffset + compressedSize > size) throw new NpzError("ERR_NPZ_CORRUPT", `data of '${name}' runs past the end of the file`, { path, member: name });
    out.push({ name, method, flags, crc32, compressedSize, uncompressedSize, localOffset, dataOffset });
    p = end;
  }
  return out;
}

/** Reads `len` bytes at `pos` (bounds-checked against `size`). */
export function preadExact(fd: number, pos: number, len: number, size: number, path: string): Buffer {
  return readAt(fd, pos, len, size, path);
}
