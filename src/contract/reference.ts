// The Python gate (data-001.md §5): `np.load(path, allow_pickle=True)` → `dict(...)` →
// `validate_dataset_contract`, reproduced step by step so `referenceVerdict` carries the exact
// string the TF runner would record. Also NumPy's dtype names (§5.3) and a Python repr for the
// message texts that embed lists.
import type { ReferenceVerdict } from "./types.js";
import { pyStrRepr } from "../python/repr.js";

/** The reference gate's failure, as the TF runner records it: the one place this text is written. */
export function failedVerdict(type: string, message: string): ReferenceVerdict {
  return { status: "fail", error: `Dataset validation failed: ${type}: ${message}` };
}

export const REQUIRED_NPZ_KEYS = ["diffraction", "objectGuess", "probeGuess", "xcoords", "ycoords"] as const;

/** What `dict(np.load(...))[key]` is, as far as the validator can observe it. */
export type RefValue = { kind: "array"; dtypeName: string; dtypeKind: string; shape: number[] } | { kind: "bytes" };

export interface RefInput {
  /** Key → value; later members win like dict(). */
  values: Map<string, RefValue>;
  /** First member NumPy could not load (or npzguard refuses, §5.4), if any. */
  loadError?: { code: string; message: string } | null;
  gridsize?: number;
  neighborCount?: number | null;
}

/** Python repr of a shape tuple: (), (3,), (3, 4). */
export function pyShape(shape: readonly number[]): string {
  if (shape.length === 1) return `(${shape[0]},)`;
  return `(${shape.join(", ")})`;
}

const SIMPLE_NAMES: Record<string, string> = {
  b1: "bool",
  i1: "int8",
  i2: "int16",
  i4: "int32",
  i8: "int64",
  u1: "uint8",
  u2: "uint16",
  u4: "uint32",
  u8: "uint64",
  f2: "float16",
  f4: "float32",
  f8: "float64",
  f16: "float128",
  c8: "complex64",
  c16: "complex128",
  c32: "complex256",
  O: "object",
};

/**
 * NumPy's str(dtype) on a little-endian host for a stored descr (§5.3): "<f4" → "float32",
 * ">f4" → ">f4", "<M8[ns]" → "datetime64[ns]", "<U8" → "<U8", "|O" → "object".
 * Structured descrs (already a list repr) are returned unchanged.
 */
export function numpyDtypeName(descr: string): string {
  const m = /^([<>|=]?)([a-zA-Z])(\d*)(\[[^\]]*\])?$/.exec(descr);
  if (!m) return descr;
  const [, order, kind, size, unit] = m as unknown as [string, string, string, string, string | undefined];
  if (kind === "U" || kind === "S" || kind === "V") return descr;
  const big = order === ">";
  const single = kind === "O" || kind === "b" || size === "1";
  if (big && !single) return descr;
  if (kind === "M" || kind === "m") {
    if (big) return descr;
    return (kind === "M" ? "datetime64" : "timedelta64") + (unit ?? "");
  }
  return SIMPLE_NAMES[kind + size] ?? SIMPLE_NAMES[kind] ?? descr;
}

function fail(type: string, msg: string): ReferenceVerdict {
  return failedVerdict(type, msg);
}

/** Python-style list repr of the required keys. */
export function keyList(keys: readonly string[]): string {
  return "[" + keys.map(pyStrRepr).join(", ") + "]";
}

export function missingKeysMessage(missing: readonly string[]): string {
  return `Missing required NPZ keys (DATA-001): ${keyList(missing)}. Expected keys: ${keyList(REQUIRED_NPZ_KEYS)}`;
}

export function diffractionDtypeMessage(name: string): string {
  return `diffraction must be float (amplitude), got dtype=${name}. DATA-001 requires amplitude (sqrt of intensity).`;
}

export function complexDtypeMessage(key: string, name: string): string {
  return `${key} must be complex dtype (complex64/complex128), got dtype=${name}`;
}

export function floatDtypeMessage(key: string, name: string): string {
  return `${key} must be float dtype, got dtype=${name}`;
}

export function lengthMessage(key: string, a: number, n: number): string {
  return `${key} length ${a} != diffraction first axis ${n}`;
}

export function neighborRequiredMessage(g: number): string {
  return `neighbor_count required when gridsize=${g} > 1 for oversampling validation (OVERSAMPLING-001)`;
}

export function neighborTooSmallMessage(k: number, g: number): string {
  const c = g * g;
  return `neighbor_count=${k} < C=${c} (gridsize²=${g}²). OVERSAMPLING-001 requires K ≥ C for K-choose-C to work. Increase neighbor_count to at least ${c}.`;
}

export const BYTES_ATTRIBUTE_ERROR = "'bytes' object has no attribute 'dtype'";
export const INDEX_ERROR = "tuple index out of range";

/** The Python gate's verdict (first failure wins). */
export function referenceVerdict(input: RefInput): ReferenceVerdict {
  if (input.loadError) return fail(input.loadError.code, input.loadError.message);
  const data = input.values;
  const missing = REQUIRED_NPZ_KEYS.filter((k) => !data.has(k));
  if (missing.length > 0) return fail("ValueError", missingKeysMessage(missing));

  const arr = (key: string): Extract<RefValue, { kind: "array" }> | null => {
    const v = data.get(key);
    return v && v.kind === "array" ? v : null;
  };
  const attr = () => fail("AttributeError", BYTES_ATTRIBUTE_ERROR);

  const diff = arr("diffraction");
  if (!diff) return attr();
  if (diff.dtypeKind !== "f") return fail("ValueError", diffractionDtypeMessage(diff.dtypeName));
  for (const key of ["objectGuess", "probeGuess"]) {
    const v = arr(key);
    if (!v) return attr();
    if (v.dtypeKind !== "c") return fail("ValueError", complexDtypeMessage(key, v.dtypeName));
  }
  for (const key of ["xcoords", "ycoords"]) {
    const v = arr(key);
    if (!v) return attr();
    if (v.dtypeKind !== "f") return fail("ValueError", floatDtypeMessage(key, v.dtypeName));
  }
  if (diff.shape.length === 0) return fail("IndexError", INDEX_ERROR);
  const n = diff.shape[0] as number;
  for (const key of ["xcoords", "ycoords"]) {
    const v = arr(key) as Extract<RefValue, { kind: "array" }>;
    if (v.shape.length === 0) return fail("IndexError", INDEX_ERROR);
    if (v.shape[0] !== n) return fail("ValueError", lengthMessage(key, v.shape[0] as number, n));
  }
  const g = input.gridsize ?? 1;
  if (g > 1) {
    const k = input.neighborCount;
    if (k === undefined || k === null) return fail("ValueError", neighborRequiredMessage(g));
    if (k < g * g) return fail("ValueError", neighborTooSmallMessage(k, g));
  }
  return { status: "pass" };
}
