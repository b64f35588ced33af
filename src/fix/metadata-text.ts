// pickledDict() / withTransformation(): a pickled `_metadata` dict, dumped as json.dumps(d, indent=2).
// appendTransformation(): appends a record to `data_transformations` of a `_metadata` JSON object *textually*, so every
// byte of the original text is kept (JavaScript numbers would turn Python's 1e9 float into the
// int 1000000000; re-serialising would also reorder nothing but change spacing). The text must
// already parse as a JSON object whose data_transformations, if present, is an array.

import { PyDict, type PyDictKey, type PyJsonValue, PyFloat } from "../python/json.js";
import type { PickledValue } from "../types.js";

function toPy(v: PickledValue): PyJsonValue {
  if (typeof v === "number") return new PyFloat(v); // ints arrive as bigint
  if (v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map(toPy);
  return new PyDict(v.entries.map(([k, x]) => [toKey(k), toPy(x)] as const));
}

function toKey(k: PickledValue): PyDictKey {
  if (typeof k === "number") return new PyFloat(k);
  if (k === null || typeof k !== "object") return k;
  throw new TypeError("dict key is a container"); // the walker refuses these already
}

/** A pickled dict as pyJsonDump renders it (keys in order, ints exact, floats as Python floats); null for a non-dict. */
export function pickledDict(v: PickledValue): PyDict | null {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return null;
  return toPy(v) as PyDict;
}

/** `d` with `record` appended to its data_transformations list (created at the end if absent). */
export function withTransformation(d: PyDict, record: PyJsonValue): PyDict {
  const i = d.entries.findIndex(([k]) => k === "data_transformations");
  if (i < 0) return new PyDict([...d.entries, ["data_transformations", [record]]]);
  const list = d.entries[i]![1];
  if (!Array.isArray(list)) throw new TypeError("data_transformations is not a list");
  return new PyDict(d.entries.map((e, j) => (j === i ? ([e[0], [...list, record]] as const) : e)));
}

function skipString(t: string, i: number): number {
  // t[i] === '"'
  for (let j = i + 1; j < t.length; j++) {
    if (t[j] === "\\") j++;
    else if (t[j] === '"') return j + 1;
  }
  throw new SyntaxError("unterminated string");
}

function skipWs(t: string, i: number): number {
  while (i < t.length && " \t\r\n".includes(t[i]!)) i++;
  return i;
}

/** End index (exclusive) of the JSON value starting at i. */
function skipValue(t: string, i: number): number {
  const c = t[i];
  if (c === '"') return skipString(t, i);
  if (c === "{" || c === "[") {
    let depth = 0;
    for (let j = i; j < t.length; j++) {
      const ch = t[j];
      if (ch === '"') {
        j = skipString(t, j) - 1;
      } else if (ch === "{" || ch === "[") depth++;
      else if (ch === "}" || ch === "]") {
        depth--;
        if (depth === 0) return j + 1;
      }
    }
    throw new SyntaxError("unterminated container");
  }
  let j = i;
  while (j < t.length && !",}] \t\r\n".includes(t[j]!)) j++;
  return j;
}

/** `text` with `record` appended to its top-level data_transformations list (created if absent). */
export function appendTransformation(text: string, record: unknown): string {
  const rec = JSON.stringify(record);
  let i = skipWs(text, 0);
  if (text[i] !== "{") throw new SyntaxError("_metadata is not a JSON object");
  const open = i;
  i = skipWs(text, i + 1);
  let members = 0;
  while (text[i] !== "}") {
    if (text[i] !== '"') throw new SyntaxError("expected a key");
    const keyEnd = skipString(text, i);
    const key = JSON.parse(text.slice(i, keyEnd)) as string;
    i = skipWs(text, keyEnd);
    if (text[i] !== ":") throw new SyntaxError("expected ':'");
    const vStart = skipWs(text, i + 1);
    const vEnd = skipValue(text, vStart);
    members++;
    if (key === "data_transformations") {
      if (text[vStart] !== "[") throw new SyntaxError("data_transformations is not a list");
      const close = vEnd - 1; // the closing ']'
      const empty = skipWs(text, vStart + 1) === close;
      return text.slice(0, close) + (empty ? rec : `, ${rec}`) + text.slice(close);
    }
    i = skipWs(text, vEnd);
    if (text[i] === ",") i = skipWs(text, i + 1);
  }
  const entry = `"data_transformations": [${rec}]`;
  return members === 0 ? text.slice(0, open + 1) + entry + text.slice(i) : text.slice(0, i) + `, ${entry}` + text.slice(i);
}
