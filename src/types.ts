// Public types of the reader API (openNpz / loadNpy). Dtypes are string-literal unions mapped to
// TypedArray types at the type level.

/** Numeric/bool/string kinds npzguard can expose as values. */
export type DtypeKind = "b" | "i" | "u" | "f" | "c" | "U" | "S" | "O" | "V" | "M" | "m" | "";

export type Compression = "stored" | "deflated";

/** What `array()` returns in `data`, by kind and itemsize (see README "Array data"). */
export type ArrayData =
  | Uint8Array // b1 (0/1), u1
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Uint16Array // u2, and f2 as raw half-precision bits
  | Uint32Array
  | BigUint64Array
  | Float32Array // f4, c8 (interleaved re, im)
  | Float64Array // f8, c16 (interleaved re, im)
  | string[]; // U, S

export interface NpyHeaderInfo {
  /** Member key (name without ".npy"); file stem for .npy files. */
  key: string;
  /** Descriptor exactly as stored (numpy dtype.str): "<f4", ">i4", "|b1", "<U5", "|S3", "|O". */
  descr: string;
  /** numpy's str(dtype) on a little-endian host: "float32", "complex64", ">f4", "<U5", "object". */
  dtypeName: string;
  kind: DtypeKind;
  itemsize: number;
  shape: number[];
  fortranOrder: boolean;
  compression: Compression;
  /** Bytes of array data (count x itemsize; 0 for object arrays). */
  byteLength: number;
  /** Element count (1 for 0-d). */
  count: number;
  /** Member sizes in the archive (for .npy files both equal the file size). */
  compressedSize: number;
  uncompressedSize: number;
  crc32: number;
  version: string;
  /** Whether values can be read (numeric, bool, U, S). */
  supported: boolean;
  unsupportedReason?: string;
  bigEndian: boolean;
  /** Absolute file offset of the array data (stored members only). */
  arrayOffset: number | null;
  /** arrayOffset mod 64, or null. */
  alignment: number | null;
  /** Bytes after the declared data inside the member (numpy ignores them). */
  trailingBytes: number;
}

export interface NpyArray<D extends ArrayData = ArrayData> {
  data: D;
  shape: number[];
  descr: string;
  fortranOrder: boolean;
  /** True when `data` is a view over the mapped file (no copy was made). */
  zeroCopy: boolean;
}

export interface ArrayOptions {
  /** undefined/"auto": zero-copy when possible, else one copy. true: always copy. false: throw instead of copying. */
  copy?: boolean;
  /**
   * Read only rows `start` .. `end - 1` along the first axis: numpy's `a[start:end]`, with the
   * shape `[end - start, ...shape.slice(1)]`. A STORED, aligned, native-endian C-order (or 1-d)
   * member gives a zero-copy view of just those rows (unless `copy: true`); a DEFLATE member is
   * inflated in bounded memory from its start up to the last needed row and no further. A
   * Fortran-order array of 2+ dimensions has no contiguous rows: its rows are gathered into a
   * C-order copy (`fortranOrder: false` in the result; STORED: strided reads of just those rows,
   * DEFLATE: one streaming pass up to the last needed row of the last column, i.e. nearly the
   * whole member), and `copy: false` throws ERR_NPY_FORTRAN_ORDER. The CRC-32 is not verified
   * (it covers the whole member; use `scan()` for that).
   * Errors: ERR_NPY_ROW_RANGE (start > end, end > rows, 0-d array), ERR_NPY_FORTRAN_ORDER
   * (`copy: false` on a Fortran-order array of 2+ dimensions).
   */
  rows?: readonly [start: number, end: number];
}

export interface OpenOptions {
  /** Cap on an NPY header's HEADER_LEN (default 10,000 like numpy; at most 1 MiB). */
  maxHeaderSize?: number;
  /** Cap on the number of archive entries (default 10,000). */
  maxEntries?: number;
  /**
   * Global inflate budget of this handle: the total DEFLATE output that full reads (`scan`,
   * `array`, `strings`, `metadata`) may produce, charged by each member's declared size when its
   * read starts; over it: `ERR_NPZ_LIMIT`. Default 1 TiB (2^40 bytes). STORED members cost nothing.
   */
  maxInflateBytes?: number;
}

