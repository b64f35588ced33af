// npzguard's own DEFLATE decoder (the default inflate) on numpy-written members of every numeric
// dtype, large enough for dynamic Huffman blocks, long matches and many refills: array() of each
// np.savez_compressed member equals the bytes numpy itself wrote (tobytes() of the array, read
// through the STORED twin file, which involves no inflate), and scan() verifies the CRC.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { openNpz } from "../../src/index.js";
import { bytesOf, tempDir } from "../helpers/npz-writer.js";

const DTYPES = ["|b1", "|i1", "|u1", "<i2", ">i2", "<u2", "<i4", ">i4", "<u4", "<i8", "<u8", "<f2", "<f4", ">f4", "<f8", "<c8", ">c8", "<c16"];

const tmp = tempDir("npzguard-inflate-numpy-");
let compressed = "";
let keys: string[] = [];

beforeAll(() => {
  const script = `
import json, sys, numpy as np
rng = np.random.default_rng(12)
out = sys.argv[1]
arrays = {}
n = 200_000
for i, d in enumerate(${JSON.stringify(DTYPES)}):
    dt = np.dtype(d)
    if dt.kind == "b":
        a = rng.random(n) < 0.3
    elif dt.kind in "iu":
        info = np.iinfo(dt)
        a = rng.integers(max(info.min, -1000), min(info.max, 1000), n).astype(dt)
        a[n // 2:] = np.repeat(a[: n // 20], 10)[: n - n // 2]  # runs and long matches
    elif dt.kind == "f":
        a = rng.standard_normal(n).astype(dt)  # literal-heavy noise
        a[: n // 4] = np.round(a[: n // 4], 1)
    else:
        a = (rng.standard_normal(n) + 1j * rng.standard_normal(n)).astype(dt)
    arrays["a%02d" % i] = a.reshape(400, 500) if i % 3 == 0 else a
np.savez_compressed(out + "/c.npz", **arrays)
for k, a in arrays.items():
    open(out + "/" + k + ".raw", "wb").write(a.tobytes())
print(json.dumps(sorted(arrays)))
`;
  keys = JSON.parse(execFileSync("python3", ["-c", script, tmp.dir], { encoding: "utf8" })) as string[];
  compressed = path.join(tmp.dir, "c.npz");
});
afterAll(() => tmp.cleanup());

describe("NpzFile#array() of np.savez_compressed members (npzguard's decoder)", () => {
  it("every dtype: the inflated bytes equal numpy's tobytes(), and the CRC verifies", async () => {
    expect(keys).toHaveLength(DTYPES.length);
    using npz = openNpz(compressed);
    for (const [i, key] of keys.entries()) {
      const h = npz.header(key);
      expect(h.compression).not.toBe("stored");
      const want = readFileSync(path.join(tmp.dir, `${key}.raw`));
      const got = npz.array(key, { copy: true });
      // Non-native byte order comes back swapped into native order; compare numpy's raw bytes
      // with ours swapped back.
      let bytes = bytesOf(got.data as ArrayBufferView);
      const unit = DTYPES[i]!.includes("c") ? h.itemsize / 2 : h.itemsize;
      if (DTYPES[i]!.startsWith(">") && unit > 1) {
        const b = Uint8Array.from(bytes);
        for (let o = 0; o < b.length; o += unit) b.subarray(o, o + unit).reverse();
        bytes = b;
      }
      expect(bytes.length).toBe(want.length);
      expect(Buffer.compare(Buffer.from(bytes), want)).toBe(0);
      const s = await npz.scan(key);
      expect(s.crcOk).toBe(true);
    }
  });
});
