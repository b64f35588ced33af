// Parallel decoding of one DEFLATE member (native/core/parallel_inflate.cc): on an
// np.savez_compressed file whose members are large enough to be split into chunks (float32 and
// complex64 noise, several MiB compressed each), `check` and `array()` give the same results at
// threads 1 (serial) and 2 (parallel), and those equal numpy's own values and bytes.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { checkFile, openNpz } from "../../src/index.js";
import { bytesOf, tempDir } from "../helpers/npz-writer.js";

const tmp = tempDir("npzguard-parallel-inflate-");
let file = "";
let ref: Record<string, { min: number; max: number; mean: number; nan: number }> = {};

beforeAll(() => {
  const script = `
import json, sys, numpy as np
rng = np.random.default_rng(5)
out = sys.argv[1]
a = rng.standard_normal((40, 128, 512)).astype("<f4")   # 10 MiB, ~9.4 MiB deflated
a[3, 5, 7] = np.nan
a[10] = np.round(a[10], 1)                               # some matches among the literals
b = (rng.standard_normal((24, 128, 256)) + 1j * rng.standard_normal((24, 128, 256))).astype("<c8")
c = rng.standard_normal((20, 256, 256)).astype(">f4")    # big-endian: swapped on copy
arrays = {"diffraction": a, "probeGuess": b, "objectGuess": c}
np.savez_compressed(out + "/big.npz", **arrays)
ref = {}
for k, v in arrays.items():
    open(out + "/" + k + ".raw", "wb").write(v.tobytes())
    r = v.real if v.dtype.kind == "c" else v
    f = r[np.isfinite(r)]
    ref[k] = {"min": float(f.min()), "max": float(f.max()), "mean": float(f.astype(np.float64).mean()), "nan": int(np.isnan(r).sum())}
print(json.dumps(ref))
`;
  ref = JSON.parse(execFileSync("python3", ["-c", script, tmp.dir], { encoding: "utf8" })) as typeof ref;
  file = path.join(tmp.dir, "big.npz");
});
afterAll(() => tmp.cleanup());

describe("parallel inflate of one member", () => {
  it("the members are large enough to be split (>= 4 MiB compressed, DEFLATED)", () => {
    using npz = openNpz(file);
    for (const key of ["diffraction", "probeGuess", "objectGuess"]) {
      const m = npz.header(key);
      expect(m.compression).not.toBe("stored");
      expect(m.compressedSize).toBeGreaterThanOrEqual(4 << 20);
    }
  });

  it("array() at threads 1 and 2: identical bytes, equal to numpy's tobytes()", () => {
    using one = openNpz(file, { threads: 1 });
    using two = openNpz(file, { threads: 2 });
    for (const key of ["diffraction", "probeGuess", "objectGuess"]) {
      const want = readFileSync(path.join(tmp.dir, `${key}.raw`));
      const a = bytesOf(one.array(key, { copy: true }).data as ArrayBufferView);
      const b = bytesOf(two.array(key, { copy: true }).data as ArrayBufferView);
      expect(Buffer.compare(Buffer.from(a), Buffer.from(b))).toBe(0);
      if (key === "objectGuess") {
        // Non-native order comes back in native order: swap numpy's bytes to compare.
        const s = Buffer.from(want);
        s.swap32();
        expect(Buffer.compare(Buffer.from(b), s)).toBe(0);
      } else {
        expect(Buffer.compare(Buffer.from(b), want)).toBe(0);
      }
    }
  });

  it("check at threads 1 and 2: identical reports and statistics, equal to numpy's", async () => {
    const r1 = await checkFile(file, { threads: 1 });
    const r2 = await checkFile(file, { threads: 2 });
    const strip = (r: unknown) => JSON.parse(JSON.stringify(r, (k, v) => (k === "durationMs" || k === "elapsedMs" || k === "seconds" ? undefined : v)));
    expect(strip(r2)).toEqual(strip(r1));
    // Not a study file (the profile's key rules fail); what matters here: every CRC verified,
    // nothing unreadable, the values read.
    expect(r2.readError).toBeUndefined();
    expect(r2.violations.filter((v) => v.rule === "npz/integrity")).toEqual([]);
    expect(r2.mode).toBe("full");
    for (const key of ["diffraction", "probeGuess", "objectGuess"]) {
      const m = r2.members.find((x) => x.key === key);
      expect(m?.crcVerified).toBe(true);
      const st = r2.stats[key];
      if (!st) throw new Error(`no statistics for ${key}`);
      const comp = st.components[0];
      const want = ref[key];
      if (!comp || !want) throw new Error(`no component statistics or numpy reference for ${key}`);
      expect(comp.min).toBeCloseTo(want.min, 6);
      expect(comp.max).toBeCloseTo(want.max, 6);
      expect(comp.sum / comp.finite).toBeCloseTo(want.mean, 6);
      expect(comp.nan).toBe(want.nan);
    }
  });
});
