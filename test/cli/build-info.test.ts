// buildInfo() and `npzguard --version --verbose`: what this installation runs on, the addon file
// and its origin, and the CRC-32 / inflate implementations passed through from the addon; a
// missing addon names `npm rebuild npzguard` and NPZGUARD_ADDON (exit 3); internal errors exit 70.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { buildInfo, NpzError } from "../../src/index.js";
import { native } from "../../src/native.js";
import { EXIT, exitCodeFor } from "../../src/cli/common.js";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const MAIN = join(REPO, "dist", "cli", "main.js");
const PKG = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { version: string; binary: { napi_versions: number[] } };

function cli(args: string[], env: Record<string, string | undefined> = {}) {
  return spawnSync(process.execPath, [MAIN, ...args], { encoding: "utf8", env: { ...process.env, ...env } });
}

describe("buildInfo()", () => {
  it("reports versions, the loaded addon and its origin, and the addon's CRC/inflate names", () => {
    const info = buildInfo();
    const raw = native.buildInfo();
    expect(info.name).toBe("npzguard");
    expect(info.version).toBe(PKG.version);
    expect(info.node).toBe(process.versions.node);
    expect(info.napi).toEqual({ node: Number(process.versions.napi), addon: PKG.binary.napi_versions[0] });
    expect(info.platform).toBe(`${process.platform}-${process.arch}`);
    expect(existsSync(info.addon.path)).toBe(true);
    const override = process.env.NPZGUARD_ADDON;
    expect(info.addon.origin).toBe(override ? "env" : "local"); // a checkout loads its own build/
    expect(info.addon.path).toBe(override ? override : join(REPO, "build", "Release", "npzguard.node"));
    expect(info.crc32).toBe(raw.crc32);
    expect(info.inflate).toBe(raw.inflate);
    expect(info.crc32.length).toBeGreaterThan(0);
    expect(info.addon.compiler).toBe(raw.compiler);
  });
});

describe("npzguard --version", () => {
  it("prints the bare version, and with --verbose the build", () => {
    const plain = cli(["--version"]);
    expect(plain.status).toBe(0);
    expect(plain.stdout).toBe(`${PKG.version}\n`);
    const v = cli(["--version", "--verbose"]);
    expect(v.status, v.stderr).toBe(0);
    const info = buildInfo();
    expect(v.stdout.split("\n")[0]).toBe(`npzguard ${PKG.version}`);
    expect(v.stdout).toContain(`node      ${process.versions.node} (N-API ${process.versions.napi}; the addon needs ${info.napi.addon})`);
    expect(v.stdout).toContain(`addon     ${info.addon.path}`);
    expect(v.stdout).toMatch(/build {5}(built from source on this machine|NPZGUARD_ADDON override)/);
    expect(v.stdout).toContain(`crc32     ${info.crc32}`);
    expect(v.stdout).toContain(`inflate   ${info.inflate}`);
  });

  it("refuses unknown options (exit 2)", () => {
    expect(cli(["--version", "--verbos"]).status).toBe(EXIT.USAGE);
  });
});

describe("a missing native addon", () => {
  it("says `npm rebuild npzguard` and NPZGUARD_ADDON, and exits 3 (not an internal error)", () => {
    for (const args of [
      ["check", join(REPO, "test", "fixtures", "npz", "grid.npz")],
      ["--version", "--verbose"],
    ]) {
      const r = cli(args, { NPZGUARD_ADDON: join(REPO, "no-such-npzguard.node") });
      expect(r.status, r.stderr).toBe(EXIT.UNREADABLE);
      expect(r.stderr).toContain("npm rebuild npzguard");
      expect(r.stderr).toContain("NPZGUARD_ADDON");
      expect(r.stderr).not.toContain("internal error");
    }
  });
});

describe("exitCodeFor()", () => {
  it("is 3 for coded errors (input, filesystem, installation) and 70 for bugs", () => {
    expect(exitCodeFor(new NpzError("ERR_NPZ_CORRUPT", "x"))).toBe(3);
    expect(exitCodeFor(Object.assign(new Error("no such file"), { code: "ENOENT" }))).toBe(3);
    expect(exitCodeFor(new TypeError("Cannot read properties of undefined"))).toBe(70);
    expect(exitCodeFor("a string")).toBe(70);
    expect(EXIT.INTERNAL).toBe(70);
  });
});
