// Descr parsing (simple form, npy-npz-format.md §3.1) and the descr -> TypedArray mapping used by
// NpzFile#array(). The native core already validated the header and byte-swapped copies to
// native (little-endian) order; this module only decides how to view the bytes.
import type { ArrayData } from "./types.js";

/** The simple-form descrs npzguard exposes as values. */
export type NumericDescr =
  | "|b1"
  | "<b1"
  | ">b1"
  | "|i1"
  | "<i1"
  | ">i1"
  | "<i2"
  | ">i2"
  | "<i4"
  | ">i4"
  | "<i8"
  | ">i8"
  | "|u1"
  | "<u1"
  | ">u1"
  | "<u2"
  | ">u2"
  | "<u4"
  | ">u4"
  | "<u8"
  | ">u8"
  | "<f2"
  | ">f2"
  | "<f4"
  | ">f4"
  | "<f8"
  | ">f8"
  | "<c8"
  | ">c8"
  | "<c16"
  | ">c16";

type KindSize<D extends string> = D extends `${"<" | ">" | "|"}${infer R}` ? R : D;

/**
 * The `data` type array() yields for a descr, at the type level:
 * `DataFor<"<f4">` is Float32Array, `DataFor<"<U8">` is string[], an unknown descr is ArrayData.
 */
export type DataFor<D extends string> =
  KindSize<D> extends "b1" | "u1"
    ? Uint8Array
    : KindSize<D> extends "i1"
      ? Int8Array
      : KindSize<D> extends "i2"
        ? Int16Array
        : KindSize<D> extends "i4"
          ? Int32Array
          : KindSize<D> extends "i8"
            ? BigInt64Array
            : KindSize<D> extends "u2" | "f2"
              ? Uint16Array
              : KindSize<D> extends "u4"
                ? Uint32Array
                : KindSize<D> extends "u8"
                  ? BigUint64Array
                  : KindSize<D> extends "f4" | "c8"
                    ? Float32Array
                    : KindSize<D> extends "f8" | "c16"
                      ? Float64Array
                      : KindSize<D> extends `${"U" | "S" | "a"}${number}`
                        ? string[]
                        : ArrayData;

export interface ParsedDescr {
  byteorder: "<" | ">" | "|" | "=" | "";
  kind: string;
  itemsize: number;
  /** Datetime unit in brackets, e.g. "D" for "<M8[D]"; "" when absent. */
  unit: string;
}

const SIMPLE = /^([<>|=]?)([a-zA-Z])(\d+)(?:\[([A-Za-z0-9]+)\])?$/;

/** Parses a simple-form descr ("<f4", "|S3", "<M8[D]"); null for structured/unknown text. */
export function parseDescr(descr: string): ParsedDescr | null {
  const m = SIMPLE.exec(descr);
  if (!m) return descr === "|O" || descr === "O" ? { byteorder: descr.length === 2 ? "|" : "", kind: "O", itemsize: 8, unit: "" } : null;
  const byteorder = m[1] as ParsedDescr["byteorder"];
  let kind = m[2]!;
  if (kind === "a") kind = "S";
  return { byteorder, kind, itemsize: Number(m[3]), unit: m[4] ?? "" };
}

type TypedCtor =
  | Uint8ArrayConstructor
  | Int8ArrayConstructor
  | Int16ArrayConstructor
  | Int32ArrayConstructor
  | BigInt64ArrayConstructor
  | Uint16ArrayConstructor
  | Uint32ArrayConstructor
  | BigUint64ArrayConstructor
  | Float32ArrayConstructor
  | Float64ArrayConstructor;

