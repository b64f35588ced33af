// Python-parity formatting (study-fly64-dose-overlap.md §6.1, §8.3): `format(x, '.0e')`,
// `repr(float)`, `json.dump(obj, indent=2)` and a JSON reader that accepts the bare NaN /
// Infinity / -Infinity tokens Python's json module writes. Pure functions, no I/O.

/** Marks a number that Python holds as a float (rendered `1000.0`, not `1000`) in pyJsonDump. */
export class PyFloat {
  constructor(readonly value: number) {}
}

/** Wraps a number so pyJsonDump renders it as a Python float. */
export function pyFloat(value: number): PyFloat {
  return new PyFloat(value);
}

function expSuffix(exp: number): string {
  const sign = exp < 0 ? "-" : "+";
  const digits = String(Math.abs(exp));
  return `e${sign}${digits.length < 2 ? "0" + digits : digits}`;
}

/** Exact (mantissa, binary exponent) of a positive finite double: x = m * 2^k. */
function decompose(x: number): { m: bigint; k: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const biased = (hi >>> 20) & 0x7ff;
  const frac = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  if (biased === 0) return { m: frac, k: -1074 };
  return { m: frac | (1n << 52n), k: biased - 1075 };
}

/** True when the positive double x equals exactly (num / 2) * 10^e. */
function equalsHalfTimesPow10(x: number, num: bigint, e: number): boolean {
  const { m, k } = decompose(x);
  // Compare 2 * m * 2^k * 10^-e with num, moving negative powers to the other side.
  let left = 2n * m;
  let right = num;
  if (k >= 0) left <<= BigInt(k);
  else right <<= BigInt(-k);
  if (e <= 0) left *= 10n ** BigInt(-e);
  else right *= 10n ** BigInt(e);
  return left === right;
}

/**
 * Python `format(x, '.0e')`: one significant digit, round-half-even on the exact binary value,
 * explicit exponent sign, at least two exponent digits (`2500` -> `2e+03`, JS gives `3e+3`).
 */
export function pyExp0(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  const neg = x < 0 || Object.is(x, -0);
  const a = Math.abs(x);
  if (a === 0) return (neg ? "-" : "") + "0e+00";
  // ECMAScript toExponential(0) is exact but breaks ties upward; fix ties to even.
  const m = /^(\d)e([+-]\d+)$/.exec(a.toExponential(0));
  if (!m) throw new Error(`unexpected toExponential output for ${a}`);
  let digit = Number(m[1]);
  const exp = Number(m[2]);
  if (digit % 2 === 1 && digit !== 1 && equalsHalfTimesPow10(a, BigInt(2 * digit - 1), exp)) {
    digit -= 1;
  }
  return `${neg ? "-" : ""}${digit}${expSuffix(exp)}`;
}

/**
 * Python `repr(float)` / `str(float)`: shortest round-trip digits, `.0` on integral values,
 * exponent form when the decimal exponent is < -4 or >= 16 (`1e+16`, `1e-05`).
 */
export function pyFloatStr(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const neg = x < 0;
  const m = /^(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(Math.abs(x).toExponential());
  if (!m) throw new Error(`unexpected toExponential output for ${x}`);
  const digits = m[1] + (m[2] ?? "");
  const exp10 = Number(m[3]);
  const decpt = exp10 + 1; // value = 0.<digits> * 10^decpt
  let body: string;
  if (decpt <= -4 || decpt > 16) {
    body = digits.length === 1 ? digits : `${digits[0]}.${digits.slice(1)}`;
    body += expSuffix(exp10);
  } else if (decpt <= 0) {
    body = "0." + "0".repeat(-decpt) + digits;
  } else if (decpt >= digits.length) {
    body = digits + "0".repeat(decpt - digits.length) + ".0";
  } else {
    body = `${digits.slice(0, decpt)}.${digits.slice(decpt)}`;
  }
  return (neg ? "-" : "") + body;
}

/** Python `repr(bool)`. */
export function pyBool(b: boolean): string {
  return b ? "True" : "False";
}

/** Python `repr(str)` for the common case (single quotes unless the text holds one and no double). */
export function pyStrRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    if (ch === "\\") out += "\\\\";
    else if (ch === quote) out += "\\" + ch;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (c < 0x20 || c === 0x7f) out += "\\x" + c.toString(16).padStart(2, "0");
    else out += ch;
  }
  return out + quote;
}

/** Values pyJsonDump can render. Plain numbers: integers as ints, others as Python floats. */
export type PyJsonValue =
  | null
  | boolean
  | number
  | string
  | PyFloat
  | PyJsonValue[]
  | { [key: string]: PyJsonValue | undefined };

function jsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += "\\\\";
    else if (c === 0x0a) out += "\\n";
    else if (c === 0x0d) out += "\\r";
    else if (c === 0x09) out += "\\t";
    else if (c === 0x08) out += "\\b";
    else if (c === 0x0c) out += "\\f";
    else if (c < 0x20 || c > 0x7e) out += "\\u" + c.toString(16).padStart(4, "0");
    else out += s[i];
  }
  return out + '"';
}

function jsonFloat(x: number): string {
  if (Number.isNaN(x)) return "NaN";
  if (x === Infinity) return "Infinity";
  if (x === -Infinity) return "-Infinity";
  return pyFloatStr(x);
}

