// Typed access to the numpy-written corpus: test/fixtures/expected.json and corrupt/corrupt.json.
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { ErrorCode } from "../../src/errors.js";
import type { OpenOptions } from "../../src/types.js";

export const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "fixtures");

export function fixture(rel: string): string {
  return path.join(FIXTURES, rel);
}

export interface ExpectedArray {
  file: string;
  key: string | null;
  member: string | null;
  descr: string;
  dtypeName: string;
  shape: number[];
  fortranOrder: boolean;
  compression: "stored" | "deflated";
  version: string;
  count: number;
  byteLength: number;
  itemsize: number;
  componentSize: number;
  bigEndian: boolean;
  headerLength: number;
  arrayOffset: number | null;
  trailingBytes: number;
  base64?: string;
  strings?: string[];
}

export interface ExpectedMetadata {
  file: string;
  encoding: "pickled-str" | "unicode" | "bytes";
  text: string;
}

export interface ExpectedArchive {
  file: string;
  members: {
    name: string;
    method: number;
    dataDescriptor: boolean;
    crc32: number;
    compressedSize: number;
    uncompressedSize: number;
  }[];
}

export interface Expected {
  numpy: string;
  arrays: ExpectedArray[];
  metadata: ExpectedMetadata[];
  archives: ExpectedArchive[];
}

export type Stage = "open" | "array" | "scan" | "strings";

export interface CorruptCase {
  file: string;
  row: number;
  codes: ErrorCode[];
  at: Stage[];
  member: string | null;
  severity: "error" | "warning";
  note: string;
  options?: OpenOptions;
  expect?: { trailingBytes?: number; badBool?: number };
}

export function loadExpected(): Expected {
  return JSON.parse(readFileSync(fixture("expected.json"), "utf8")) as Expected;
}

export function loadCorrupt(): CorruptCase[] {
  return (JSON.parse(readFileSync(fixture("corrupt/corrupt.json"), "utf8")) as { cases: CorruptCase[] }).cases;
}

/** Key under which the reader exposes an entry: the member key, or the file stem for .npy files. */
export function keyOf(e: { file: string; key: string | null }): string {
  return e.key ?? path.basename(e.file, ".npy");
}

export function groupBy<T>(items: T[], by: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const it of items) {
    const k = by(it);
    const list = m.get(k);
    if (list) list.push(it);
    else m.set(k, [it]);
  }
  return m;
}

/** TypedArray constructor name the reader must return for a numeric descr (kind + itemsize). */
export function expectedClass(descr: string): string {
  const code = descr.slice(1);
  const table: Record<string, string> = {
    b1: "Uint8Array",
    i1: "Int8Array",
    i2: "Int16Array",
    i4: "Int32Array",
    i8: "BigInt64Array",
    u1: "Uint8Array",
    u2: "Uint16Array",
    u4: "Uint32Array",
    u8: "BigUint64Array",
    f2: "Uint16Array",
    f4: "Float32Array",
    f8: "Float64Array",
    c8: "Float32Array",
    c16: "Float64Array",
  };
  const name = table[code];
  if (!name) throw new Error(`no typed array for ${descr}`);
  return name;
}
