// repackFile(): rewrite an archive so every STORED member's array data starts at a multiple of
// `align` (zipalign-style padding in the local header's extra field), so that
// `array(key, { copy: false })` can map every numeric member. Members are copied without
// re-encoding (compressed bytes and CRC unchanged) unless `compression` asks for STORED or
// DEFLATE at a level; re-encoded members are checked against their original CRC-32. OUT is
// written beside itself, verified (every CRC, every STORED array offset) and renamed.
import { closeSync, constants, openSync } from "node:fs";
import { NpzError } from "../errors.js";
import { openNpz } from "../npz.js";
import { uncompressed, type MemberSource } from "./member-io.js";
import { checkOutput, FixUsageError } from "./output.js";
import { checkAlign } from "./fix.js";
import { readZipIndex } from "./zip-index.js";
import { ZipOut } from "./zip-out.js";
import { copyRawMember, sourceOf, type InputArchive } from "./write.js";

export interface RepackOptions {
  /** Alignment of STORED array data (power of two, default 64). */
  align?: number;
  /** "keep" (default): each member keeps its method; "stored": inflate everything; "deflate": re-deflate everything at `level`. */
  compression?: "keep" | "stored" | "deflate";
  /** zlib level 0..9 for compression "deflate" (default 6). */
  level?: number;
  /** Replace an existing OUT. */
  force?: boolean;
  /** Aborts the writing: ERR_NPZ_ABORTED, the temporary file is removed. */
  signal?: AbortSignal;
}

export interface RepackMember {
  key: string;
  name: string;
  compression: "stored" | "deflated";
  /** "copied" (raw bytes, no re-encoding), "inflated" or "deflated". */
  action: "copied" | "inflated" | "deflated";
  /** File offset of the array data (STORED NPY members), else null. */
  arrayOffset: number | null;
  aligned: boolean | null;
}

export interface RepackResult {
  input: string;
  output: string;
  align: number;
  members: RepackMember[];
  /** Every member's CRC-32 verified in OUT before the rename. */
  verified: boolean;
  bytesIn: number;
  bytesOut: number;
}

const KEYS = new Set(["align", "compression", "level", "force", "signal"]);

/** Length of the NPY prefix (magic .. header "\n") at the start of the uncompressed member. */
async function npyPrefixLen(src: MemberSource): Promise<number> {
  if (src.entry.uncompressedSize < 12) return src.headerLen;
  const parts: Buffer[] = [];
  for await (const c of uncompressed(src, 0, 12)) parts.push(c);
  const pre = Buffer.concat(parts);
  if (pre[0] !== 0x93 || pre.toString("latin1", 1, 6) !== "NUMPY") return src.headerLen;
  return pre[6] === 1 ? 10 + pre.readUInt16LE(8) : 12 + pre.readUInt32LE(8);
}

export async function repackFile(input: string, output: string, options?: RepackOptions): Promise<RepackResult> {
  if (typeof input !== "string" || input === "") throw new TypeError(`Expected a non-empty string for input, got ${JSON.stringify(input)}`);
  if (typeof output !== "string" || output === "") throw new TypeError(`Expected a non-empty string for output, got ${JSON.stringify(output)}`);
  const o = options ?? {};
  if (typeof o !== "object" || o === null) throw new TypeError(`Expected an object for options, got ${JSON.stringify(o)}`);
  for (const k of Object.keys(o)) if (!KEYS.has(k)) throw new TypeError(`Expected one of ${[...KEYS].join(", ")} for options keys, got ${JSON.stringify(k)}`);
  const align = checkAlign(o.align);
  const mode = o.compression ?? "keep";
  if (!["keep", "stored", "deflate"].includes(mode))
    throw new RangeError(`Expected 'keep', 'stored' or 'deflate' for options.compression, got '${String(mode)}'`);
  const level = o.level ?? 6;
  if (!Number.isInteger(level) || level < 0 || level > 9) throw new RangeError(`Expected an integer 0..9 for options.level, got ${String(o.level)}`);
  checkOutput(input, output, o.force ?? false);

  const file = openNpz(input);
  let fd = -1;
  let zout: ZipOut | null = null;
  try {
    if (file.kind !== "npz") throw new FixUsageError("ERR_FIX_NOT_NPZ", `${input} is a .npy file; repack rewrites .npz archives`);
    const members = file.members();
    fd = openSync(input, constants.O_RDONLY | constants.O_NONBLOCK);
    const entries = new Map(readZipIndex(fd, input).map((e) => [e.name, e]));
    if (entries.size !== members.length)
      throw new NpzError("ERR_NPZ_DUPLICATE_MEMBER", `central directory lists ${entries.size} distinct names for ${members.length} members`, { path: input });
    const arch: InputArchive = { fd, path: input, entries };
    zout = new ZipOut(output, o.signal);
    const actions: RepackMember["action"][] = [];
    for (const m of members) {
      const src = sourceOf(arch, m);
      const isStored = src.entry.method === 0;
      const reencode = (mode === "stored" && !isStored) || mode === "deflate";
      if (!reencode) {
        copyRawMember(zout, arch, m, m.name, align);
        actions.push("copied");
        continue;
      }
      const rec = await zout.addStream(m.name, uncompressed(src, 0, src.entry.uncompressedSize), {
        ...(mode === "deflate" ? { deflateLevel: level } : {}),
        align,
        npyHeaderLen: m.npyMagic ? await npyPrefixLen(src) : 0,
      });
      if (rec.crc32 !== src.entry.crc32 >>> 0 || rec.uncompressedSize !== src.entry.uncompressedSize) {
        throw new NpzError("ERR_NPZ_CRC_MISMATCH", `Bad CRC-32 for member '${m.name}' (central directory 0x${src.entry.crc32.toString(16).padStart(8, "0")})`, {
          path: input,
          member: m.key,
        });
      }
      actions.push(mode === "deflate" ? "deflated" : "inflated");
    }
    zout.finish();

    // Verify OUT as the reader sees it: every CRC, every STORED array offset.
    const check = openNpz(zout.tempPath);
    const result: RepackMember[] = [];
    let bytesOut = 0;
    try {
      bytesOut = check.fileSize;
      const outMembers = check.members();
      for (let i = 0; i < outMembers.length; i++) {
        const m = outMembers[i]!;
        const r = await check.scan(m.key, { crc: true, stats: false, ...(o.signal ? { signal: o.signal } : {}) });
        if (!r.crcChecked || !r.crcOk)
          throw new NpzError("ERR_NPZ_CRC_MISMATCH", `Bad CRC-32 for member '${m.name}' in the repacked archive`, { path: output, member: m.key });
        const off = m.header && !m.error ? m.header.arrayOffset : null;
        const aligned = off === null ? null : off % align === 0;
        if (aligned === false)
          throw new NpzError("ERR_NPY_MISALIGNED", `array data of '${m.key}' at ${off} is not a multiple of ${align}`, { path: output, member: m.key });
        result.push({ key: m.key, name: m.name, compression: m.compression, action: actions[i]!, arrayOffset: off, aligned });
      }
    } finally {
      check.close();
    }
    zout.commit(output);
    return { input, output, align, members: result, verified: true, bytesIn: file.fileSize, bytesOut };
  } catch (err) {
    zout?.abort();
    throw err;
  } finally {
    if (fd >= 0) closeSync(fd);
    file.close();
  }
}