function dumpValue(v: PyJsonValue | undefined, indent: number | null, level: number): string {
  if (v === null || v === undefined) return "null";
  if (v === true) return "true";
  if (v === false) return "false";
  if (typeof v === "string") return jsonString(v);
  if (typeof v === "number") return Number.isInteger(v) && !Object.is(v, -0) ? BigInt(v).toString() : jsonFloat(v);
  if (v instanceof PyFloat) return jsonFloat(v.value);
  const pad = indent === null ? "" : "\n" + " ".repeat(indent * (level + 1));
  const end = indent === null ? "" : "\n" + " ".repeat(indent * level);
  const sep = indent === null ? ", " : ",";
  if (Array.isArray(v)) {
    if (v.length === 0) return "[]";
    return "[" + v.map((x) => pad + dumpValue(x, indent, level + 1)).join(sep) + end + "]";
  }
  const entries = Object.entries(v).filter(([, x]) => x !== undefined);
  if (entries.length === 0) return "{}";
  return "{" + entries.map(([k, x]) => pad + jsonString(k) + ": " + dumpValue(x, indent, level + 1)).join(sep) + end + "}";
}

/**
 * Python `json.dumps(obj, indent=2)` (ensure_ascii, `": "` separator, insertion order).
 * `indent: null` gives the compact `json.dumps(obj)` form. Keys whose value is undefined are
 * omitted (JS convention).
 */
export function pyJsonDump(value: PyJsonValue, indent: number | null = 2): string {
  return dumpValue(value, indent, 0);
}

/** JSON value as read by pyJsonParse. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** SyntaxError raised by pyJsonParse, with the offset of the offending character. */
export class PyJsonSyntaxError extends SyntaxError {
  override readonly name = "PyJsonSyntaxError";
  constructor(message: string, readonly offset: number) {
    super(`${message} at offset ${offset}`);
  }
}

/** JSON.parse that also accepts Python's NaN, Infinity and -Infinity tokens. */
export function pyJsonParse(text: string): JsonValue {
  let i = 0;
  const fail = (msg: string): never => {
    throw new PyJsonSyntaxError(msg, i);
  };
  const ws = () => {
    while (i < text.length && (text[i] === " " || text[i] === "\t" || text[i] === "\n" || text[i] === "\r")) i++;
  };
  const lit = (word: string): boolean => {
    if (text.startsWith(word, i)) {
      i += word.length;
      return true;
    }
    return false;
  };
  const parseString = (): string => {
    const start = i;
    i++; // opening quote
    let out = "";
    for (;;) {
      if (i >= text.length) return fail("unterminated string");
      const c = text[i];
      if (c === '"') {
        i++;
        return out;
      }
      if (c === "\\") {
        const e = text[i + 1];
        const map: Record<string, string> = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };
        if (e !== undefined && e in map) {
          out += map[e];
          i += 2;
        } else if (e === "u" && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
          out += String.fromCharCode(parseInt(text.slice(i + 2, i + 6), 16));
          i += 6;
        } else {
          return fail("bad escape");
        }
      } else if (c.charCodeAt(0) < 0x20) {
        return fail(`control character in string starting at ${start}`);
      } else {
        out += c;
        i++;
      }
    }
  };
  const parseValue = (): JsonValue => {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      const obj: { [key: string]: JsonValue } = {};
      ws();
      if (text[i] === "}") {
        i++;
        return obj;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail("expected a key");
        const k = parseString();
        ws();
        if (text[i] !== ":") fail("expected ':'");
        i++;
        obj[k] = parseValue();
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "}") {
          i++;
          return obj;
        }
        fail("expected ',' or '}'");
      }
    }
    if (c === "[") {
      i++;
      const arr: JsonValue[] = [];
      ws();
      if (text[i] === "]") {
        i++;
        return arr;
      }
      for (;;) {
        arr.push(parseValue());
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "]") {
          i++;
          return arr;
        }
        fail("expected ',' or ']'");
      }
    }
    if (c === '"') return parseString();
    if (lit("true")) return true;
    if (lit("false")) return false;
    if (lit("null")) return null;
    if (lit("NaN")) return NaN;
    if (lit("Infinity")) return Infinity;
    if (lit("-Infinity")) return -Infinity;
    const m = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m) return fail("unexpected token");
    i += m[0].length;
    return Number(m[0]);
  };
  const v = parseValue();
  ws();
  if (i !== text.length) fail("trailing data");
  return v;
}

/**
 * Python `float(text)` for CLI arguments: decimal and exponent forms (`1000`, `1e3`, `.5`,
 * `1_000`), `inf`/`nan` with optional sign, surrounding whitespace. Returns undefined if invalid.
 */
export function parsePyFloat(text: string): number | undefined {
  const t = text.trim();
  if (/^[+-]?(inf|infinity)$/i.test(t)) return t.startsWith("-") ? -Infinity : Infinity;
  if (/^[+-]?nan$/i.test(t)) return NaN;
  const digits = "\\d(?:_?\\d)*";
  const re = new RegExp(`^[+-]?(?:${digits}(?:\\.(?:${digits})?)?|\\.${digits})(?:[eE][+-]?${digits})?$`);
  if (!re.test(t)) return undefined;
  return Number(t.replace(/_/g, ""));
}
