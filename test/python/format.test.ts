import { describe, expect, it } from "vitest";
import { parsePyFloat, pyExp0, pyFloatStr } from "../../src/python/repr.js";
import { PyDict, pyFloat, pyJsonDump, pyJsonParse, PyJsonSyntaxError } from "../../src/python/json.js";
import { pyJoin, pyName, pyParent, pyPath } from "../../src/python/path.js";

describe("pyExp0 (format(x, '.0e'))", () => {
  // §6.1 vectors plus ties and extremes checked against CPython.
  const vectors: [number, string][] = [
    [1000, "1e+03"],
    [1e4, "1e+04"],
    [1e5, "1e+05"],
    [1500, "2e+03"],
    [2500, "2e+03"],
    [3500, "4e+03"],
    [999.9, "1e+03"],
    [250, "2e+02"],
    [0.0015, "2e-03"],
    [1e16, "1e+16"],
    [0.25, "2e-01"],
    [9.5, "1e+01"],
    [6.5, "6e+00"],
    [7.5, "8e+00"],
    [0.35, "3e-01"],
    [0.45, "5e-01"],
    [4.5e-5, "5e-05"],
    [8.5e22, "8e+22"],
    [5e-324, "5e-324"],
    [1.7976931348623157e308, "2e+308"],
    [-2500, "-2e+03"],
    [0, "0e+00"],
    [-0, "-0e+00"],
    [12345.678, "1e+04"],
  ];
  it.each(vectors)("formats %s as %s", (x, want) => {
    expect(pyExp0(x)).toBe(want);
  });
  it("renders non-finite values like Python", () => {
    expect(pyExp0(NaN)).toBe("nan");
    expect(pyExp0(Infinity)).toBe("inf");
    expect(pyExp0(-Infinity)).toBe("-inf");
  });
});

describe("pyFloatStr (repr(float))", () => {
  const vectors: [number, string][] = [
    [1000, "1000.0"],
    [1e4, "10000.0"],
    [1e5, "100000.0"],
    [0.7, "0.7"],
    [1.5, "1.5"],
    [-64, "-64.0"],
    [(1.0 - 0.7) * 128, "38.400000000000006"],
    [1e16, "1e+16"],
    [1e15, "1000000000000000.0"],
    [1e-5, "1e-05"],
    [0.0001, "0.0001"],
    [1e22, "1e+22"],
    [123456789012345678, "1.2345678901234568e+17"],
    [4.5e-5, "4.5e-05"],
    [0, "0.0"],
    [-0, "-0.0"],
    [1500.7, "1500.7"],
  ];
  it.each(vectors)("formats %s as %s", (x, want) => {
    expect(pyFloatStr(x)).toBe(want);
  });
  it("renders non-finite values like Python", () => {
    expect([pyFloatStr(NaN), pyFloatStr(Infinity), pyFloatStr(-Infinity)]).toEqual(["nan", "inf", "-inf"]);
  });
});

describe("pyJsonDump (json.dumps(obj, indent=2))", () => {
  it("matches CPython's output byte for byte", () => {
    // Produced by: json.dumps({'a':[1.0,nan,inf,-inf,'é\x01😀',[],{}],'b':{},'c':1e16,'d':1e-5,
    // 'e':0.0001,'f':-0.0,'g':1e22,'h':123456789012345678.0,'i':3}, indent=2)
    const want = [
      "{",
      '  "a": [',
      "    1.0,",
      "    NaN,",
      "    Infinity,",
      "    -Infinity,",
      '    "\\u00e9\\u0001\\ud83d\\ude00",',
      "    [],",
      "    {}",
      "  ],",
      '  "b": {},',
      '  "c": 1e+16,',
      '  "d": 1e-05,',
      '  "e": 0.0001,',
      '  "f": -0.0,',
      '  "g": 1e+22,',
      '  "h": 1.2345678901234568e+17,',
      '  "i": 3',
      "}",
    ].join("\n");
    const got = pyJsonDump({
      a: [pyFloat(1), NaN, Infinity, -Infinity, "é\u0001😀", [], {}],
      b: {},
      c: pyFloat(1e16),
      d: 1e-5,
      e: 0.0001,
      f: -0,
      g: pyFloat(1e22),
      h: pyFloat(123456789012345678),
      i: 3,
    });
    expect(got).toBe(want);
  });
  it("renders a PyDict in insertion order with json.dumps' key conversion, and bigints exactly", () => {
    // Produced by: json.dumps({'b': 1, '10': 2**70, 3: 'x', 2.5: None, None: -2**64, True: [],
    // -7: {}, 1e-7: 's', 'z': {'9': 1, 'a': 2}}) (a JS object would move "10", "9" first)
    const d = new PyDict([
      ["b", 1n],
      ["10", 2n ** 70n],
      [3n, "x"],
      [pyFloat(2.5), null],
      [null, -(2n ** 64n)],
      [true, []],
      [-7n, {}],
      [pyFloat(1e-7), "s"],
      [
        "z",
        new PyDict([
          ["9", 1n],
          ["a", 2n],
        ]),
      ],
    ]);
    expect(pyJsonDump(d, null)).toBe(
      '{"b": 1, "10": 1180591620717411303424, "3": "x", "2.5": null, "null": -18446744073709551616, "true": [], "-7": {}, "1e-07": "s", "z": {"9": 1, "a": 2}}',
    );
    expect(
      pyJsonDump(
        new PyDict([
          ["9", 1n],
          ["a", new PyDict([])],
        ]),
        2,
      ),
    ).toBe('{\n  "9": 1,\n  "a": {}\n}');
  });
  it("renders the compact form with indent null", () => {
    expect(pyJsonDump({ a: [1, pyFloat(2)], b: null }, null)).toBe('{"a": [1, 2.0], "b": null}');
  });
});

