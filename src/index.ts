// Entry point of `npzguard`: the reader, the DATA-001 checker and its formatters, the errors and
// the version. The study / gate / hand-off layer is `npzguard/study` (src/entries/study.ts);
// importing this module loads neither it nor fft.js.
export { openNpz, loadNpy, halfToFloat32, NpzFile } from "./npz.js";
export type { DataFor } from "./npz.js";
export { parseDescr, type NumericDescr, type ParsedDescr } from "./dtype.js";
export { NpzError, isNpzError, isErrorCode, ERROR_CODES, type ErrorCode, type NpzErrorOptions } from "./errors.js";
export type {
  ArrayData,
  ArrayOptions,
  RowProfile,
  RowTallies,
  RowTally,
  ArrayStats,
  ComponentStats,
  Compression,
  DtypeKind,
  MemberInfo,
  NpyArray,
  NpyHeaderInfo,
  ObjectStrings,
  OpenOptions,
  PickledDict,
  PickledValue,
  ScanOptions,
  ScanResult,
} from "./types.js";
export { VERSION } from "./version.js";
export { buildInfo, type BuildInfo } from "./build-info.js";
export * from "./contract/index.js";
export * from "./fix/index.js";
