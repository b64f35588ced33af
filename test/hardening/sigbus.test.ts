// A file truncated in the middle of a scan of a STORED member must end the scan with
// ERR_NPZ_CORRUPT, and the process must survive. Scans read each block through a mapping under a
// SIGBUS guard or with pread (a short read is the error), whichever measures cheaper;
// NPZGUARD_SCAN_READ pins each way here. A scan that reads a mapping unguarded dies of SIGBUS.
// Runs in a child process so a regression kills the child, not the test runner.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { numericNpy } from "../../src/writer/npy.js";
import { writeNpz } from "../../src/writer/npz.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
let dir = "";
let file = "";

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), "npzguard-sigbus-"));
  file = path.join(dir, "big.npz");
  // 256 MiB of zeros as one STORED float32 member (np.savez layout, by the TS writer).
  const n = (256 << 20) / 4;
  writeNpz(file, { diffraction: numericNpy("<f4", [n], new Float32Array(n)) });
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("NpzFile#scan() of a STORED member truncated mid-scan", () => {
  it.each([["map"], ["pread"], [""]])(
    "NPZGUARD_SCAN_READ='%s': rejects with ERR_NPZ_CORRUPT and the process survives (no SIGBUS)",
    (way) => {
      const script = `
      const { openNpz } = await import(${JSON.stringify(path.join(root, "dist", "index.js"))});
      const { truncateSync, copyFileSync } = await import("node:fs");
      const src = process.argv[1], f = src + ".copy";
      const out = [];
      for (let i = 0; i < 4; i++) {
        copyFileSync(src, f);
        const npz = openNpz(f);
        const p = npz.scan("diffraction", { crc: true, stats: true });
        await new Promise((r) => setTimeout(r, 2));
        truncateSync(f, 4096 + i * 1000);
        try { await p; out.push("completed"); } catch (e) { out.push(e.code); }
        npz.close();
      }
      process.stdout.write(JSON.stringify(out));
    `;
      const env = { ...process.env, NPZGUARD_SCAN_READ: way };
      const r = spawnSync(process.execPath, ["--input-type=module", "-e", script, file], { encoding: "utf8", timeout: 90_000, env });
      expect(r.signal, r.stderr).toBeNull();
      expect(r.status, r.stderr).toBe(0);
      const outcomes = JSON.parse(r.stdout) as string[];
      expect(outcomes).toHaveLength(4);
      // Truncated to a few KiB 2 ms into a 256 MiB scan: the scan cannot have finished first.
      for (const o of outcomes) expect(o).toBe("ERR_NPZ_CORRUPT");
    },
    120_000,
  );
});
