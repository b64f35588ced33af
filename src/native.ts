// Loads the compiled addon and declares its raw shape: the one untyped seam of the package.
// Every other module uses the friendly wrappers in npz.ts / scan.ts, never these objects directly.
import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import path from "node:path";
import { PACKAGE_ROOT } from "./package-root.js";

export interface RawError {
  code: string;
  message: string;
  member?: string;
}

export interface RawHeader {
  version: string; // "1.0" | "2.0" | "3.0"
  headerLength: number; // HEADER_LEN field
  dataOffset: number; // prefix + HEADER_LEN, relative to the member start
  descr: string; // exactly as stored (numpy dtype.str)
  numpyName: string; // str(dtype) on a little-endian host: "float32", ">f4", "<U8", "object"
  kind: string; // 'b','i','u','f','c','U','S','O','V','M','m' or "" for structured
  itemsize: number;
  componentSize: number;
  bigEndian: boolean;
  supported: boolean; // values readable (numeric, bool, U, S)
  isObject: boolean;
  unsupportedReason: string;
  shape: number[];
  fortranOrder: boolean;
  count: number;
  byteLength: number;
}

export interface RawMember {
  name: string; // archive member name, e.g. "diffraction.npy"
  key: string; // name minus one ".npy"
  compression: "stored" | "deflated";
  method: number;
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
  lfhOffset: number;
  memberOffset: number; // file offset of the first byte of the .npy
  arrayOffset: number | null; // file offset of the array data (stored members with a header)
  hasDataDescriptor: boolean;
  npyMagic: boolean;
  trailingBytes: number;
  header: RawHeader | null;
  error: RawError | null; // member-level problem found at open
}

export interface RawComponentStats {
  count: number;
  nan: number;
  posInf: number;
  negInf: number;
  negative: number;
  zero: number;
  finite: number;
  min: number | null; // null when no finite value
  max: number | null;
  sum: number;
  sumSq: number;
}

export interface RawStats {
  elements: number;
  components: RawComponentStats[]; // 1, or 2 (re, im) for complex
  sumAbs2: number;
  badBool: number;
  rows?: RawRowTallies; // C-order rank >= 2 arrays with >= 64 values per row
}

export interface RawRowTally {
  rows: number;
  values: number;
  first: number[];
  counts: number[];
}

export interface RawRowTallies {
  rowElements: number;
  rows: number;
  zero: RawRowTally;
  nonfinite: RawRowTally;
  negative: RawRowTally;
}

export interface RawScanResult {
  crcChecked: boolean;
  crcOk: boolean;
  bytesRead: number;
  stats: RawStats | null;
}

export interface RawObjectStrings {
  shape: number[];
  fortranOrder: boolean;
  items: (string | null)[];
}

/** A plain value from a pickle: ints are bigint, dicts { entries } (see PickledValue). */
export type RawPlainValue = null | boolean | bigint | number | string | RawPlainValue[] | { entries: [RawPlainValue, RawPlainValue][] };

export interface RawArchive {
  readonly kind: "npz" | "npy";
  readonly fileSize: number;
  /** Resolved OpenOptions::threads (>= 1). */
  readonly threads: number;
  readonly inode: number;
  readonly mtimeMs: number;
  members(): RawMember[];
  /** mode 0 = auto, 1 = force copy, 2 = require zero-copy. Data in native byte order. */
  readArray(index: number, mode: 0 | 1 | 2): { buffer: ArrayBuffer; zeroCopy: boolean; crcVerified: boolean };
  readStrings(index: number): RawObjectStrings;
  /** The one item of a one-item |O member as a plain value (dict/list/tuple/str/int/float/bool/None). */
  readValue(index: number): RawPlainValue;
  /** Rows [start, end) of the first axis (C order, or 1-d); mode as readArray. CRC not verified. */
  readRows(index: number, start: number, end: number, mode: 0 | 1 | 2): { buffer: ArrayBuffer; zeroCopy: boolean; crcVerified: boolean };
  /** Per-row totals of a real numeric C-order array (one streaming pass; no CRC check). */
  rowProfile(
    index: number,
    maxRows: number,
  ): { sum: Float64Array; nonfinite: Float64Array; nonzero: Float64Array; negative: Float64Array; colSum: Float64Array };
  /** The listed rows (ascending, unique) concatenated in native order: one pass over the member. */
  readRowSet(index: number, rows: number[]): ArrayBuffer;
  /** Runs on the libuv pool; rejects with a coded error. */
  scan(index: number, options: { crc: boolean; stats: boolean; id?: number }): Promise<RawScanResult>;
  /** Aborts running scans of this archive (they reject with ERR_NPZ_ABORTED); with an id, only the scan started with that id. */
  cancel(id?: number): void;
  /** Idempotent. Detaches every ArrayBuffer handed out (unless detach is false) and releases the file. */
  close(detach?: boolean): void;
  readonly closed: boolean;
}

