// NPY writer (npy-npz-format.md §1–§2): produces the same bytes as NumPy 2.x `np.save` for the
// dtypes the synthetic study needs. The header is the dict literal NumPy writes (sorted keys,
// Python repr values, trailing ", "), followed by NumPy's growth-axis reservation (spaces so
// the count along axis 0 — last axis for Fortran order — can be rewritten in place with up to
// 21 digits) and padding so that the array data starts on a 64-byte boundary. Data are written
// little-endian whatever the host order.
import { endianness } from "node:os";
import { picklePayloadForString } from "./pickle.js";

export const NPY_MAGIC = Uint8Array.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);
const ARRAY_ALIGN = 64;
const GROWTH_AXIS_MAX_DIGITS = 21;

/** Numeric descrs the writer can produce from a typed array. */
export type NumericDescr = "|b1" | "|i1" | "|u1" | "<i2" | "<u2" | "<i4" | "<u4" | "<i8" | "<u8" | "<f4" | "<f8" | "<c8" | "<c16";

/** Typed arrays accepted as element storage (complex data interleaved re, im). */
export type NumericStorage =
  | Uint8Array
  | Int8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array
  | Float32Array
  | Float64Array;

const ITEMSIZE: Record<NumericDescr, number> = {
  "|b1": 1,
  "|i1": 1,
  "|u1": 1,
  "<i2": 2,
  "<u2": 2,
  "<i4": 4,
  "<u4": 4,
  "<i8": 8,
  "<u8": 8,
  "<f4": 4,
  "<f8": 8,
  "<c8": 8,
  "<c16": 16,
};

/** Bytes per stored scalar component (complex: one component). */
const COMPONENT_SIZE: Record<NumericDescr, number> = { ...ITEMSIZE, "<c8": 4, "<c16": 8 };

/** Python `repr` of a shape tuple: `()`, `(5,)`, `(3, 4)`. */
export function pyShapeRepr(shape: readonly number[]): string {
  if (shape.length === 0) return "()";
  if (shape.length === 1) return `(${shape[0]},)`;
  return `(${shape.join(", ")})`;
}

function checkShape(shape: readonly number[]): void {
  if (shape.length > 64) throw new RangeError(`Expected at most 64 dimensions for shape, got ${shape.length}`);
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new RangeError(`Expected non-negative integers for shape, got ${pyShapeRepr(shape)}`);
  }
}

/** Number of elements of a shape (1 for a 0-d array). */
export function shapeCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * The complete NPY prefix (magic, version, length field, header dict, padding, "\n") exactly as
 * NumPy writes it. Version 1.0 unless the header does not fit a 16-bit length (then 2.0).
 */
export function npyHeader(descr: string, shape: readonly number[], fortranOrder = false): Buffer {
  checkShape(shape);
  if (!/^[\x20-\x7e]+$/.test(descr) || descr.includes("'") || descr.includes("\\")) {
    throw new TypeError(`Expected a printable ASCII descr for descr, got ${JSON.stringify(descr)}`);
  }
  let dict = `{'descr': '${descr}', 'fortran_order': ${fortranOrder ? "True" : "False"}, 'shape': ${pyShapeRepr(shape)}, }`;
  if (shape.length > 0) {
    const growth = shape[fortranOrder ? shape.length - 1 : 0]!;
    dict += " ".repeat(Math.max(0, GROWTH_AXIS_MAX_DIGITS - String(growth).length));
  }
  const text = Buffer.from(dict, "latin1");
  const hlen = text.length + 1; // + final "\n"
  let prefixLen = 10;
  let padLen = ARRAY_ALIGN - ((prefixLen + hlen) % ARRAY_ALIGN);
  let major = 1;
  if (hlen + padLen > 0xffff) {
    major = 2;
    prefixLen = 12;
    padLen = ARRAY_ALIGN - ((prefixLen + hlen) % ARRAY_ALIGN);
  }
  const total = prefixLen + hlen + padLen;
  const out = Buffer.alloc(total, 0x20);
  out.set(NPY_MAGIC, 0);
  out[6] = major;
  out[7] = 0;
  if (major === 1) out.writeUInt16LE(hlen + padLen, 8);
  else out.writeUInt32LE(hlen + padLen, 8);
  text.copy(out, prefixLen);
  out[total - 1] = 0x0a;
  return out;
}

const HOST_LITTLE = endianness() === "LE";

/** Little-endian bytes of a typed array (a view when the host is little-endian, else a swapped copy). */
function littleEndianBytes(data: NumericStorage, componentSize: number): Uint8Array {
  const view = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (HOST_LITTLE || componentSize === 1) return view;
  const copy = Uint8Array.from(view);
  for (let i = 0; i < copy.length; i += componentSize) copy.subarray(i, i + componentSize).reverse();
  return copy;
}

/** A `.npy` member as a list of chunks (header, data) so large data are never concatenated. */
export interface NpyParts {
  header: Buffer;
  data: Uint8Array;
}

/** Header + data of a numeric array. Complex descrs take interleaved (re, im) storage. */
export function numericNpy(descr: NumericDescr, shape: readonly number[], data: NumericStorage, fortranOrder = false): NpyParts {
  checkShape(shape);
  const itemsize = ITEMSIZE[descr];
  if (itemsize === undefined) throw new TypeError(`Expected a supported numeric descr for descr, got '${String(descr)}'`);
  const want = shapeCount(shape) * itemsize;
  if (data.byteLength !== want) {
    throw new RangeError(`Expected ${want} bytes of data for shape ${pyShapeRepr(shape)} ${descr}, got ${data.byteLength}`);
  }
  if (data.BYTES_PER_ELEMENT !== COMPONENT_SIZE[descr] && !(descr === "|b1" && data.BYTES_PER_ELEMENT === 1)) {
    throw new TypeError(`Expected ${COMPONENT_SIZE[descr]}-byte elements for data of ${descr}, got ${data.BYTES_PER_ELEMENT}-byte elements`);
  }
  return { header: npyHeader(descr, shape, fortranOrder), data: littleEndianBytes(data, COMPONENT_SIZE[descr]) };
}

/** A 0-d `<U`n array holding `text` (UCS-4 little-endian), like `np.array(text)`. */
export function unicodeScalarNpy(text: string): NpyParts {
  const cps = Array.from(text, (c) => c.codePointAt(0)!);
  const n = Math.max(1, cps.length); // np.array("") is <U1
  const data = new Uint32Array(n);
  data.set(cps);
  return { header: npyHeader(`<U${n}`, []), data: littleEndianBytes(data, 4) };
}

/** A 0-d `|O` array holding one str, pickled like `np.save(..., allow_pickle=True)` (NumPy 2.x). */
export function pickledStringScalarNpy(text: string): NpyParts {
  return { header: npyHeader("|O", []), data: picklePayloadForString(text) };
}

/** Concatenates the parts into one `.npy` file image. */
export function npyBytes(parts: NpyParts): Buffer {
  return Buffer.concat([parts.header, parts.data]);
}
