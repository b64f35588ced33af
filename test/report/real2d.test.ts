// Probe/object pictures of a large 2-D member read only the rows the picture samples (rowSet);
// the sampled values must equal numpy's amplitude and phase at those positions.
import { afterAll, beforeAll, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { openNpz } from "../../src/npz.js";
import { real2d } from "../../src/report/html.js";

let dir = "";
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), "npzguard-real2d-"));
  execFileSync("python3", [
    "-c",
    String.raw`
import numpy as np, sys
rng = np.random.default_rng(5)
o = (rng.standard_normal((301, 257)) + 1j * rng.standard_normal((301, 257))).astype(np.complex64)
np.savez_compressed(sys.argv[1], objectGuess=o, real=rng.standard_normal((301, 257)))
`,
    path.join(dir, "o.npz"),
  ]);
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it("sampled rows of a complex and a real 2-D member equal the full array at the sampled positions", () => {
  using npz = openNpz(path.join(dir, "o.npz"));
  for (const key of ["objectGuess", "real"]) {
    const full = npz.array(key).data as Float32Array | Float64Array;
    const im = real2d(npz, key, 64)!; // step ceil(301/64) = 5
    expect([im.h, im.w]).toEqual([301, 257]);
    const c = key === "objectGuess";
    for (let y = 0; y < 301; y += 5) {
      for (let x = 0; x < 257; x += 5) {
        const i = y * 257 + x;
        const want = c ? Math.hypot(full[2 * i]!, full[2 * i + 1]!) : full[i]!;
        expect(im.amp(i), `${key} amp ${y},${x}`).toBeCloseTo(want, 5);
        if (c) expect(im.phase!(i), `phase ${y},${x}`).toBeCloseTo(Math.atan2(full[2 * i + 1]!, full[2 * i]!), 5);
      }
    }
  }
});
