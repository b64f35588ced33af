// Faults: a file truncated while a scan runs (child process: a coded rejection, never SIGBUS),
// inputs are never modified (hash before/after every operation, including writes into zero-copy
// views), and unusable paths (missing, unreadable, directory, FIFO, /dev/zero, /dev/null) give
// ERR_NPZ_OPEN without hanging.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { deflateRawSync } from "node:zlib";
import { openNpz, loadNpy, isNpzError } from "../../src/index.js";
import { ERROR_CODES } from "../../src/errors.js";
import { runChild } from "./run-child.js";
import { expectNpzError } from "../helpers/expect.js";
import { FIXTURES } from "../helpers/fixtures.js";
import { npy, tempDir, zip } from "../helpers/npz-writer.js";

const tmp = tempDir("npzguard-faults-");
afterAll(() => {
  // Restore permissions so cleanup can remove everything.
  try {
    chmodSync(path.join(tmp.dir, "locked"), 0o755);
  } catch {
    /* not created */
  }
  tmp.cleanup();
});
const CODES: ReadonlySet<string> = new Set(ERROR_CODES);

interface Outcome {
  round: number;
  cut: number;
  ok: boolean;
  code?: string | null;
  message?: string;
  bytesRead?: number;
  crcOk?: boolean;
}
interface Reply {
  ok: boolean;
  code?: string | null;
  message?: string;
  members?: number;
  outcomes?: Outcome[];
}

/** Runs a child race mode (truncate-race, copy-race) and returns its per-round outcomes, after
 *  checking that the child itself survived (no signal, exit 0) and ran every round. */
async function raceOutcomes(mode: string, file: string, rounds: number, env: Record<string, string> = {}): Promise<Outcome[]> {
  const r = await runChild<Reply>([mode, file, String(rounds)], 110_000, env);
  expect(r.signal, `child died: ${r.stderr}`).toBeNull();
  expect(r.code, r.stderr).toBe(0);
  const outcomes = r.reply!.outcomes!;
  expect(outcomes).toHaveLength(rounds);
  return outcomes;
}

describe("file truncated while a scan or a copy runs", () => {
  let big = "";
  let bigDeflated = "";
  beforeAll(() => {
    // 80 MiB STORED float32 member: above the 64 MiB threshold where the core splits a scan over
    // two threads, so both the single- and the two-thread scan paths meet the truncation.
    const n = (80 << 20) / 4;
    const values = new Float32Array(n);
    for (let i = 0; i < n; i += 1024) values[i] = i;
    const data = npy(new Uint8Array(values.buffer), { descr: "<f4", shape: [n] });
    big = tmp.write("big_stored.npz", zip([{ name: "diffraction.npy", data }]).bytes);
    bigDeflated = tmp.write(
      "big_deflated.npz",
      zip([{ name: "diffraction.npy", data, method: 8, payload: new Uint8Array(deflateRawSync(data, { level: 1 })) }]).bytes,
    );
  }, 60_000);

  it.each([
    ["huge-page fill (where free 2 MiB blocks are plentiful)", { NPZGUARD_NO_HUGEPAGES: "0" }],
    ["userfaultfd fill (where the kernel allows it)", { NPZGUARD_NO_HUGEPAGES: "1" }],
    ["pread", { NPZGUARD_NO_HUGEPAGES: "1", NPZGUARD_NO_USERFAULTFD: "1" }],
  ])(
    "a forced copy of the STORED member, %s path: the whole array CRC-verified, or a coded error",
    async (_label, env) => {
      const outcomes = await raceOutcomes("copy-race", big, 16, env);
      // Round 0 truncates before the copy: at least that round must end in a coded error.
      expect(outcomes[0]?.ok).toBe(false);
      for (const o of outcomes) {
        if (o.ok) {
          expect(o.crcOk, `round ${o.round}`).toBe(true);
          expect(o.bytesRead, `round ${o.round}`).toBe(80 << 20);
        } else {
          expect(["ERR_NPZ_CORRUPT", "ERR_NPY_TRUNCATED", "ERR_NPZ_SIZE_MISMATCH", "ERR_NPZ_CRC_MISMATCH"], `round ${o.round}: ${o.message}`).toContain(o.code);
        }
      }
    },
    120_000,
  );

  it.each([
    // STORED scans read a block through a SIGBUS-guarded mapping or with pread, whichever measures
    // cheaper (NPZGUARD_SCAN_READ pins one): each way meets the truncation.
    ["STORED, mapped reads", () => big, { NPZGUARD_SCAN_READ: "map" }],
    ["STORED, pread", () => big, { NPZGUARD_SCAN_READ: "pread" }],
    ["STORED, the measured choice", () => big, { NPZGUARD_SCAN_READ: "" }],
    ["DEFLATED", () => bigDeflated, {}],
  ])(
    "%s: rejects with a coded error (never SIGBUS) in every round",
    async (_label, file, env) => {
      const outcomes = await raceOutcomes("truncate-race", file(), 12, env);
      for (const o of outcomes) {
        if (o.ok) {
          // The scan finished before the truncation: it saw the whole, intact member.
          expect(o.crcOk, `round ${o.round}`).toBe(true);
        } else {
          expect(CODES.has(o.code ?? ""), `round ${o.round}: ${o.code} ${o.message}`).toBe(true);
          expect(["ERR_NPZ_CORRUPT", "ERR_NPY_TRUNCATED", "ERR_NPZ_SIZE_MISMATCH"]).toContain(o.code);
        }
      }
      // Round 0 truncates before scan() starts, so at least that round must be a refusal.
      expect(outcomes[0]!.ok).toBe(false);
    },
    120_000,
  );
});

