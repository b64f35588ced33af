// The Python-compat module against CPython itself: every value below is formatted by python3 in
// one process and by src/python/*.ts, and the texts must be identical. Edge cases: exponent
// thresholds, -0.0, nan/inf, subnormals, round-half-even of format(x, '.0e'), control and
// non-printable characters (C0, DEL, C1 such as U+0085, NBSP, line separators, format
// characters, private use), non-BMP characters, lone surrogates, quote selection.
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { pyExp0, pyFloatRepr, pyRepr, pyStrRepr } from "../../src/python/repr.js";
import { pyFloat, pyJsonDump } from "../../src/python/json.js";

const FLOATS = [
  0,
  -0,
  1,
  -1,
  0.1,
  2.5,
  1e15,
  1e16,
  9999999999999998,
  1e20,
  -1e20,
  123456789012345678,
  1e21,
  1e22,
  1e-4,
  1e-5,
  0.00012345,
  1.5e-7,
  5e-324,
  2.2250738585072014e-308,
  1.7976931348623157e308,
  NaN,
  Infinity,
  -Infinity,
  1 / 3,
  100,
  1e100,
  3.14159e-10,
];
const EXP0 = [2500, 1500, 3500, 0.5, 1.5, 25, 35, 3.5e-7, 9.5, 95, 1e3, 1e4, 1e5, 0, -0, -2500, 5e-324, 1.7976931348623157e308];
const CHARS = [
  0x00, 0x07, 0x1f, 0x20, 0x7e, 0x7f, 0x80, 0x85, 0x9f, 0xa0, 0xad, 0xe9, 0x2028, 0x2029, 0x200b, 0x200e, 0xfeff, 0xe000, 0x3000, 0x1680, 0xd800, 0xdfff,
  0x1f600, 0xe0001, 0x10ffff, 0xfffe, 0x27, 0x22, 0x5c, 0x0a, 0x0d, 0x09,
];
const STRINGS = [
  "",
  "plain",
  "it's",
  'say "hi"',
  `both ' and "`,
  "back\\slash",
  "tab\there",
  "new\nline",
  "\u0085nel",
  "é and ü",
  "emoji 😀",
  ...CHARS.map((c) => `a${String.fromCodePoint(c)}b`),
];

const PY = String.raw`
import json, sys
spec = json.loads(sys.stdin.read())
floats = [float.fromhex(h) for h in spec["floats"]]
out = {
  "repr": [repr(x) for x in floats],
  "exp0": [format(float.fromhex(h), ".0e") for h in spec["exp0"]],
  "str": [repr("".join(chr(c) for c in cps)) for cps in spec["strings"]],
  "json": json.dumps({"s": ["".join(chr(c) for c in cps) for cps in spec["strings"]], "f": [x for x in floats]}, indent=2),
  "lists": repr([["".join(chr(c) for c in cps), float.fromhex(h), None, True] for cps, h in zip(spec["strings"], spec["floats"])]),
}
print(json.dumps(out))
`;

function hex(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  // Exact hex form via the bits.
  const v = new DataView(new ArrayBuffer(8));
  v.setFloat64(0, x);
  const bits = v.getBigUint64(0);
  const sign = bits >> 63n ? "-" : "";
  const e = Number((bits >> 52n) & 0x7ffn);
  const m = bits & ((1n << 52n) - 1n);
  if (e === 0 && m === 0n) return `${sign}0x0.0p+0`;
  if (e === 0) return `${sign}0x0.${m.toString(16).padStart(13, "0")}p-1022`;
  return `${sign}0x1.${m.toString(16).padStart(13, "0")}p${e - 1023 >= 0 ? "+" : ""}${e - 1023}`;
}
const codepoints = (s: string): number[] => {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.codePointAt(i) as number;
    out.push(c);
    if (c > 0xffff) i++;
  }
  return out;
};

const python = JSON.parse(
  execFileSync("python3", ["-c", PY], {
    input: JSON.stringify({ floats: FLOATS.map(hex), exp0: EXP0.map(hex), strings: STRINGS.map(codepoints) }),
    encoding: "utf8",
  }),
) as { repr: string[]; exp0: string[]; str: string[]; json: string; lists: string };

describe("src/python against CPython", () => {
  it("repr(float)", () => {
    expect(FLOATS.map(pyFloatRepr)).toEqual(python.repr);
  });
  it("format(x, '.0e')", () => {
    expect(EXP0.map(pyExp0)).toEqual(python.exp0);
  });
  it("repr(str): escapes, quote choice, non-printable and non-BMP characters, lone surrogates", () => {
    const ours = STRINGS.map(pyStrRepr);
    for (let i = 0; i < STRINGS.length; i++) expect([i, ours[i]]).toEqual([i, python.str[i]]);
  });
  it("json.dumps(indent=2): ensure_ascii strings and float reprs", () => {
    expect(pyJsonDump({ s: STRINGS, f: FLOATS.map(pyFloat) }, 2)).toBe(python.json);
  });
  it("repr() of lists mixing str, float, None and bool", () => {
    const lists = STRINGS.slice(0, FLOATS.length).map((s, i) => [s, FLOATS[i], null, true]);
    // Python floats are floats even when integral: repr 1.0, not 1.
    const ours = "[" + lists.map((l) => `[${pyStrRepr(l[0] as string)}, ${pyFloatRepr(l[1] as number)}, ${pyRepr(null)}, ${pyRepr(true)}]`).join(", ") + "]";
    expect(ours).toBe(python.lists);
  });
});