export interface RawOpenOptions {
  maxHeaderSize?: number;
  maxEntries?: number;
  maxInflateBytes?: number;
  /** 0 or absent: the core's available_cpus(). */
  threads?: number;
}

/** The core's CPU detection (cpu_count.h), fresh at each call. */
export interface RawCpuBudget {
  /** Threads used when none are asked for: min(affinity or hardware, cgroup quota rounded up), >= 1. */
  cpus: number;
  source: "cgroup-quota" | "affinity" | "hardware";
  /** std::thread::hardware_concurrency() (0: unknown). */
  hardware: number;
  /** CPUs in the sched_getaffinity mask (0: unavailable). */
  affinity: number;
  /** quota / period of the tightest cgroup level (e.g. 1.5), or null without a quota. */
  quota: number | null;
  /** The cgroup directory whose quota applies ("" without one). */
  quotaDir: string;
}

export interface NativeAddon {
  open(path: string, options: RawOpenOptions): RawArchive;
  errorCodes(): string[];
  buildInfo(): { inflate: string; crc32: string; compiler: string; sanitizers: boolean; threads: RawCpuBudget };
  liveMappings(): number;
  /** flock(2) on a descriptor from node:fs: true when granted, false when held elsewhere (non-blocking). */
  flock(fd: number, exclusive: boolean, wait: boolean): boolean;
}

const root = PACKAGE_ROOT;
const require = createRequire(import.meta.url);

/** Where the loaded addon came from: NPZGUARD_ADDON, a build on this machine, or the package's prebuilt binary. */
export type AddonOrigin = "env" | "local" | "prebuilt";

function locate(): { file: string; origin: AddonOrigin } {
  const override = process.env.NPZGUARD_ADDON;
  if (override) {
    if (!existsSync(override)) throw new Error(`NPZGUARD_ADDON=${override} does not exist`);
    return { file: path.resolve(override), origin: "env" };
  }
  // node-gyp-build's order: build/Release, build/Debug (a source build), then
  // prebuilds/<platform>-<arch>/ (the binary shipped in the npm tarball). Its first answer in a
  // checkout is looked up here directly: loading node-gyp-build and letting it read package.json
  // costs every CLI start ~1-2 ms. Its overrides (NPZGUARD_PREBUILD, PREBUILDS_ONLY) go to it.
  const release = path.join(root, "build", "Release", "npzguard.node");
  if (!process.env.NPZGUARD_PREBUILD && !process.env.PREBUILDS_ONLY && existsSync(release)) {
    return { file: release, origin: "local" };
  }
  const resolve = (require("node-gyp-build") as { resolve(dir: string): string }).resolve;
  const file = resolve(root);
  const rel = path.relative(root, file).split(path.sep);
  return { file, origin: rel[0] === "prebuilds" ? "prebuilt" : "local" };
}

function load(): { addon: NativeAddon; file: string; origin: AddonOrigin } {
  let where: { file: string; origin: AddonOrigin } | undefined;
  try {
    where = locate();
    return { addon: require(where.file) as NativeAddon, ...where };
  } catch (e) {
    const why = e instanceof Error ? e.message.split("\n")[0] : String(e);
    const err = new Error(
      `npzguard: the native addon ${where ? `${where.file} failed to load (${why})` : `is missing (${why})`}. ` +
        "Run `npm rebuild npzguard` (it loads the prebuilt binary or builds from source), " +
        "or set NPZGUARD_ADDON to the path of an npzguard.node built for this platform.",
      { cause: e },
    );
    // An installation problem, not a bug: the CLI exits 3 with this message (no "internal error").
    throw Object.assign(err, { code: "ERR_NPZGUARD_ADDON" });
  }
}

const loaded = load();
export const native: NativeAddon = loaded.addon;
/** Absolute path of the loaded .node file and where it came from. */
export const addonFile: string = loaded.file;
export const addonOrigin: AddonOrigin = loaded.origin;