function sha256(p: string): string {
  return createHash("sha256").update(readFileSync(p)).digest("hex");
}

function listFixtures(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...listFixtures(p));
    else if (e.isFile() && /\.(npz|npy)$/.test(e.name)) out.push(p);
  }
  return out.sort();
}

function expectCoded(err: unknown): void {
  if (!isNpzError(err)) throw err;
}

describe("inputs are never modified", () => {
  it("every fixture hashes the same after open/header/array/scan/strings/metadata/close and writes into views", async () => {
    const files = listFixtures(FIXTURES);
    expect(files.length).toBeGreaterThan(50);
    const before = new Map(files.map((f) => [f, sha256(f)]));
    let wroteViews = 0;
    for (const file of files) {
      let f;
      try {
        f = openNpz(file);
      } catch (err) {
        expectCoded(err);
        continue;
      }
      try {
        try {
          f.metadata();
        } catch (err) {
          expectCoded(err);
        }
        for (const key of f.keys()) {
          try {
            f.header(key);
          } catch (err) {
            expectCoded(err);
            continue;
          }
          for (const copy of [undefined, true, false]) {
            try {
              const a = f.array(key, copy === undefined ? undefined : { copy });
              const d = a.data;
              if (!Array.isArray(d) && d.length > 0) {
                // Scribble over the view (zero-copy ones are MAP_PRIVATE: the file must not change).
                const bytes = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
                bytes.fill(0xa5);
                if (a.zeroCopy) wroteViews++;
              }
            } catch (err) {
              expectCoded(err);
            }
          }
          try {
            f.strings(key);
          } catch (err) {
            expectCoded(err);
          }
          try {
            await f.scan(key);
          } catch (err) {
            expectCoded(err);
          }
        }
      } finally {
        f.close();
      }
    }
    expect(wroteViews).toBeGreaterThan(0);
    for (const file of files) expect(sha256(file), path.relative(FIXTURES, file)).toBe(before.get(file));
  }, 120_000);

  it("a write into a zero-copy view is private: a fresh read still sees the file's values", () => {
    const values = new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]);
    const p = tmp.write("private.npy", npy(new Uint8Array(values.buffer), { descr: "<f4", shape: [8] }));
    const hash = sha256(p);
    const f = openNpz(p);
    try {
      const a = f.array("private", { copy: false });
      expect(a.zeroCopy).toBe(true);
      (a.data as Float32Array).fill(-1);
      expect(Array.from(f.array("private", { copy: true }).data as Float32Array)).toEqual(Array.from(values));
    } finally {
      f.close();
    }
    expect(sha256(p)).toBe(hash);
  });
});

