// NpzFile#strings(): items come back in C (row-major) order for every encoding — numpy pickles
// object arrays row-major, and column-major <U/|S arrays are reordered to match — while
// NpzFile#array() keeps storage order for U/S like every other dtype.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { openNpz } from "../../src/index.js";

let dir = "";
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), "npzguard-strorder-"));
  // numpy writes the arrays and says what C order is: python3 + numpy are required (CI has them).
  execFileSync("python3", [
    "-c",
    String.raw`
import sys, json, numpy as np
d = sys.argv[1]
u = np.asfortranarray(np.array([["a", "bb", "c"], ["dd", "e", "ff"]]))
s = np.asfortranarray(np.array([[b"x", b"yy"], [b"zz", b"w"], [b"q", b"rr"]]))
o = np.array([["p", None], ["r", "s"]], dtype=object).T.copy(order="F")
np.savez(d + "/s.npz", u=u, s=s, o=o)
json.dump({k: [None if v is None else (v.decode() if isinstance(v, bytes) else str(v)) for v in a.flatten(order="C").tolist()]
           for k, a in dict(u=u, s=s, o=o).items()} |
          {k + "_storage": [v.decode() if isinstance(v, bytes) else str(v) for v in a.flatten(order="K").tolist()]
           for k, a in dict(u=u, s=s).items()}, open(d + "/expected.json", "w"))
`,
    dir,
  ]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("NpzFile#strings()", () => {
  it("returns C-order items for Fortran-ordered U, S and object arrays", () => {
    const expected = JSON.parse(readFileSync(path.join(dir, "expected.json"), "utf8")) as Record<string, (string | null)[]>;
    const npz = openNpz(path.join(dir, "s.npz"));
    try {
      for (const key of ["u", "s", "o"]) {
        expect(npz.strings(key).items, key).toEqual(expected[key]);
      }
      // array() stays in storage order (column-major here), like numeric arrays.
      expect(npz.header("u").fortranOrder).toBe(true);
      expect(npz.array("u").data).toEqual(expected.u_storage);
      expect(npz.array("s").data).toEqual(expected.s_storage);
    } finally {
      npz.close();
    }
  });
});
