// The reader API: openNpz() / loadNpy() and the NpzFile handle over the native archive.
// Cheap things are synchronous (open, list, headers, whole-array reads that are views or one
// copy); value scans run on the libuv pool and are cancellable with an AbortSignal.
// Arguments are checked here, before native code runs (TypeError "Expected <what> for <name>,
// got <value>"); native errors become NpzError via fromNative(err, path, member).
// Over 400 lines: NpzFile is the public reader surface, one class whose every method checks its
// arguments before native code runs; dtype views live in dtype.ts, errors in errors.ts.
import { native, type RawArchive, type RawHeader, type RawMember, type RawOpenOptions } from "./native.js";
import { NpzError, fromNative, isErrorCode, type ErrorCode } from "./errors.js";
import { decodeBytes, decodeUnicode, describe, viewAs, type DataFor } from "./dtype.js";
import type {
  ArrayData,
  ArrayOptions,
  ArrayStats,
  Compression,
  DtypeKind,
  MemberInfo,
  NpyArray,
  NpyHeaderInfo,
  ObjectStrings,
  PickledValue,
  OpenOptions,
  RowProfile,
  ScanOptions,
  ScanResult,
} from "./types.js";

export { halfToFloat32 } from "./dtype.js";
export type { DataFor } from "./dtype.js";

const OPEN_OPTION_KEYS = new Set(["maxHeaderSize", "maxEntries", "maxInflateBytes", "threads"]);
/** Upper bound of the `threads` option (open, check, study verification). */
export const MAX_THREADS = 1024;
const ARRAY_OPTION_KEYS = new Set(["copy", "rows"]);
const SCAN_OPTION_KEYS = new Set(["crc", "stats", "signal"]);
const METADATA_KEY = "_metadata";

function checkPath(path: unknown): string {
  if (typeof path !== "string" || path.length === 0) {
    throw new TypeError(`Expected a non-empty string for path, got ${describe(path)}`);
  }
  return path;
}

function checkOptionsObject(opts: unknown, name: string, allowed: ReadonlySet<string>): Record<string, unknown> {
  if (opts === undefined) return {};
  if (opts === null || typeof opts !== "object" || Array.isArray(opts)) {
    throw new TypeError(`Expected an object for ${name}, got ${describe(opts)}`);
  }
  for (const k of Object.keys(opts)) {
    if (!allowed.has(k)) {
      throw new TypeError(`Expected one of ${[...allowed].join(", ")} for ${name} keys, got ${JSON.stringify(k)}`);
    }
  }
  return opts as Record<string, unknown>;
}

function checkInt(value: unknown, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw new TypeError(`Expected an integer for ${name}, got ${describe(value)}`);
  }
  if (value < min || value > max) {
    throw new RangeError(`Expected an integer between ${min} and ${max} for ${name}, got ${value}`);
  }
  return value;
}

function checkBool(value: unknown, name: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "boolean") throw new TypeError(`Expected a boolean for ${name}, got ${describe(value)}`);
  return value;
}

function checkKey(key: unknown): string {
  if (typeof key !== "string") throw new TypeError(`Expected a string for key, got ${describe(key)}`);
  return key;
}

function openOptions(opts: unknown): RawOpenOptions {
  const o = checkOptionsObject(opts, "options", OPEN_OPTION_KEYS);
  const raw: RawOpenOptions = {};
  const h = checkInt(o.maxHeaderSize, "options.maxHeaderSize", 1, 1 << 20);
  const e = checkInt(o.maxEntries, "options.maxEntries", 1, Number.MAX_SAFE_INTEGER);
  const b = checkInt(o.maxInflateBytes, "options.maxInflateBytes", 0, Number.MAX_SAFE_INTEGER);
  const t = checkInt(o.threads, "options.threads", 1, MAX_THREADS);
  if (h !== undefined) raw.maxHeaderSize = h;
  if (t !== undefined) raw.threads = t;
  if (e !== undefined) raw.maxEntries = e;
  if (b !== undefined) raw.maxInflateBytes = b;
  return raw;
}

