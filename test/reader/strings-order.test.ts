// NpzFile#strings(): items come back in C (row-major) order for every encoding — numpy pickles
// object arrays row-major, and column-major <U/|S arrays are reordered to match — while
// NpzFile#array() keeps storage order for U/S like every other dtype.
import { beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { openNpz } from "../../src/index.js";

// Fortran-ordered U, S and object arrays written by numpy (test/fixtures/reader/strings-order.npz,
// test/fixtures/gen_inputs.py); numpy loads them here and says what C and storage order are.
const FILE = fileURLToPath(new URL("../fixtures/reader/strings-order.npz", import.meta.url));
let expected: Record<string, (string | null)[]> = {};
beforeAll(() => {
  expected = JSON.parse(
    execFileSync(
      "python3",
      [
        "-c",
        String.raw`
import sys, json, numpy as np
with np.load(sys.argv[1], allow_pickle=True) as z:
    u, s, o = z["u"], z["s"], z["o"]
assert u.flags.f_contiguous and not u.flags.c_contiguous and s.flags.f_contiguous and not s.flags.c_contiguous
print(json.dumps({k: [None if v is None else (v.decode() if isinstance(v, bytes) else str(v)) for v in a.flatten(order="C").tolist()]
           for k, a in dict(u=u, s=s, o=o).items()} |
          {k + "_storage": [v.decode() if isinstance(v, bytes) else str(v) for v in a.flatten(order="K").tolist()]
           for k, a in dict(u=u, s=s).items()}))
`,
        FILE,
      ],
      { encoding: "utf8" },
    ),
  ) as Record<string, (string | null)[]>;
});

describe("NpzFile#strings()", () => {
  it("returns C-order items for Fortran-ordered U, S and object arrays", () => {
    const npz = openNpz(FILE);
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