describe("unusable paths are ERR_NPZ_OPEN, never a hang", () => {
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;

  it("a missing file", () => {
    expectNpzError(() => openNpz(path.join(tmp.dir, "does-not-exist.npz")), "ERR_NPZ_OPEN");
    expectNpzError(() => loadNpy(path.join(tmp.dir, "does-not-exist.npy")), "ERR_NPZ_OPEN");
  }, 5_000);

  it("a directory where a file is expected", () => {
    const d = path.join(tmp.dir, "a-directory.npz");
    mkdirSync(d);
    expectNpzError(() => openNpz(d), "ERR_NPZ_OPEN");
    expectNpzError(() => loadNpy(d), "ERR_NPZ_OPEN");
  }, 5_000);

  // chmod 000 does not stop root (CAP_DAC_OVERRIDE): as root (CI runs as root) the open runs in a
  // child that setpriv has stripped of the two capabilities that bypass file permissions, so the
  // permission check applies to it as it does to any user.
  const DROP_DAC = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-dac_override,-dac_read_search"];
  it("permission denied (as root: in a child without CAP_DAC_OVERRIDE)", async () => {
    const dir = path.join(tmp.dir, "locked");
    mkdirSync(dir);
    const p = tmp.write(path.join("locked", "x.npz"), zip([{ name: "a.npy", data: npy(new Uint8Array(4), { descr: "<f4", shape: [1] }) }]).bytes);
    chmodSync(p, 0o000);
    chmodSync(dir, 0o000);
    try {
      if (isRoot) {
        const r = await runChild<Reply>(["open", p], 10_000, {}, DROP_DAC);
        expect(r.signal, r.stderr).toBeNull();
        expect(r.reply?.ok, r.stderr).toBe(false);
        expect(r.reply?.code).toBe("ERR_NPZ_OPEN");
        // The same child with its capabilities opens the file: the refusal above came from the
        // permission bits, not from setpriv or the child itself.
        chmodSync(dir, 0o755);
        chmodSync(p, 0o644);
        const ok = await runChild<Reply>(["open", p], 10_000, {}, DROP_DAC);
        expect(ok.reply?.ok, ok.stderr).toBe(true);
      } else {
        expectNpzError(() => openNpz(p), "ERR_NPZ_OPEN");
      }
    } finally {
      chmodSync(dir, 0o755);
    }
  }, 20_000);

  it("a mode-000 file that the caller may still read (root) opens normally: no false refusal", () => {
    const p = tmp.write("mode000.npy", npy(new Uint8Array(4), { descr: "<f4", shape: [1] }));
    chmodSync(p, 0o000);
    if (isRoot) expect(loadNpy(p).shape).toEqual([1]);
    else expectNpzError(() => loadNpy(p), "ERR_NPZ_OPEN");
  });

  it("a FIFO (opened non-blocking, refused after fstat) in a child that is killed if it hangs", async () => {
    const fifo = path.join(tmp.dir, "pipe.npz");
    execFileSync("mkfifo", [fifo]);
    expect(statSync(fifo).isFIFO()).toBe(true);
    const r = await runChild<Reply>(["open", fifo], 10_000);
    expect(r.signal, "the child hung and was killed").toBeNull();
    expect(r.reply?.ok).toBe(false);
    expect(r.reply?.code).toBe("ERR_NPZ_OPEN");
  }, 15_000);

  for (const dev of ["/dev/zero", "/dev/null"]) {
    it.skipIf(!existsSync(dev))(
      `${dev} in a child that is killed if it hangs`,
      async () => {
        const r = await runChild<Reply>(["open", dev], 10_000);
        expect(r.signal, "the child hung and was killed").toBeNull();
        expect(r.reply?.ok).toBe(false);
        expect(r.reply?.code).toBe("ERR_NPZ_OPEN");
      },
      15_000,
    );
  }

  it("/dev/null and a FIFO through the TypeScript API too", () => {
    expectNpzError(() => openNpz("/dev/null"), "ERR_NPZ_OPEN");
    const fifo = path.join(tmp.dir, "pipe2.npy");
    execFileSync("mkfifo", [fifo]);
    expectNpzError(() => loadNpy(fifo), "ERR_NPZ_OPEN");
  }, 5_000);
});
