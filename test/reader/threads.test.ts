// The `threads` option of the reader: validated before native code runs, resolved at open
// (NpzFile#threads; default = buildInfo().threads.default, which follows the affinity mask), and
// without influence on results: scans (CRC + statistics) and copies of numpy-written stored and
// deflated members, and a CRC mismatch, come out the same at 1, 2 and 3 threads.
import { execFileSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildInfo, checkFile, loadNpy, openNpz, type ScanResult } from "../../src/index.js";
import { fixture } from "../helpers/fixtures.js";
import { writeThreadsFixtures, type ThreadsFixtures } from "../helpers/threads-fixtures.js";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const GRID = fixture("npz/grid.npz");

let fx: ThreadsFixtures;
beforeAll(() => {
  fx = writeThreadsFixtures();
}, 120_000);
afterAll(() => fx?.cleanup());

describe("OpenOptions.threads", () => {
  it("is an integer from 1 to 1024 (TypeError / RangeError otherwise)", () => {
    for (const bad of [0, -1, 1025, 2 ** 40]) expect(() => openNpz(GRID, { threads: bad })).toThrow(RangeError);
    for (const bad of [1.5, Number.NaN, "2", null, true]) {
      expect(() => openNpz(GRID, { threads: bad as unknown as number })).toThrow(TypeError);
    }
    expect(() => loadNpy(fixture("npy/f8.npy"), { threads: 0 })).toThrow(RangeError);
  });

  it("is what NpzFile#threads reports; absent, it is buildInfo().threads.default", () => {
    for (const n of [1, 2, 7, 1024]) {
      using f = openNpz(GRID, { threads: n });
      expect(f.threads).toBe(n);
    }
    using f = openNpz(GRID);
    const t = buildInfo().threads;
    expect(f.threads).toBe(t.default);
    expect(t.default).toBeGreaterThanOrEqual(1);
    // default = min(affinity or hardware, cgroup quota rounded up)
    const usable = t.affinity ?? t.hardware ?? 1;
    expect(t.default).toBe(t.cgroupQuota === null ? usable : Math.min(usable, Math.ceil(t.cgroupQuota)));
  });

  it("follows the affinity mask: under `taskset -c 0` the default is 1", () => {
    const code = `import(${JSON.stringify(path.join(REPO, "dist", "index.js"))}).then((m) => {
      const f = m.openNpz(${JSON.stringify(GRID)});
      process.stdout.write(JSON.stringify({ open: f.threads, info: m.buildInfo().threads }));
      f.close();
    })`;
    const out = JSON.parse(execFileSync("taskset", ["-c", "0", process.execPath, "-e", code], { encoding: "utf8" })) as {
      open: number;
      info: { default: number; source: string; affinity: number; hardware: number };
    };
    expect(out.open).toBe(1);
    expect(out.info.default).toBe(1);
    expect(out.info.affinity).toBe(1);
    expect(out.info.source).toBe(out.info.hardware > 1 ? "affinity" : "hardware");
  });

  it("checkFile() refuses a bad threads option (RangeError)", async () => {
    for (const bad of [0, 1.5, 5000]) await expect(checkFile(GRID, { threads: bad })).rejects.toThrow(RangeError);
  });
});

describe("results do not depend on threads (numpy-written files)", () => {
  const THREADS = [1, 2, 3];

  async function scans(file: string, threads: number) {
    using f = openNpz(file, { threads });
    const out: Record<string, unknown> = {};
    for (const k of f.keys()) out[k] = await f.scan(k, { crc: true, stats: true });
    return out;
  }

  it("scan(): CRC and statistics of every member, stored and deflated", async () => {
    for (const file of [fx.stored, fx.deflated]) {
      const base = await scans(file, 1);
      const d = base.diffraction as ScanResult;
      const c = d.stats?.components[0];
      expect(d.crcOk).toBe(true);
      // the values placed around the middle, where a two-way split cuts, are all counted
      // (negative: -1.5, -7, -0.25 and -Inf)
      expect([c?.nan, c?.posInf, c?.negInf, c?.negative, d.stats?.elements]).toEqual([3, 2, 1, 4, 300 * 256 * 256]);
      for (const t of THREADS.slice(1)) expect(await scans(file, t)).toEqual(base);
    }
  }, 120_000);

  it("a CRC mismatch in the second half is found at every thread count", async () => {
    for (const t of THREADS) {
      using f = openNpz(fx.storedBadCrc, { threads: t });
      const r = await f.scan("diffraction", { crc: true, stats: false });
      expect(r.crcChecked).toBe(true);
      expect(r.crcOk).toBe(false);
      let code: unknown;
      try {
        f.array("diffraction", { copy: true });
      } catch (e) {
        code = (e as { code?: unknown }).code;
      }
      expect(code).toBe("ERR_NPZ_CRC_MISMATCH");
    }
  }, 60_000);

  it("array() copies are byte-identical", () => {
    for (const file of [fx.stored, fx.deflated]) {
      const bytes = THREADS.map((t) => {
        using f = openNpz(file, { threads: t });
        const d = f.array("diffraction", { copy: true }).data as Float32Array;
        return Buffer.from(new Uint8Array(d.buffer, d.byteOffset, d.byteLength)); // a copy: close() detaches
      });
      expect(bytes[0]!.byteLength).toBe(300 * 256 * 256 * 4);
      for (const b of bytes.slice(1)) expect(Buffer.compare(b, bytes[0]!)).toBe(0);
    }
  }, 60_000);
});
