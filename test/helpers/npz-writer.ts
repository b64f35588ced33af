// A small NPY/NPZ writer for edge cases built on the fly in tests: arbitrary NPY headers and
// versions, STORED or DEFLATED members, numpy-style zip64 local extras, zip64 central extras,
// data descriptors (with or without signature), zip64 end records, and a 0xD935 padding extra to
// put array data at a chosen alignment. Every field can be overridden to break one rule.
import { crc32, deflateRawSync } from "node:zlib";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

export interface NpyOptions {
  descr?: string;
  fortranOrder?: boolean;
  shape?: number[];
  /** Replaces the whole dict text (written verbatim, then padded unless pad is false). */
  headerText?: string;
  version?: [number, number];
  /** numpy-style padding with spaces + "\n" to a multiple of `align` (default 64). */
  pad?: boolean;
  align?: number;
  /** Overrides the HEADER_LEN field. */
  headerLen?: number;
  magic?: Uint8Array;
}

const enc = new TextEncoder();

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Bytes of a TypedArray (or Uint8Array) as a fresh Uint8Array. */
export function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength).slice();
}

export function npyHeaderText(o: NpyOptions): string {
  if (o.headerText !== undefined) return o.headerText;
  const shape = o.shape ?? [];
  const tuple = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  return `{'descr': '${o.descr ?? "<f8"}', 'fortran_order': ${o.fortranOrder ? "True" : "False"}, 'shape': ${tuple}, }`;
}

/** An .npy file: magic, version, HEADER_LEN, header text, data. */
export function npy(data: Uint8Array | ArrayBufferView, o: NpyOptions = {}): Uint8Array {
  const version = o.version ?? [1, 0];
  const prefix = version[0] === 1 ? 10 : 12;
  let text: Uint8Array = enc.encode(npyHeaderText(o));
  if (o.pad !== false) {
    const align = o.align ?? 64;
    const total = prefix + text.length + 1;
    const spaces = (align - (total % align)) % align;
    text = concat([text, enc.encode(" ".repeat(spaces) + "\n")]);
  }
  const head = new Uint8Array(prefix);
  head.set(o.magic ?? Uint8Array.of(0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59), 0);
  head[6] = version[0];
  head[7] = version[1];
  const dv = new DataView(head.buffer);
  const len = o.headerLen ?? text.length;
  if (prefix === 10) dv.setUint16(8, len, true);
  else dv.setUint32(8, len, true);
  const body = data instanceof Uint8Array ? data : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return concat([head, text, body]);
}

export interface ZipMember {
  name: string | Uint8Array;
  /** Uncompressed member bytes (usually an .npy). */
  data: Uint8Array;
  method?: number; // 0 stored (default), 8 deflated; other values are written with `payload` or data as-is
  flags?: number;
  /** Compressed bytes override. */
  payload?: Uint8Array;
  crc?: number;
  csize?: number;
  usize?: number;
  /** numpy style (default true): LFH sizes 0xFFFFFFFF + 20-byte zip64 extra with the real sizes. */
  numpyLocal?: boolean;
  /** Write 0xFFFFFFFF in the CD slots and carry sizes (and offset) in a zip64 CD extra. */
  zip64Central?: boolean;
  /** Bit 3: LFH CRC/sizes zero, a descriptor follows the data. */
  dataDescriptor?: boolean;
  /** Write the optional PK\x07\x08 signature in the descriptor (default true). */
  descriptorSignature?: boolean;
  /** 64-bit sizes in the descriptor (default: same as numpyLocal). */
  descriptor64?: boolean;
  /** Pad the LFH extra so the data starting `alignDataAt` bytes into the member lands on a multiple of `alignTo`. */
  alignTo?: number;
  alignDataAt?: number;
  lfhName?: string;
  lfhMethod?: number;
}

export interface ZipOptions {
  /** Add a zip64 end record + locator even though nothing needs it. */
  zip64End?: boolean;
  comment?: Uint8Array;
}

export interface ZipLayout {
  lfhOffsets: number[];
  dataOffsets: number[];
  cdOffset: number;
  cdSize: number;
  eocdOffset: number;
}

function nameBytes(n: string | Uint8Array): Uint8Array {
  return typeof n === "string" ? enc.encode(n) : n;
}

