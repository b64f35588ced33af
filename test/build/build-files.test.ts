// The build descriptions: CMakeLists.txt (primary) and binding.gyp (fallback) compile the same
// sources, every .cc on disk is built, the binding needs no RTTI (node-gyp builds with
// -fno-rtti), and the native error-code table agrees with src/errors.ts.
import { describe, expect, it } from "vitest";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ERROR_CODES } from "../../src/errors.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

function cmakeList(text: string, name: string): string[] {
  const m = new RegExp(`set\\(\\s*${name}\\s+([^)]*)\\)`).exec(text);
  if (!m) throw new Error(`no set(${name} ...) in CMakeLists.txt`);
  return m[1]!
    .split(/\s+/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0 && !s.startsWith("#"));
}

describe("build files", () => {
  it("CMakeLists.txt NPZ_CORE_SOURCES + NPZ_BINDING_SOURCES equal binding.gyp sources", () => {
    const cmake = readFileSync(path.join(root, "CMakeLists.txt"), "utf8");
    const fromCmake = [...cmakeList(cmake, "NPZ_CORE_SOURCES"), ...cmakeList(cmake, "NPZ_BINDING_SOURCES")];
    const gyp = JSON.parse(readFileSync(path.join(root, "binding.gyp"), "utf8")) as {
      targets: { target_name: string; sources: string[] }[];
    };
    const target = gyp.targets.find((t) => t.target_name === "npzguard");
    expect(target).toBeDefined();
    expect([...target!.sources].sort()).toEqual([...fromCmake].sort());
    expect(new Set(fromCmake).size).toBe(fromCmake.length);
    expect(fromCmake).toContain("native/binding/addon.cc");
  });

  it("every .cc file of the core and the binding is built (none forgotten after a split)", () => {
    const cmake = readFileSync(path.join(root, "CMakeLists.txt"), "utf8");
    const core = cmakeList(cmake, "NPZ_CORE_SOURCES");
    const binding = cmakeList(cmake, "NPZ_BINDING_SOURCES");
    const onDisk = (dir: string) =>
      readdirSync(path.join(root, dir))
        .filter((n) => n.endsWith(".cc"))
        .map((n) => `${dir}/${n}`)
        .sort();
    expect([...core].sort()).toEqual(onDisk("native/core"));
    expect([...binding].sort()).toEqual(onDisk("native/binding"));
  });

  it("native errorCodes() equals ERROR_CODES in order", async () => {
    const { native } = await import("../../src/native.js");
    expect(native.errorCodes()).toEqual([...ERROR_CODES]);
  });
});

describe("fallback build (node-gyp)", () => {
  it("the binding needs no RTTI: node-gyp compiles with -fno-rtti", () => {
    const dir = path.join(root, "native", "binding");
    const files = readdirSync(dir).filter((n) => /\.(cc|h)$/.test(n));
    expect(files).toContain("archive_wrap.cc");
    for (const n of files) {
      const code = readFileSync(path.join(dir, n), "utf8").replace(/\/\/.*$/gm, "");
      expect(code, n).not.toMatch(/\bdynamic_cast\b|\btypeid\b/);
    }
  });
});