/** The TypedArray constructor for a numeric kind/itemsize, and elements per array item. */
export function typedArrayCtor(kind: string, itemsize: number): { ctor: TypedCtor; perItem: number } | null {
  switch (`${kind}${itemsize}`) {
    case "b1":
    case "u1":
      return { ctor: Uint8Array, perItem: 1 };
    case "i1":
      return { ctor: Int8Array, perItem: 1 };
    case "i2":
      return { ctor: Int16Array, perItem: 1 };
    case "i4":
      return { ctor: Int32Array, perItem: 1 };
    case "i8":
      return { ctor: BigInt64Array, perItem: 1 };
    case "u2":
    case "f2":
      return { ctor: Uint16Array, perItem: 1 };
    case "u4":
      return { ctor: Uint32Array, perItem: 1 };
    case "u8":
      return { ctor: BigUint64Array, perItem: 1 };
    case "f4":
      return { ctor: Float32Array, perItem: 1 };
    case "f8":
      return { ctor: Float64Array, perItem: 1 };
    case "c8":
      return { ctor: Float32Array, perItem: 2 };
    case "c16":
      return { ctor: Float64Array, perItem: 2 };
    default:
      return null;
  }
}

/**
 * Views native-order bytes as the descr's TypedArray (complex interleaved, length 2n).
 * Returns null when the kind is not numeric/bool. Never copies.
 */
export function viewAs(kind: string, itemsize: number, buffer: ArrayBuffer, count: number): Exclude<ArrayData, string[]> | null {
  const t = typedArrayCtor(kind, itemsize);
  if (!t) return null;
  return new t.ctor(buffer, 0, count * t.perItem);
}

const utf8 = new TextDecoder("utf-8");

/**
 * Decodes <U n items (UCS-4 in native order) to strings, trailing NULs stripped. A lone surrogate
 * (numpy stores Python's '\ud800' as is) stays a lone UTF-16 unit, so the string equals numpy's;
 * only values beyond U+10FFFF, which no Python str holds, become U+FFFD.
 */
export function decodeUnicode(buffer: ArrayBuffer, count: number, itemsize: number): string[] {
  const chars = itemsize / 4;
  const units = new Uint32Array(buffer, 0, count * chars);
  const out: string[] = new Array<string>(count);
  for (let i = 0; i < count; i++) {
    let end = (i + 1) * chars;
    const start = i * chars;
    while (end > start && units[end - 1] === 0) end--;
    let s = "";
    for (let j = start; j < end; j++) {
      const cp = units[j]!;
      s += cp <= 0x10ffff ? String.fromCodePoint(cp) : "\ufffd";
    }
    out[i] = s;
  }
  return out;
}

/** Decodes |S n items to strings (UTF-8, invalid bytes replaced), trailing NULs stripped. */
export function decodeBytes(buffer: ArrayBuffer, count: number, itemsize: number): string[] {
  const bytes = new Uint8Array(buffer, 0, count * itemsize);
  const out: string[] = new Array<string>(count);
  for (let i = 0; i < count; i++) {
    const start = i * itemsize;
    let end = start + itemsize;
    while (end > start && bytes[end - 1] === 0) end--;
    out[i] = utf8.decode(bytes.subarray(start, end));
  }
  return out;
}

// Shared scratch for the half -> single conversion (exactly representable, so no rounding).
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

function halfBitsToFloat(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) {
    if (mant === 0) {
      u32[0] = sign;
      return f32[0]!;
    }
    // Subnormal half: mant * 2^-24.
    const v = mant * 2 ** -24;
    return sign ? -v : v;
  }
  if (exp === 0x1f) {
    u32[0] = sign | 0x7f800000 | (mant << 13);
    return f32[0]!;
  }
  u32[0] = sign | ((exp - 15 + 127) << 23) | (mant << 13);
  return f32[0]!;
}

/** Converts raw IEEE binary16 bits (how f2 data is exposed) to a Float32Array. */
export function halfToFloat32(bits: Uint16Array): Float32Array {
  if (!(bits instanceof Uint16Array)) {
    throw new TypeError(`Expected a Uint16Array for bits, got ${describe(bits)}`);
  }
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = halfBitsToFloat(bits[i]!);
  return out;
}

/** Short description of a value for TypeError messages. */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? value.slice(0, 40) + "..." : value);
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value);
  if (typeof value === "function") return "a function";
  if (Array.isArray(value)) return "an array";
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === "string" && name !== "Object" ? `a ${name}` : "an object";
}
