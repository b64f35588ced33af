// Probe/object pictures of a large 2-D member read only the rows the picture samples (rowSet);
// the sampled values must equal the amplitude and phase of the full array (read whole) at those
// positions.
import { afterAll, beforeAll, expect, it } from "vitest";
import { openNpz } from "../../src/npz.js";
import { real2d } from "../../src/report/html.js";
import { npy, tempDir, zip } from "../helpers/npz-writer.js";

/** Seeded standard-normal values (xorshift32 + Box-Muller): varied signs and magnitudes. */
function normals(n: number, seed: number): number[] {
  let s = seed >>> 0 || 1;
  const u = (): number => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s + 1) / 4294967297; // (0, 1)
  };
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u()));
  return out;
}

// A 301x257 complex64 `objectGuess` and a float64 `real`, both DEFLATED (as savez_compressed writes
// them), built with the test NPZ writer.
let tmp: ReturnType<typeof tempDir> | undefined;
let file = "";
beforeAll(() => {
  tmp = tempDir("npzguard-real2d-");
  const n = 301 * 257;
  const o = Float32Array.from(normals(2 * n, 5));
  const r = Float64Array.from(normals(n, 7));
  const { bytes } = zip([
    { name: "objectGuess.npy", data: npy(o, { descr: "<c8", shape: [301, 257] }), method: 8 },
    { name: "real.npy", data: npy(r, { descr: "<f8", shape: [301, 257] }), method: 8 },
  ]);
  file = tmp.write("o.npz", bytes);
});
afterAll(() => tmp?.cleanup());

it("sampled rows of a complex and a real 2-D member equal the full array at the sampled positions", () => {
  using npz = openNpz(file);
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
