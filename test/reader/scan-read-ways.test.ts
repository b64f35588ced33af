// A STORED scan reads each 32 MiB block through a SIGBUS-guarded mapping or with pread, whichever
// has cost the process less CPU time per byte (native/core/stored_io.cc); NPZGUARD_SCAN_READ pins
// the way. The way must change speed only: here every member of numpy-written files is scanned in
// child processes (the way is fixed per process) with each way pinned and with the measured
// choice, at 1 and 2 threads, and every result must be identical, with the statistics numpy
// computes and every CRC verdict (a flipped byte is found whichever way reads it).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type ThreadsFixtures, writeThreadsFixtures } from "../helpers/threads-fixtures.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

let fx: ThreadsFixtures;
beforeAll(() => {
  fx = writeThreadsFixtures();
}, 120_000);
afterAll(() => fx?.cleanup());

interface Scan {
  key: string;
  threads: number;
  crcChecked: boolean;
  crcOk: boolean;
  bytesRead: number;
  stats: unknown;
}

/** Scans every member of file at 1 and 2 threads in a child with NPZGUARD_SCAN_READ=way. */
function scanAll(file: string, way: "map" | "pread" | ""): Scan[] {
  const script = `
    const { openNpz } = await import(${JSON.stringify(path.join(root, "dist", "index.js"))});
    const out = [];
    for (const threads of [1, 2]) {
      const npz = openNpz(process.argv[1], { threads });
      for (const m of npz.members()) {
        const r = await npz.scan(m.key, { crc: true, stats: true });
        out.push({ key: m.key, threads, crcChecked: r.crcChecked, crcOk: r.crcOk, bytesRead: r.bytesRead, stats: r.stats });
      }
      npz.close();
    }
    process.stdout.write(JSON.stringify(out));
  `;
  const env = { ...process.env, NPZGUARD_SCAN_READ: way };
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", script, file], { encoding: "utf8", env, timeout: 60_000 });
  expect(r.signal, r.stderr).toBeNull();
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Scan[];
}

/** numpy's own counts for diffraction: NaN, +Inf, -Inf, negatives, zeros, finite min and max. */
function numpyDiffraction(file: string): number[] {
  const py = `
import sys, numpy as np
d = np.load(sys.argv[1])["diffraction"]
f = d[np.isfinite(d)]
print(int(np.isnan(d).sum()), int(np.isposinf(d).sum()), int(np.isneginf(d).sum()), int((d < 0).sum()), int((d == 0).sum()), float(f.min()), float(f.max()))
`;
  const r = spawnSync("python3", ["-c", py, file], { encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.trim().split(" ").map(Number);
}

describe("STORED scans: a mapping, pread and the measured choice give identical results", () => {
  it("on np.savez output: same CRC verdicts and statistics every way, at 1 and 2 threads, and numpy's counts", () => {
    const pread = scanAll(fx.stored, "pread");
    const map = scanAll(fx.stored, "map");
    const chosen = scanAll(fx.stored, "");
    expect(pread.length).toBeGreaterThanOrEqual(12);
    expect(map).toEqual(pread);
    expect(chosen).toEqual(pread);
    for (const s of pread) {
      expect(s.crcChecked, s.key).toBe(true);
      expect(s.crcOk, s.key).toBe(true);
    }
    // The member split into several blocks (75 MiB: three 32 MiB blocks, two parts at 2 threads).
    const d = pread.find((s) => s.key === "diffraction" && s.threads === 2)!;
    expect(d.bytesRead).toBeGreaterThan(64 << 20);
    const c = (d.stats as { components: { nan: number; posInf: number; negInf: number; negative: number; zero: number; min: number; max: number }[] })
      .components[0]!;
    const [nan, posInf, negInf, negative, zero, min, max] = numpyDiffraction(fx.stored);
    expect([c.nan, c.posInf, c.negInf, c.negative, c.zero]).toEqual([nan, posInf, negInf, negative, zero]);
    expect(c.min).toBeCloseTo(min!, 5);
    expect(c.max).toBeCloseTo(max!, 5);
  }, 120_000);

  it("a byte flipped three quarters into diffraction fails its CRC every way", () => {
    for (const way of ["map", "pread", ""] as const) {
      const scans = scanAll(fx.storedBadCrc, way);
      const bad = scans.filter((s) => !s.crcOk).map((s) => `${s.key}@${s.threads}`);
      expect(bad, `NPZGUARD_SCAN_READ=${way}`).toEqual(["diffraction@1", "diffraction@2"]);
    }
  }, 120_000);
});
