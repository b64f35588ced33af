// Public exports of npzguard: the reader API, its types, the errors, and the contract / study
// areas (re-exported wholesale).
export { openNpz, loadNpy, halfToFloat32, NpzFile } from "./npz.js";
export type { DataFor } from "./npz.js";
export { parseDescr, type NumericDescr, type ParsedDescr } from "./dtype.js";
export { NpzError, isNpzError, isErrorCode, ERROR_CODES, type ErrorCode, type NpzErrorOptions } from "./errors.js";
export type {
  ArrayData,
  ArrayOptions,
  ArrayStats,
  ComponentStats,
  Compression,
  DtypeKind,
  MemberInfo,
  NpyArray,
  NpyHeaderInfo,
  ObjectStrings,
  OpenOptions,
  ScanOptions,
  ScanResult,
} from "./types.js";
export { VERSION } from "./version.js";
export { buildInfo, type BuildInfo } from "./build-info.js";
export * from "./contract/index.js";
export * from "./study/index.js";
