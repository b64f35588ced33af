// `npzguard fix` in bounded memory: a deflated legacy (H, W, M) uint16 stack of 256 MiB (its
// float32 result is 512 MiB) is transposed, converted and re-deflated by the CLI in a child
// process whose peak RSS (getrusage of the child, bench/rusage.py) must stay <= 256 MB.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildPrivateDist } from "../helpers/private-dist.js";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), "npzguard-fixmem-"));
let dist = "";

beforeAll(() => {
  dist = buildPrivateDist("fix");
  execFileSync("python3", [
    "-c",
    `
import sys, numpy as np
d = sys.argv[1]
M, N = 8192, 128
rng = np.random.default_rng(1)
c = np.full((N, N, M), 7, dtype=np.uint16)
c[:, :, ::97] = 3
x = rng.uniform(100, 300, M)
np.savez_compressed(d + "/big.npz", diffraction=c, probeGuess=np.ones((N, N), np.complex64),
    objectGuess=np.ones((464, 464), np.complex64), xcoords=x, ycoords=x[::-1].copy(),
    xcoords_start=x, ycoords_start=x[::-1].copy())
`,
    dir,
  ]);
}, 300_000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  if (dist) rmSync(dist, { recursive: true, force: true });
});

describe("npzguard fix memory bound", () => {
  it("fixes a 256 MiB legacy uint16 stack (512 MiB of float32 out) with peak RSS <= 256 MB", () => {
    const main = path.join(dist, "cli", "main.js");
    expect(existsSync(main)).toBe(true);
    const stat = path.join(dir, "rusage.txt");
    const out = path.join(dir, "big.fixed.npz");
    const r = spawnSync(
      "python3",
      [path.join(REPO, "bench", "rusage.py"), stat, process.execPath, main, "fix", path.join(dir, "big.npz"), "--out", out, "--json"],
      { encoding: "utf8", maxBuffer: 64 << 20 },
    );
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const doc = JSON.parse(r.stdout) as { written: boolean; remedies: { rule: string }[]; verdict: { ok: boolean } };
    expect(doc.written).toBe(true);
    expect(doc.verdict.ok).toBe(true);
    expect(doc.remedies.map((x) => x.rule)).toEqual(expect.arrayContaining(["data001/legacy-layout", "data001/diffraction-dtype"]));
    const kb = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(readFileSync(stat, "utf8"))![1]);
    expect(kb).toBeGreaterThan(10_000); // the measurement measured something
    expect(kb / 1024).toBeLessThanOrEqual(256);
    // numpy reads the result as the remedy it asked for (spot check: shape, dtype, values)
    const check = execFileSync(
      "python3",
      [
        "-c",
        `
import sys, numpy as np
z = np.load(sys.argv[1])
d = z["diffraction"]
ok = d.shape == (8192, 128, 128) and d.dtype == np.float32 and d.flags["C_CONTIGUOUS"]
ok = ok and np.all(d[::97] == np.float32(np.sqrt(3))) and np.all(d[1] == np.float32(np.sqrt(7)))
print("ok" if ok else "bad")
`,
        out,
      ],
      { encoding: "utf8" },
    );
    expect(check.trim()).toBe("ok");
  }, 300_000);
});