function copyMode(opts: unknown): 0 | 1 | 2 {
  const o = checkOptionsObject(opts, "options", ARRAY_OPTION_KEYS);
  const copy = checkBool(o.copy, "options.copy");
  return copy === undefined ? 0 : copy ? 1 : 2;
}

function rowsOption(opts: unknown): [number, number] | undefined {
  const o = checkOptionsObject(opts, "options", ARRAY_OPTION_KEYS);
  const r = o.rows;
  if (r === undefined) return undefined;
  if (!Array.isArray(r) || r.length !== 2) {
    throw new TypeError(`Expected a [start, end] pair for options.rows, got ${describe(r)}`);
  }
  const start = checkInt(r[0], "options.rows[0]", 0, Number.MAX_SAFE_INTEGER)!;
  const end = checkInt(r[1], "options.rows[1]", 0, Number.MAX_SAFE_INTEGER)!;
  if (start === undefined || end === undefined) {
    throw new TypeError(`Expected a [start, end] pair of integers for options.rows, got ${describe(r)}`);
  }
  return [start, end];
}

function alignmentOf(offset: number | null): number | null {
  return offset === null ? null : offset % 64;
}

function headerInfo(m: RawMember, h: RawHeader): NpyHeaderInfo {
  const info: NpyHeaderInfo = {
    key: m.key,
    descr: h.descr,
    dtypeName: h.numpyName,
    kind: h.kind as DtypeKind,
    itemsize: h.itemsize,
    shape: [...h.shape],
    fortranOrder: h.fortranOrder,
    compression: m.compression as Compression,
    byteLength: h.byteLength,
    count: h.count,
    compressedSize: m.compressedSize,
    uncompressedSize: m.uncompressedSize,
    crc32: m.crc32,
    version: h.version,
    supported: h.supported,
    bigEndian: h.bigEndian,
    arrayOffset: m.arrayOffset,
    alignment: alignmentOf(m.arrayOffset),
    trailingBytes: m.trailingBytes,
  };
  if (!h.supported && h.unsupportedReason) info.unsupportedReason = h.unsupportedReason;
  return info;
}

function memberInfo(m: RawMember): MemberInfo {
  return {
    name: m.name,
    key: m.key,
    compression: m.compression,
    compressedSize: m.compressedSize,
    uncompressedSize: m.uncompressedSize,
    crc32: m.crc32,
    npyMagic: m.npyMagic,
    header: m.header ? headerInfo(m, m.header) : null,
    error: m.error ? { code: m.error.code, message: m.error.message } : null,
  };
}

function abortError(path: string, key: string): NpzError {
  return new NpzError("ERR_NPZ_ABORTED", `scan of '${key}' aborted`, { path, member: key });
}

let nextScanId = 1;

/** An open .npz (or .npy) file. Create with openNpz(). */
export class NpzFile implements Disposable {
  readonly path: string;
  #raw: RawArchive;
  #members: RawMember[];
  #byKey = new Map<string, number>();
  #closed = false;