/** Per-component value statistics (finite values only for min/max/sum). */
export interface ComponentStats {
  count: number;
  nan: number;
  posInf: number;
  negInf: number;
  negative: number;
  zero: number;
  finite: number;
  min: number | null;
  max: number | null;
  sum: number;
  sumSq: number;
}

export interface ArrayStats {
  elements: number;
  /** One entry; two (real, imaginary) for complex arrays. */
  components: ComponentStats[];
  /** Complex: sum of |z|^2 over finite elements. */
  sumAbs2: number;
  /** b1 bytes other than 0/1. */
  badBool: number;
  /**
   * Per-row tallies along the first axis (frames), from the same pass. Present for C-order arrays
   * of rank >= 2 whose rows hold at least 64 values (e.g. a diffraction stack (M, H, W)).
   */
  rows?: RowTallies;
}

/** Rows holding some property: how many, and the first (at most 8) with their count. */
export interface RowTally {
  /** Rows affected. */
  rows: number;
  /** Values counted over those rows (complex: per component). */
  values: number;
  /** Indices of the first affected rows (ascending, at most 8). */
  first: number[];
  /** The count of each row in `first`. */
  counts: number[];
}

/** Per-row tallies of a value scan along the first axis (ArrayStats.rows). */
export interface RowTallies {
  /** Values per row (product of shape[1:]). */
  rowElements: number;
  /** Rows scanned. */
  rows: number;
  /** Rows whose every value is zero (zero-energy frames); counts are the row's values. */
  zero: RowTally;
  /** NaN / +-Inf values per row. */
  nonfinite: RowTally;
  /** Values < 0 per row (-0.0 is not negative). */
  negative: RowTally;
}

export interface ScanOptions {
  /** Verify the member's CRC-32 in the same pass (default true). */
  crc?: boolean;
  /** Compute value statistics (default true; ignored for non-numeric members). */
  stats?: boolean;
  signal?: AbortSignal;
}

export interface ScanResult {
  key: string;
  crcChecked: boolean;
  crcOk: boolean;
  bytesRead: number;
  stats: ArrayStats | null;
}

/** Result of reading `_metadata` (or any object/str member) as strings. */
export interface ObjectStrings {
  shape: number[];
  fortranOrder: boolean;
  items: (string | null)[];
  /** "pickled-str" for |O, "unicode" for <U, "bytes" for |S. */
  encoding: "pickled-str" | "unicode" | "bytes";
}

/**
 * A plain Python value read from a pickled one-item object array by the whitelisting walker
 * (never executed): None -> null, bool -> boolean, int -> bigint (any size), float -> number,
 * str -> string, list / tuple -> array, dict -> PickledDict (insertion order, non-string keys kept).
 */
export type PickledValue = null | boolean | bigint | number | string | PickledValue[] | PickledDict;

/** A Python dict as read from a pickle: [key, value] pairs in insertion order, keys unique. */
export interface PickledDict {
  entries: [PickledValue, PickledValue][];
}

/** One archive entry as listed by members(): header info, or the member-level error. */
export interface MemberInfo {
  name: string;
  key: string;
  compression: Compression;
  compressedSize: number;
  uncompressedSize: number;
  crc32: number;
  npyMagic: boolean;
  header: NpyHeaderInfo | null;
  error: { code: string; message: string } | null;
}

/** Per-row (first-axis) totals of a real numeric array, from one streaming pass (rowProfile()). */
export interface RowProfile {
  /** Sum of the finite values of each row (a frame's total intensity). */
  sum: Float64Array;
  /** NaN / Inf values per row (floats only). */
  nonfinite: Float64Array;
  /** Values != 0 per row: 0 marks a zero-energy frame. */
  nonzero: Float64Array;
  /** Values < 0 per row. */
  negative: Float64Array;
  /** Per position within a row, the sum of finite values over all rows (mean pattern = colSum / rows); empty when a row has more than 16 Mi values. */
  colSum: Float64Array;
}
