// The addon works inside worker_threads (per-environment instance data, no globals): open, list,
// copy, zero-copy map, scan and close in a Worker, several at once, while the main thread reads.
import { describe, expect, it } from "vitest";
import { Worker } from "node:worker_threads";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { openNpz } from "../../src/index.js";
import { fixture, loadExpected, type ExpectedArray } from "../helpers/fixtures.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const addonPath = process.env.NPZGUARD_ADDON ?? path.join(root, "build", "Release", "npzguard.node");
const workerFile = path.join(root, "test", "helpers", "reader-worker.mjs");
const expected = loadExpected();

interface WorkerReply {
  ok: boolean;
  code?: string | null;
  message?: string;
  keys: string[];
  bytes: Uint8Array;
  copyZeroCopy: boolean;
  autoZeroCopy: boolean;
  autoLengthAfterClose: number;
  closed: boolean;
  scan: {
    crcChecked: boolean;
    crcOk: boolean;
    bytesRead: number;
    stats: { elements: number; components: { nan: number; posInf: number; negInf: number; finite: number }[] } | null;
  };
}

function runWorker(file: string, key: string, loops = 1): Promise<WorkerReply> {
  return new Promise((resolve, reject) => {
    const w = new Worker(workerFile, { workerData: { addon: addonPath, file, key, loops }, execArgv: [] });
    let reply: WorkerReply | undefined;
    w.once("message", (m: WorkerReply) => {
      reply = m;
    });
    w.once("error", reject);
    w.once("exit", (code) => {
      if (code !== 0) reject(new Error(`worker exited with ${code}`));
      else if (!reply) reject(new Error("worker sent nothing"));
      else resolve(reply);
    });
  });
}

function entry(file: string, key: string | null): ExpectedArray {
  const e = expected.arrays.find((x) => x.file === file && x.key === key);
  if (!e) throw new Error(`no expected entry ${file}:${key}`);
  return e;
}

function f8Counts(e: ExpectedArray): { nan: number; posInf: number; negInf: number } {
  const b = Buffer.from(e.base64!, "base64");
  const v = new Float64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  return {
    nan: v.filter((x) => Number.isNaN(x)).length,
    posInf: v.filter((x) => x === Infinity).length,
    negInf: v.filter((x) => x === -Infinity).length,
  };
}

describe("worker_threads", () => {
  it("the addon is built where the worker loads it", () => {
    expect(existsSync(addonPath)).toBe(true);
  });

  // zeroCopy: what the automatic read must be. A plain .npy is always aligned and native here, so
  // its read is a zero-copy view; the archive members below are big-endian, compressed or
  // misaligned, so theirs are copies.
  it.each([
    ["npz/grid.npz", "f8_le_t2x3x5_F", false],
    ["npz/grid_compressed.npz", "f8_be_t2x3x5_C", false],
    ["npz/stream_compressed.npz", "f8_be_t2x3x5_F", false],
    ["npy/f8_le_m3x4_C.npy", null, true],
  ] as const)("opens, copies and scans %s:%s inside a Worker", async (file, expectedKey, zeroCopy) => {
    const e = entry(file, expectedKey);
    const key = expectedKey ?? "f8_le_m3x4_C";
    const r = await runWorker(fixture(file), key);
    expect(r.ok, `${r.code}: ${r.message}`).toBe(true);
    expect(r.keys).toContain(key);
    expect(Buffer.from(r.bytes).equals(Buffer.from(e.base64!, "base64"))).toBe(true);
    expect(r.copyZeroCopy).toBe(false);
    expect(r.closed).toBe(true);
    expect(r.autoZeroCopy).toBe(zeroCopy);
    // close() detaches every buffer handed out, views and copies alike.
    expect(r.autoLengthAfterClose).toBe(0);
    // A plain .npy has no CRC; archive members are CRC-checked.
    const isNpy = file.endsWith(".npy");
    expect(r.scan.crcChecked).toBe(!isNpy);
    expect(r.scan.crcOk).toBe(!isNpy);
    const want = f8Counts(e);
    expect(r.scan.stats?.elements).toBe(e.count);
    expect(r.scan.stats?.components[0]?.nan).toBe(want.nan);
    expect(r.scan.stats?.components[0]?.posInf).toBe(want.posInf);
    expect(r.scan.stats?.components[0]?.negInf).toBe(want.negInf);
  });

  it("several Workers and the main thread read the same file concurrently", async () => {
    const file = "npz/grid.npz";
    const keys = ["f8_le_n7_C", "i8_be_m3x4_F", "c16_le_t2x3x5_C", "f2_be_n7_C"];
    const main = openNpz(fixture(file));
    try {
      const replies = Promise.all(keys.map((k) => runWorker(fixture(file), k, 5)));
      for (const k of keys) {
        const a = main.array(k, { copy: true });
        const bytes = Buffer.from((a.data as ArrayBufferView).buffer, (a.data as ArrayBufferView).byteOffset, (a.data as ArrayBufferView).byteLength);
        expect(bytes.equals(Buffer.from(entry(file, k).base64!, "base64"))).toBe(true);
      }
      const rs = await replies;
      rs.forEach((r, i) => {
        expect(r.ok, `${r.code}: ${r.message}`).toBe(true);
        expect(Buffer.from(r.bytes).equals(Buffer.from(entry(file, keys[i]!).base64!, "base64"))).toBe(true);
      });
    } finally {
      main.close();
    }
  }, 30_000);

  it("a Worker that exits without closing its archive does not take the process down", async () => {
    const w = new Worker(
      `const { workerData } = require("node:worker_threads");
       const addon = require(workerData.addon);
       const a = addon.open(workerData.file, {});
       globalThis.keep = [a, a.readArray(0, 0)];`,
      { eval: true, workerData: { addon: addonPath, file: fixture("npz/grid.npz") }, execArgv: [] },
    );
    const code = await new Promise<number>((resolve, reject) => {
      w.once("error", reject);
      w.once("exit", resolve);
    });
    expect(code).toBe(0);
    const f = openNpz(fixture("npz/grid.npz"));
    expect(f.keys().length).toBeGreaterThan(0);
    f.close();
  }, 30_000);
});
