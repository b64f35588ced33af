// CPython-compatible JSON (bottom layer): `json.dumps(obj, indent=2)` output byte for byte
// (ensure_ascii, ": " separators, floats as repr(float), bare NaN / Infinity), and a reader
// that accepts those bare tokens, which JSON.parse refuses.
import { pyFloatRepr } from "./repr.js";

/** Marks a number that Python holds as a float (rendered `1000.0`, not `1000`) in pyJsonDump. */
export class PyFloat {
  constructor(readonly value: number) {}
}

/** Wraps a number so pyJsonDump renders it as a Python float. */
export function pyFloat(value: number): PyFloat {
  return new PyFloat(value);
}

/** A dict key as json.dumps converts it: str as is, int, float (repr), bool and None as literals. */
export type PyDictKey = string | bigint | PyFloat | boolean | null;

/** A Python dict with its keys in insertion order (a JS object would move integer-like keys first). */
export class PyDict {
  constructor(readonly entries: readonly (readonly [PyDictKey, PyJsonValue])[]) {}
}

/** Values pyJsonDump can render. Plain numbers: integers as ints, others as Python floats; bigint: int. */
export type PyJsonValue = null | boolean | number | bigint | string | PyFloat | PyDict | PyJsonValue[] | { [key: string]: PyJsonValue | undefined };

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
  return pyFloatRepr(x);
}

function dictKey(k: PyDictKey): string {
  if (typeof k === "string") return k;
  if (typeof k === "bigint") return k.toString();
  if (k instanceof PyFloat) return jsonFloat(k.value);
  return k === null ? "null" : k ? "true" : "false";
}

function dumpValue(v: PyJsonValue | undefined, indent: number | null, level: number): string {
  if (v === null || v === undefined) return "null";
  if (v === true) return "true";
  if (v === false) return "false";
  if (typeof v === "string") return jsonString(v);
  if (typeof v === "number") return Number.isInteger(v) && !Object.is(v, -0) ? BigInt(v).toString() : jsonFloat(v);
  if (typeof v === "bigint") return v.toString();
  if (v instanceof PyFloat) return jsonFloat(v.value);
  const pad = indent === null ? "" : "\n" + " ".repeat(indent * (level + 1));
  const end = indent === null ? "" : "\n" + " ".repeat(indent * level);
  const sep = indent === null ? ", " : ",";
  if (Array.isArray(v)) {
    if (v.length === 0) return "[]";
    return "[" + v.map((x) => pad + dumpValue(x, indent, level + 1)).join(sep) + end + "]";
  }
  const entries: (readonly [string, PyJsonValue | undefined])[] =
    v instanceof PyDict ? v.entries.map(([k, x]) => [dictKey(k), x] as const) : Object.entries(v).filter(([, x]) => x !== undefined);
  if (entries.length === 0) return "{}";
  return "{" + entries.map(([k, x]) => pad + jsonString(k) + ": " + dumpValue(x, indent, level + 1)).join(sep) + end + "}";
}

/**
 * Python `json.dumps(obj, indent=2)` (ensure_ascii, `": "` separator, insertion order; a
 * PyDict's non-string keys converted as json.dumps converts them).
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
  constructor(
    message: string,
    readonly offset: number,
  ) {
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
      const c = text[i] as string;
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