describe("pyJsonParse", () => {
  it("accepts NaN, Infinity and -Infinity tokens", () => {
    const v = pyJsonParse('{"final_loss": NaN, "x": [Infinity, -Infinity, 1.0e3, "a\\u00e9"]}') as {
      final_loss: number;
      x: [number, number, number, string];
    };
    expect(Number.isNaN(v.final_loss)).toBe(true);
    expect(v.x).toEqual([Infinity, -Infinity, 1000, "aé"]);
  });
  it("round-trips pyJsonDump output", () => {
    const text = pyJsonDump({ dose: pyFloat(1000), jobs: [{ loss: NaN }], s: 'q"\\' });
    const v = pyJsonParse(text) as { dose: number; jobs: { loss: number }[]; s: string };
    expect(v.dose).toBe(1000);
    expect(Number.isNaN(v.jobs[0]?.loss)).toBe(true);
    expect(v.s).toBe('q"\\');
  });
  it("rejects malformed text with PyJsonSyntaxError", () => {
    for (const bad of ["{", "[1,]", "{'a': 1}", "nan", "1 2", '"\\x"']) {
      expect(() => pyJsonParse(bad), bad).toThrow(PyJsonSyntaxError);
    }
  });
});

describe("parsePyFloat (float(text))", () => {
  it("parses the CLI's dose spellings", () => {
    expect(parsePyFloat("1000")).toBe(1000);
    expect(parsePyFloat("1e3")).toBe(1000);
    expect(parsePyFloat("1E+03")).toBe(1000);
    expect(parsePyFloat(" 1_000.0 ")).toBe(1000);
    expect(parsePyFloat(".5")).toBe(0.5);
    expect(parsePyFloat("-inf")).toBe(-Infinity);
  });
  it("rejects what Python's float() rejects", () => {
    for (const bad of ["", "1e", "0x10", "1__0", "abc", "1,5", "_1"]) expect(parsePyFloat(bad), bad).toBeUndefined();
  });
});

describe("pyJoin / pyPath (pathlib semantics)", () => {
  it("collapses separators, drops '.', keeps '..'", () => {
    expect(pyJoin("a//b/", "./c", "d/")).toBe("a/b/c/d");
    expect(pyJoin("root/../x", "dose_1000", "patched_train.npz")).toBe("root/../x/dose_1000/patched_train.npz");
    expect(pyPath("./a/./b/")).toBe("a/b");
    expect(pyPath("")).toBe(".");
    expect(pyJoin(".", "a")).toBe("a");
  });
  it("lets an absolute part replace what came before, and keeps relative roots relative", () => {
    expect(pyJoin("a", "/b", "c")).toBe("/b/c");
    expect(pyJoin("rel", "x")).toBe("rel/x");
    expect(pyPath("//a//b")).toBe("//a/b");
    expect(pyPath("///a")).toBe("/a");
  });
  it("gives parent and name like PurePosixPath", () => {
    expect(pyParent("a/b/train.log")).toBe("a/b");
    expect(pyParent("train.log")).toBe(".");
    expect(pyParent("/x")).toBe("/");
    expect(pyName("a/b/train.log")).toBe("train.log");
  });
});
