// CPython-compatible text forms (the one implementation in npzguard, bottom layer, no imports):
// repr() of str and float, format(x, '.0e'), repr() of JSON-ish values, and float() parsing of
// CLI text. Tests compare each against python3 itself (test/python/repr.test.ts).

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
export function pyFloatRepr(x: number): string {
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

/** Python `str(float)`: the same text as `repr(float)` since Python 3.2. */
export const pyFloatStr = pyFloatRepr;

/** Python `repr(bool)`. */
export function pyBool(b: boolean): string {
  return b ? "True" : "False";
}

// str.isprintable() is false for these general categories (space U+0020 excepted).
const NON_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;

/**
 * Python `repr(str)`: single quotes unless the text holds a ' and no ", backslash escapes for
 * \\, the quote, \n \r \t, and every other non-printable character as \xhh, \uhhhh or
 * \Uhhhhhhhh (lone surrogates included, as in CPython).
 */
export function pyStrRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    if (ch === "\\") out += "\\\\";
    else if (ch === quote) out += "\\" + ch;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (cp !== 0x20 && NON_PRINTABLE.test(ch)) {
      if (cp < 0x100) out += "\\x" + cp.toString(16).padStart(2, "0");
      else if (cp < 0x10000) out += "\\u" + cp.toString(16).padStart(4, "0");
      else out += "\\U" + cp.toString(16).padStart(8, "0");
    } else out += ch;
  }
  return out + quote;
}

/** Python repr() of a JSON-ish value (str, None, bool, int/float, list, dict). */
export function pyRepr(v: unknown): string {
  if (v === null || v === undefined) return "None";
  if (typeof v === "string") return pyStrRepr(v);
  if (typeof v === "boolean") return pyBool(v);
  if (typeof v === "number") return Number.isInteger(v) && !Object.is(v, -0) && Math.abs(v) < 1e16 ? String(v) : pyFloatRepr(v);
  if (Array.isArray(v)) return "[" + v.map(pyRepr).join(", ") + "]";
  if (typeof v === "object") {
    return (
      "{" +
      Object.entries(v as Record<string, unknown>)
        .map(([k, x]) => `${pyStrRepr(k)}: ${pyRepr(x)}`)
        .join(", ") +
      "}"
    );
  }
  return String(v);
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
