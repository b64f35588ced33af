// Child process for the hardening tests: things that may hang, exhaust memory or kill the
// process (SIGBUS) run here, never inside the vitest worker. Loads the addon directly (raw API)
// and prints exactly one JSON line on stdout.
//
//   node child.mjs open <file>                 open + list members + close
//   node child.mjs scan <file> <key>           open + scan(key) + VmHWM (peak RSS) at the end
//   node child.mjs copy <file> <key>           open + readArray(key, force copy) + VmHWM
//   node child.mjs truncate-race <file> <n>    n rounds: rewrite file, open, scan the first
//                                              member while this process truncates the file
//   node child.mjs copy-race <file> <n>        n rounds: rewrite file, open, copy the first
//                                              member (readArray, forced copy) while a worker
//                                              thread truncates the file
// Environment: NPZGUARD_ADDON overrides the addon path.
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import { readFileSync, truncateSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const require = createRequire(import.meta.url);
const addon = require(process.env.NPZGUARD_ADDON ?? path.join(root, "build", "Release", "npzguard.node"));

function vmHwmKiB() {
  const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync("/proc/self/status", "utf8"));
  return m ? Number(m[1]) : -1;
}

function coded(err) {
  return { ok: false, code: err && typeof err.code === "string" ? err.code : null, message: String(err?.message) };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const [mode, file, arg] = process.argv.slice(2);
  if (mode === "open") {
    try {
      const a = addon.open(file, {});
      const n = a.members().length;
      a.close();
      return { ok: true, members: n };
    } catch (err) {
      return coded(err);
    }
  }
  if (mode === "scan") {
    let out;
    try {
      const a = addon.open(file, {});
      const index = a.members().findIndex((m) => m.key === arg);
      if (index < 0) throw new Error(`no member ${arg}`);
      const r = await a.scan(index, { crc: true, stats: true });
      a.close();
      out = { ok: true, result: r };
    } catch (err) {
      out = coded(err);
    }
    return { ...out, vmHwmKiB: vmHwmKiB() };
  }
  if (mode === "copy") {
    let out;
    try {
      const a = addon.open(file, {});
      const index = a.members().findIndex((m) => m.key === arg);
      if (index < 0) throw new Error(`no member ${arg}`);
      const r = a.readArray(index, 1);
      out = { ok: true, byteLength: r.buffer.byteLength };
      a.close();
    } catch (err) {
      out = coded(err);
    }
    return { ...out, vmHwmKiB: vmHwmKiB() };
  }
  if (mode === "truncate-race") {
    const rounds = Number(arg);
    const original = readFileSync(file);
    const outcomes = [];
    for (let i = 0; i < rounds; i++) {
      writeFileSync(file, original);
      const a = addon.open(file, {});
      // Round 0 truncates before the scan starts; later rounds after a growing delay, to
      // different lengths (inside the data, inside the header, to zero).
      const cut = [Math.floor(original.length / 2), 0, 4096, original.length - 1][i % 4];
      if (i === 0) truncateSync(file, cut);
      const p = a.scan(0, { crc: true, stats: true }).then(
        (r) => ({ ok: true, bytesRead: r.bytesRead, crcOk: r.crcOk }),
        (err) => coded(err),
      );
      if (i > 0) {
        await sleep((i - 1) % 8);
        truncateSync(file, cut);
      }
      outcomes.push({ round: i, cut, ...(await p) });
      a.close();
    }
    writeFileSync(file, original);
    return { ok: true, outcomes };
  }
  if (mode === "copy-race") {
    // readArray is synchronous, so the truncation comes from a worker thread that sleeps
    // (Atomics.wait) a growing number of milliseconds first.
    const rounds = Number(arg);
    const original = readFileSync(file);
    const outcomes = [];
    const truncator = `
      const { workerData } = require("node:worker_threads");
      const { truncateSync } = require("node:fs");
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, workerData.delay);
      truncateSync(workerData.file, workerData.cut);`;
    for (let i = 0; i < rounds; i++) {
      writeFileSync(file, original);
      const a = addon.open(file, {});
      const cut = [Math.floor(original.length / 2), 0, 4096, original.length - 1][i % 4];
      const w = new Worker(truncator, { eval: true, workerData: { file, cut, delay: i % 12 } });
      const online = new Promise((r) => w.once("online", r));
      const exited = new Promise((r) => w.once("exit", r));
      await online;
      // Round 0 reads only after the truncation (always the error path: the expectations on a
      // coded error run in every test run); the others race it.
      if (i === 0) await exited;
      let out;
      try {
        const r = a.readArray(0, 1);
        out = { ok: true, bytesRead: r.buffer.byteLength, crcOk: r.crcVerified };
      } catch (err) {
        out = coded(err);
      }
      await exited;
      outcomes.push({ round: i, cut, ...out });
      a.close();
    }
    writeFileSync(file, original);
    return { ok: true, outcomes };
  }
  throw new Error(`unknown mode ${mode}`);
}

main().then(
  (r) => {
    process.stdout.write(JSON.stringify(r) + "\n");
  },
  (err) => {
    process.stdout.write(JSON.stringify({ ok: false, code: null, message: String(err?.stack) }) + "\n");
    process.exitCode = 1;
  },
);
