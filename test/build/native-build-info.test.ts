// native.buildInfo() names the CRC-32 kernel and the inflate implementation chosen at run time
// (CPU dispatch in native/core/crc32.cc), not a compile-time string: forcing another kernel
// with NPZGUARD_CRC32 in a child process changes the answer.
import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { native } from "../../src/native.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

function childBuildInfo(env: Record<string, string>): { crc32: string; inflate: string } {
  // The child loads the built addon directly (no TS loader needed).
  const code = `const m=require(${JSON.stringify(process.env.NPZGUARD_ADDON ?? path.join(root, "build", "Release", "npzguard.node"))});process.stdout.write(JSON.stringify(m.buildInfo()))`;
  const out = execFileSync(process.execPath, ["-e", code], { env: { ...process.env, ...env }, encoding: "utf8" });
  return JSON.parse(out) as { crc32: string; inflate: string };
}

describe("native.buildInfo()", () => {
  it("names the run-time CRC-32 kernel and inflate implementation", () => {
    const info = native.buildInfo();
    expect(info.crc32).toMatch(/^(vpclmul-avx512|vpclmul-avx512-noprefetch|vpclmul-avx2|pclmul|pmull|armv8-crc32|slice-by-8) \(npzguard\)$/);
    expect(info.inflate).toMatch(/^(npzguard|isa-l \d+\.\d+), parallel per member \(npzguard\)$/);
    // Every x86-64 CPU this runs on in practice has PCLMULQDQ: the portable kernel there is a bug.
    expect(process.arch !== "x64" || info.crc32 !== "slice-by-8 (npzguard)").toBe(true);
  });

  it("reflects the kernel actually selected (NPZGUARD_CRC32 forces the portable one)", () => {
    const forced = childBuildInfo({ NPZGUARD_CRC32: "slice-by-8" });
    expect(forced.crc32).toBe("slice-by-8 (npzguard)");
    const unforced = childBuildInfo({});
    expect(unforced.crc32).toBe(native.buildInfo().crc32);
  });
});