  /** @internal Use openNpz(). */
  constructor(path: string, raw: RawArchive) {
    this.path = path;
    this.#raw = raw;
    try {
      this.#members = raw.members();
    } catch (err) {
      raw.close();
      throw fromNative(err, path);
    }
    this.#members.forEach((m, i) => {
      if (!this.#byKey.has(m.key)) this.#byKey.set(m.key, i);
    });
    this.#members.forEach((m, i) => {
      if (!this.#byKey.has(m.name)) this.#byKey.set(m.name, i);
    });
  }

  /** "npz" for ZIP archives, "npy" for a plain .npy file (one member keyed by the file stem). */
  get kind(): "npz" | "npy" {
    return this.#raw.kind;
  }

  /** File size in bytes, fixed at open. */
  get fileSize(): number {
    return this.#raw.fileSize;
  }

  /**
   * Threads one read of this handle may use: the `threads` option, or the CPUs this process may
   * use when it was not given (`buildInfo().threads.default`). Fixed at open.
   */
  get threads(): number {
    return this.#raw.threads;
  }

  get inode(): number {
    return this.#raw.inode;
  }

  get mtimeMs(): number {
    return this.#raw.mtimeMs;
  }

  get closed(): boolean {
    return this.#closed;
  }

  #ensureOpen(member?: string): void {
    if (this.#closed) throw new NpzError("ERR_NPZ_CLOSED", "archive is closed", { path: this.path, member });
  }

  #index(key: unknown): number {
    const k = checkKey(key);
    this.#ensureOpen(k);
    const i = this.#byKey.get(k);
    if (i === undefined) {
      const known = this.#members.map((m) => m.key);
      const shown = known.slice(0, 20).join(", ") + (known.length > 20 ? ", ..." : "");
      throw new NpzError("ERR_NPZ_MEMBER_NOT_FOUND", `no member '${k}' (members: ${shown || "none"})`, {
        path: this.path,
        member: k,
      });
    }
    return i;
  }

  /** Throws the member-level error recorded at open, if any. */
  #memberError(m: RawMember): void {
    if (m.error) {
      const code: ErrorCode = isErrorCode(m.error.code) ? m.error.code : "ERR_NPY_BAD_HEADER";
      throw new NpzError(code, m.error.message, { path: this.path, member: m.key });
    }
    if (!m.header) {
      throw new NpzError("ERR_NPY_BAD_MAGIC", `member '${m.name}' is not an NPY array`, { path: this.path, member: m.key });
    }
  }

  #member(key: unknown): { index: number; member: RawMember; header: RawHeader } {
    const index = this.#index(key);
    const member = this.#members[index]!;
    this.#memberError(member);
    return { index, member, header: member.header! };
  }

  /** Member keys (name minus ".npy"), in archive order, including members with errors. */
  keys(): string[] {
    this.#ensureOpen();
    return this.#members.map((m) => m.key);
  }

  /** Whether a member with this key (or full name) exists. */
  has(key: string): boolean {
    const k = checkKey(key);
    this.#ensureOpen(k);
    return this.#byKey.has(k);
  }

  /** Every member with its header or its member-level error. */
  members(): MemberInfo[] {
    this.#ensureOpen();
    return this.#members.map(memberInfo);
  }

  /** Parsed NPY header of a member; throws the member's error recorded at open. */
  header(key: string): NpyHeaderInfo {
    const { member, header } = this.#member(key);
    return headerInfo(member, header);
  }

  /**
   * Whole array in storage order (never transposed). copy undefined: a zero-copy view when the
   * member allows it, else one copy; true: always a copy; false: throw instead of copying.
   * U/S members are decoded to string[] (never zero-copy). rows: [start, end) reads only those
   * rows of the first axis (see ArrayOptions.rows).
   */
  array(key: string, options?: ArrayOptions): NpyArray {
    const mode = copyMode(options);
    const rows = rowsOption(options);
    const { index, member, header } = this.#member(key);
    const k = member.key;
    if (rows) return this.#rows(index, header, k, rows, mode);
    if (header.kind === "U" || header.kind === "S") {
      return {
        data: this.#readStringArray(index, header, mode === 1 ? 1 : 0, k),
        shape: [...header.shape],
        descr: header.descr,
        fortranOrder: header.fortranOrder,
        zeroCopy: false,
      };
    }
    if (!header.supported || header.isObject) {
      throw new NpzError(
        "ERR_NPY_UNSUPPORTED_DTYPE",
        `member '${k}' has dtype ${header.descr} (${header.unsupportedReason || header.numpyName}), which cannot be read as values` +
          (header.isObject ? "; use strings()" : ""),
        { path: this.path, member: k },
      );
    }
    let res: ReturnType<RawArchive["readArray"]>;
    try {
      res = this.#raw.readArray(index, mode);
    } catch (err) {
      throw fromNative(err, this.path, k);
    }
    const data = viewAs(header.kind, header.itemsize, res.buffer, header.count);
    if (!data) {
      throw new NpzError("ERR_NPY_UNSUPPORTED_DTYPE", `member '${k}' has dtype ${header.descr}, which has no typed-array view`, {
        path: this.path,
        member: k,
      });
    }
    return { data, shape: [...header.shape], descr: header.descr, fortranOrder: header.fortranOrder, zeroCopy: res.zeroCopy };
  }

  #rows(index: number, header: RawHeader, k: string, rows: [number, number], mode: 0 | 1 | 2): NpyArray {
    if (!header.supported || header.isObject) {
      throw new NpzError("ERR_NPY_UNSUPPORTED_DTYPE", `member '${k}' has dtype ${header.descr}, which cannot be read as rows`, {
        path: this.path,
        member: k,
      });
    }
    let res: ReturnType<RawArchive["readRows"]>;
    try {
      res = this.#raw.readRows(index, rows[0], rows[1], mode);
    } catch (err) {
      throw fromNative(err, this.path, k);
    }
    const shape = [rows[1] - rows[0], ...header.shape.slice(1)];
    const count = shape.reduce((a, b) => a * b, 1);
    // Rows of a Fortran-order array of rank >= 2 come back gathered into C order.
    const base = { shape, descr: header.descr, fortranOrder: header.fortranOrder && header.shape.length < 2 };
    if (header.kind === "U" || header.kind === "S") {
      const data = header.kind === "U" ? decodeUnicode(res.buffer, count, header.itemsize) : decodeBytes(res.buffer, count, header.itemsize);
      return { data, ...base, zeroCopy: false };
    }
    const data = viewAs(header.kind, header.itemsize, res.buffer, count);
    if (!data) {
      throw new NpzError("ERR_NPY_UNSUPPORTED_DTYPE", `member '${k}' has dtype ${header.descr}, which has no typed-array view`, {
        path: this.path,
        member: k,
      });
    }
    return { data, ...base, zeroCopy: res.zeroCopy };
  }

  /**
   * Per-row totals of a real numeric C-order (or 1-d) array in one streaming pass over the
   * member (bounded memory; 40 bytes per row in the result, at most maxRows rows, default 2^22).
   * No CRC check. Errors: ERR_NPY_UNSUPPORTED_DTYPE (complex, f2, strings, objects),
   * ERR_NPY_ROW_RANGE (0-d), ERR_NPY_FORTRAN_ORDER, ERR_NPZ_LIMIT (too many rows).
   */
  rowProfile(key: string, options?: { maxRows?: number }): RowProfile {
    const o = checkOptionsObject(options, "options", new Set(["maxRows"]));
    const maxRows = checkInt(o.maxRows, "options.maxRows", 0, Number.MAX_SAFE_INTEGER) ?? 1 << 22;
    const { index, member } = this.#member(key);
    try {
      return this.#raw.rowProfile(index, maxRows);
    } catch (err) {
      throw fromNative(err, this.path, member.key);
    }
  }

  /**
   * Several single rows at once (ascending, unique row numbers): `data` holds them one after the
   * other (shape [rows.length, ...shape.slice(1)], C order, also for a Fortran-order member);
   * always a copy. A DEFLATE member is inflated once, up to the last row listed (Fortran order:
   * up to that row of the last column). Same refusals as array(key, { rows }).
   */
  rowSet(key: string, rows: readonly number[]): NpyArray {
    if (!Array.isArray(rows)) throw new TypeError(`Expected an array of row numbers for rows, got ${describe(rows)}`);
    rows.forEach((r, i) => {
      checkInt(r, `rows[${i}]`, 0, Number.MAX_SAFE_INTEGER);
    });
    const { index, member, header } = this.#member(key);
    const k = member.key;
    if (!header.supported || header.isObject || header.kind === "U" || header.kind === "S") {
      throw new NpzError("ERR_NPY_UNSUPPORTED_DTYPE", `member '${k}' has dtype ${header.descr}, which cannot be read as rows`, { path: this.path, member: k });
    }
    let buffer: ArrayBuffer;
    try {
      buffer = this.#raw.readRowSet(index, [...rows]);
    } catch (err) {
      throw fromNative(err, this.path, k);
    }
    const shape = [rows.length, ...header.shape.slice(1)];
    const data = viewAs(
      header.kind,
      header.itemsize,
      buffer,
      shape.reduce((a, b) => a * b, 1),
    );
    if (!data)
      throw new NpzError("ERR_NPY_UNSUPPORTED_DTYPE", `member '${k}' has dtype ${header.descr}, which has no typed-array view`, { path: this.path, member: k });
    return { data, shape, descr: header.descr, fortranOrder: header.fortranOrder && header.shape.length < 2, zeroCopy: false };
  }

  /** array() with the data type asserted by the caller: `npz.arrayAs<Float32Array>("x")`. */
  arrayAs<T extends ArrayData>(key: string, options?: ArrayOptions): NpyArray<T> {
    return this.array(key, options) as NpyArray<T>;
  }

  /** array() typed from a descr literal: `npz.arrayOf("x", "<f4")` (checked at run time). */
  arrayOf<D extends string>(key: string, descr: D, options?: ArrayOptions): NpyArray<DataFor<D>> {
    if (typeof descr !== "string") throw new TypeError(`Expected a string for descr, got ${describe(descr)}`);
    const a = this.array(key, options);
    if (a.descr !== descr) {
      throw new NpzError("ERR_NPY_UNSUPPORTED_DTYPE", `member '${key}' has dtype ${a.descr}, expected ${descr}`, {
        path: this.path,
        member: key,
      });
    }
    return a as NpyArray<DataFor<D>>;
  }

  #readStringArray(index: number, header: RawHeader, mode: 0 | 1, key: string): string[] {
    let res: ReturnType<RawArchive["readArray"]>;
    try {
      res = this.#raw.readArray(index, mode);
    } catch (err) {
      const e = fromNative(err, this.path, key);
      // A core that only serves U/S through readStrings: fall back to it.
      if (e instanceof NpzError && e.code === "ERR_NPY_UNSUPPORTED_DTYPE") {
        return this.#rawStrings(index, key).items.map((s) => s ?? "");
      }
      throw e;
    }
    return header.kind === "U" ? decodeUnicode(res.buffer, header.count, header.itemsize) : decodeBytes(res.buffer, header.count, header.itemsize);
  }

  #rawStrings(index: number, key: string) {
    try {
      return this.#raw.readStrings(index);
    } catch (err) {
      throw fromNative(err, this.path, key);
    }
  }

  /** Strings of a |O (pickled str/None, via the whitelisting walker), <U or |S member. */
  strings(key: string): ObjectStrings {
    const { index, member, header } = this.#member(key);
    const s = this.#rawStrings(index, member.key);
    const encoding: ObjectStrings["encoding"] = header.kind === "U" ? "unicode" : header.kind === "S" ? "bytes" : "pickled-str";
    return { shape: [...s.shape], fortranOrder: s.fortranOrder, items: [...s.items], encoding };
  }

  /**
   * The one item of a one-item pickled object (`|O`) member (e.g. a `_metadata` dict written
   * as `np.array(d, dtype=object)`), decoded by the whitelisting walker without executing
   * anything: dict / list / tuple of str, int, float, bool, None, nested. Anything else (numpy
   * scalars, datetimes, sets, bytes, ...) throws ERR_NPY_PICKLE_REFUSED; a member that is not
   * `|O` throws ERR_NPY_UNSUPPORTED_DTYPE.
   */
  pickledValue(key: string): PickledValue {
    const { index, member } = this.#member(key);
    try {
      return this.#raw.readValue(index);
    } catch (err) {
      throw fromNative(err, this.path, member.key);
    }
  }

  /**
   * Parsed JSON of `_metadata` (0-d pickled str, 0-d <U or |S; a size-1 array is read too).
   * undefined when there is no `_metadata` member, it holds no single string, or the text is
   * not JSON. Member-level errors (e.g. a refused pickle) are thrown.
   */
  metadata(): unknown {
    this.#ensureOpen();
    if (!this.#byKey.has(METADATA_KEY)) return undefined;
    const { header } = this.#member(METADATA_KEY);
    if (!(header.isObject || header.kind === "U" || header.kind === "S") || header.count !== 1) return undefined;
    const s = this.strings(METADATA_KEY);
    const text = s.items[0];
    if (typeof text !== "string") return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return undefined;
    }
  }

  /**
   * Streams the member once on the libuv pool: CRC-32 (crc, default true) and value statistics
   * (stats, default true; null for non-numeric members). signal aborts -> ERR_NPZ_ABORTED,
   * whenever the abort comes before the returned promise settles.
   */
  async scan(key: string, options?: ScanOptions): Promise<ScanResult> {
    const o = checkOptionsObject(options, "options", SCAN_OPTION_KEYS);
    const crc = checkBool(o.crc, "options.crc") ?? true;
    const stats = checkBool(o.stats, "options.stats") ?? true;
    const signal = o.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new TypeError(`Expected an AbortSignal for options.signal, got ${describe(signal)}`);
    }
    // Members without NPY magic are scanned too (CRC of their raw bytes, no stats): numpy's
    // loader verifies their CRC as well. Any other member-level error is thrown.
    const index = this.#index(key);
    const member = this.#members[index]!;
    if (member.npyMagic || this.kind !== "npz") this.#memberError(member);
    const k = member.key;
    if (signal?.aborted) throw abortError(this.path, k);
    const id = nextScanId++;
    const onAbort = () => this.#raw.cancel(id);
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const r = await this.#raw.scan(index, { crc, stats, id });
      // An abort that came before this promise settled wins, even when the native scan had
      // already finished (as with fetch): the caller asked to stop, so no result is delivered.
      if (signal?.aborted) throw abortError(this.path, k);
      return { key: k, crcChecked: r.crcChecked, crcOk: r.crcOk, bytesRead: r.bytesRead, stats: r.stats as ArrayStats | null };
    } catch (err) {
      throw fromNative(err, this.path, k);
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }

  /** Idempotent. Detaches every array buffer handed out (views become length 0) and releases the file. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#raw.close();
  }

  /** @internal close() keeping the buffers handed out (loadNpy). */
  closeKeepingViews(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#raw.close(false);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Opens a .npz (or .npy) file synchronously: reads the central directory and every member's NPY
 * header (deflated members inflate only their header bytes). Throws NpzError for unreadable files.
 */
export function openNpz(path: string, options?: OpenOptions): NpzFile {
  const p = checkPath(path);
  const raw = openOptions(options);
  let archive: RawArchive;
  try {
    archive = native.open(p, raw);
  } catch (err) {
    throw fromNative(err, p);
  }
  return new NpzFile(p, archive);
}

/** Reads a whole .npy file (same result shape as NpzFile#array()); the file is closed afterwards. */
export function loadNpy(path: string, options?: ArrayOptions & OpenOptions): NpyArray {
  const p = checkPath(path);
  const all = checkOptionsObject(options, "options", new Set([...OPEN_OPTION_KEYS, ...ARRAY_OPTION_KEYS]));
  const openOpts: OpenOptions = {};
  if (all.maxHeaderSize !== undefined) openOpts.maxHeaderSize = all.maxHeaderSize as number;
  if (all.maxEntries !== undefined) openOpts.maxEntries = all.maxEntries as number;
  if (all.maxInflateBytes !== undefined) openOpts.maxInflateBytes = all.maxInflateBytes as number;
  if (all.threads !== undefined) openOpts.threads = all.threads as number;
  const arrayOpts: ArrayOptions = {};
  if (all.copy !== undefined) arrayOpts.copy = all.copy as boolean;
  if (all.rows !== undefined) arrayOpts.rows = all.rows as [number, number];
  copyMode(arrayOpts);
  const file = openNpz(p, openOpts);
  try {
    if (file.kind !== "npy") {
      throw new NpzError("ERR_NPY_BAD_MAGIC", "expected a .npy file, found a ZIP archive (use openNpz)", { path: p });
    }
    const key = file.keys()[0];
    if (key === undefined) throw new NpzError("ERR_NPY_BAD_MAGIC", "no array in file", { path: p });
    return file.array(key, arrayOpts);
  } finally {
    file.closeKeepingViews();
  }
}