export function zip(members: ZipMember[], opts: ZipOptions = {}): { bytes: Uint8Array; layout: ZipLayout } {
  const parts: Uint8Array[] = [];
  let pos = 0;
  const push = (b: Uint8Array): void => {
    parts.push(b);
    pos += b.length;
  };
  const layout: ZipLayout = { lfhOffsets: [], dataOffsets: [], cdOffset: 0, cdSize: 0, eocdOffset: 0 };
  const facts: { crc: number; csize: number; usize: number; flags: number; method: number; name: Uint8Array }[] = [];

  for (const m of members) {
    const method = m.method ?? 0;
    const payload = m.payload ?? (method === 8 ? new Uint8Array(deflateRawSync(m.data, { level: 6 })) : m.data);
    const crc = m.crc ?? crc32(m.data) >>> 0;
    const csize = m.csize ?? payload.length;
    const usize = m.usize ?? m.data.length;
    const dd = m.dataDescriptor ?? false;
    const flags = (m.flags ?? 0) | (dd ? 8 : 0);
    const name = nameBytes(m.name);
    const lname = m.lfhName !== undefined ? nameBytes(m.lfhName) : name;
    const numpyLocal = m.numpyLocal ?? true;
    let extra: Uint8Array = new Uint8Array(0);
    if (numpyLocal) {
      extra = new Uint8Array(20);
      const ev = new DataView(extra.buffer);
      ev.setUint16(0, 1, true);
      ev.setUint16(2, 16, true);
      ev.setBigUint64(4, BigInt(dd ? 0 : usize), true);
      ev.setBigUint64(12, BigInt(dd ? 0 : csize), true);
    }
    if (m.alignTo) {
      const at = m.alignDataAt ?? 0;
      const base = pos + 30 + lname.length + extra.length + 4; // with an empty padding block
      const padLen = (m.alignTo - ((base + at) % m.alignTo)) % m.alignTo;
      const pad = new Uint8Array(4 + padLen);
      const pv = new DataView(pad.buffer);
      pv.setUint16(0, 0xd935, true);
      pv.setUint16(2, padLen, true);
      extra = concat([extra, pad]);
    }
    const lfh = new Uint8Array(30);
    const v = new DataView(lfh.buffer);
    v.setUint32(0, 0x04034b50, true);
    v.setUint16(4, 45, true);
    v.setUint16(6, flags, true);
    v.setUint16(8, m.lfhMethod ?? method, true);
    v.setUint16(10, 0, true);
    v.setUint16(12, 0x21, true);
    v.setUint32(14, dd ? 0 : crc, true);
    v.setUint32(18, numpyLocal ? 0xffffffff : dd ? 0 : csize, true);
    v.setUint32(22, numpyLocal ? 0xffffffff : dd ? 0 : usize, true);
    v.setUint16(26, lname.length, true);
    v.setUint16(28, extra.length, true);
    layout.lfhOffsets.push(pos);
    push(lfh);
    push(lname);
    push(extra);
    layout.dataOffsets.push(pos);
    push(payload);
    if (dd) {
      const sig = m.descriptorSignature ?? true;
      const wide = m.descriptor64 ?? numpyLocal;
      const d = new Uint8Array((sig ? 4 : 0) + 4 + (wide ? 16 : 8));
      const dv = new DataView(d.buffer);
      let o = 0;
      if (sig) {
        dv.setUint32(0, 0x08074b50, true);
        o = 4;
      }
      dv.setUint32(o, crc, true);
      if (wide) {
        dv.setBigUint64(o + 4, BigInt(csize), true);
        dv.setBigUint64(o + 12, BigInt(usize), true);
      } else {
        dv.setUint32(o + 4, csize, true);
        dv.setUint32(o + 8, usize, true);
      }
      push(d);
    }
    facts.push({ crc, csize, usize, flags, method, name });
  }

  layout.cdOffset = pos;
  members.forEach((m, i) => {
    const f = facts[i]!;
    const z64 = m.zip64Central ?? false;
    let extra: Uint8Array = new Uint8Array(0);
    if (z64) {
      extra = new Uint8Array(28);
      const ev = new DataView(extra.buffer);
      ev.setUint16(0, 1, true);
      ev.setUint16(2, 24, true);
      ev.setBigUint64(4, BigInt(f.usize), true);
      ev.setBigUint64(12, BigInt(f.csize), true);
      ev.setBigUint64(20, BigInt(layout.lfhOffsets[i]!), true);
    }
    const cd = new Uint8Array(46);
    const v = new DataView(cd.buffer);
    v.setUint32(0, 0x02014b50, true);
    v.setUint16(4, 45, true);
    v.setUint16(6, 45, true);
    v.setUint16(8, f.flags, true);
    v.setUint16(10, f.method, true);
    v.setUint16(12, 0, true);
    v.setUint16(14, 0x21, true);
    v.setUint32(16, f.crc, true);
    v.setUint32(20, z64 ? 0xffffffff : f.csize, true);
    v.setUint32(24, z64 ? 0xffffffff : f.usize, true);
    v.setUint16(28, f.name.length, true);
    v.setUint16(30, extra.length, true);
    v.setUint32(42, z64 ? 0xffffffff : layout.lfhOffsets[i]!, true);
    push(cd);
    push(f.name);
    push(extra);
  });
  layout.cdSize = pos - layout.cdOffset;
  const n = members.length;
  if (opts.zip64End) {
    const rec = new Uint8Array(56 + 20);
    const v = new DataView(rec.buffer);
    const at = pos;
    v.setUint32(0, 0x06064b50, true);
    v.setBigUint64(4, 44n, true);
    v.setUint16(12, 45, true);
    v.setUint16(14, 45, true);
    v.setBigUint64(24, BigInt(n), true);
    v.setBigUint64(32, BigInt(n), true);
    v.setBigUint64(40, BigInt(layout.cdSize), true);
    v.setBigUint64(48, BigInt(layout.cdOffset), true);
    v.setUint32(56, 0x07064b50, true);
    v.setBigUint64(64, BigInt(at), true);
    v.setUint32(72, 1, true);
    push(rec);
  }
  const comment = opts.comment ?? new Uint8Array(0);
  const eocd = new Uint8Array(22);
  const v = new DataView(eocd.buffer);
  v.setUint32(0, 0x06054b50, true);
  v.setUint16(8, n, true);
  v.setUint16(10, n, true);
  v.setUint32(12, layout.cdSize, true);
  v.setUint32(16, layout.cdOffset, true);
  v.setUint16(20, comment.length, true);
  layout.eocdOffset = pos;
  push(eocd);
  push(comment);
  return { bytes: concat(parts), layout };
}

/** A temp directory removed by the returned cleanup function. */
export function tempDir(prefix = "npzguard-test-"): { dir: string; write(name: string, bytes: Uint8Array): string; cleanup(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return {
    dir,
    write(name: string, bytes: Uint8Array): string {
      const p = path.join(dir, name);
      writeFileSync(p, bytes);
      return p;
    },
    cleanup(): void {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
