// The package's two entry points: `npzguard` (reader, checker, errors) and `npzguard/study` (study,
// gate, hand-off, synth). Importing the reader must not load the study layer, the hand-off or
// fft.js (start-up cost for every user); the .d.ts files carry no @internal members; docs/api.md
// lists exactly what is exported.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** Module URLs an ESM import of `entry` loads (recorded by a resolve hook in the child). */
function loadedModules(entry: string): string[] {
  const dir = mkdtempSync(join(tmpdir(), "npzguard-trace-"));
  try {
    const log = join(dir, "trace.log");
    writeFileSync(
      join(dir, "hooks.mjs"),
      `import { appendFileSync } from "node:fs";\nexport async function resolve(s, c, next) { const r = await next(s, c); appendFileSync(${JSON.stringify(log)}, r.url + "\\n"); return r; }\n`,
    );
    writeFileSync(join(dir, "register.mjs"), `import { register } from "node:module";\nregister(${JSON.stringify("file://" + join(dir, "hooks.mjs"))});\n`);
    execFileSync(process.execPath, ["--import", join(dir, "register.mjs"), "-e", `await import(${JSON.stringify(join(ROOT, entry))})`, "--input-type=module"], {
      stdio: "pipe",
    });
    return readFileSync(log, "utf8").trim().split("\n");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("entry points", () => {
  it("importing npzguard loads neither the study / gate / hand-off layers nor fft.js", () => {
    const mods = loadedModules("dist/index.js");
    expect(mods.some((m) => m.endsWith("/dist/npz.js"))).toBe(true);
    const bad = mods.filter((m) => /\/dist\/(study|gate|handoff|synth|entries)\/|fft\.js/.test(m));
    expect(bad).toEqual([]);
  });

  it("npzguard/study exposes the study layer", async () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { exports: Record<string, { default: string }> };
    const study = (await import(join(ROOT, pkg.exports["./study"]?.default ?? "missing"))) as Record<string, unknown>;
    for (const name of ["planStudy", "runHandoff", "synthesizeStudy", "readRunRecord", "RunLock", "LocalExecutor", "SlurmExecutor"]) {
      expect(typeof study[name], name).toBe("function");
    }
    const root = (await import(join(ROOT, "dist/index.js"))) as Record<string, unknown>;
    for (const name of ["planStudy", "pyExp0", "pyJoin", "xmlEscape", "stampOf", "CACHE_FILE"]) expect(root[name], name).toBeUndefined();
    for (const name of ["openNpz", "loadNpy", "checkFile", "formatText", "NpzError", "isNpzError"]) expect(typeof root[name], name).toBe("function");
  });

  it("the declaration files carry no @internal member", () => {
    expect(readFileSync(join(ROOT, "dist/npz.d.ts"), "utf8")).not.toMatch(/closeKeepingViews|@internal/);
  });

  it("docs/api.md lists every exported signature (regenerate with node scripts/api-doc.mjs)", () => {
    execFileSync(process.execPath, [join(ROOT, "scripts/api-doc.mjs"), "--check"], { stdio: "pipe" });
  });
});
