// The package as a user gets it: `npm pack` of this checkout (prepack builds the prebuilt binary),
// installed from the tarball into an empty directory with a PATH holding only node, npm, npx and
// sh — no cmake, make, python3 or C/C++ compiler. Then the CLI (`--version --verbose`, `check` of
// a numpy-written file), the library from ESM and CommonJS, the tarball's file list, the forced
// source build (`--build-from-source`, with the machine's PATH: leaves only the .node behind) and
// the forced source build without tools (one npzguard message, no cmake-js/gyp error dump).
//
// The pack runs in a staging copy of the package sources (node_modules linked), so the checkout's
// dist/ and build/ are not rewritten under the other test files. Installs reach the npm registry
// for the dependencies, as a user's would. Sizes and install times are printed for the record.
import { execFileSync, spawnSync, type SpawnSyncReturns } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv } from "ajv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const NUMPY_FILE = join(REPO, "test", "fixtures", "study", "phase_d", "train.npz"); // written by numpy (gen_study_fixtures.py)
const STAGED = [
  "package.json",
  "package-lock.json",
  "README.md",
  "LICENSE",
  "CHANGELOG.md",
  "CMakeLists.txt",
  "binding.gyp",
  "tsconfig.json",
  "tsconfig.build.json",
  "bin",
  "src",
  "native/core",
  "native/binding",
  "scripts",
  "schemas",
];
const TOOLS = ["cmake", "make", "python3", "python", "cc", "gcc", "c++", "g++", "clang", "clang++", "ninja"];

let work: string;
let tarball: string;
let bareBin: string;
let files: string[];

/** A directory with symlinks to node, npm, npx and sh only (npm runs scripts through sh). */
function makeBareBin(dir: string): string {
  mkdirSync(dir);
  for (const tool of ["node", "npm", "npx", "sh"]) {
    const found = execFileSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" }).trim();
    symlinkSync(found, join(dir, tool));
  }
  return dir;
}

/** The environment of a user's shell: no npm lifecycle variables of this test run, no overrides. */
function userEnv(path: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(npm_|INIT_CWD$|NPZGUARD_|NODE_OPTIONS$|VITEST)/i.test(k)) continue;
    env[k] = v;
  }
  return { ...env, PATH: path, ...extra };
}

function emptyProject(name: string): string {
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: `app-${name}`, version: "1.0.0", private: true }));
  return dir;
}

function npmInstall(dir: string, path: string, args: string[] = []): { r: SpawnSyncReturns<string>; seconds: number } {
  const t0 = performance.now();
  const r = spawnSync("npm", ["install", "--no-audit", "--no-fund", ...args, tarball], {
    cwd: dir,
    env: userEnv(path),
    encoding: "utf8",
    timeout: 600_000,
  });
  return { r, seconds: (performance.now() - t0) / 1000 };
}

function duBytes(p: string): number {
  const st = statSync(p);
  if (!st.isDirectory()) return st.size;
  return readdirSync(p).reduce((n, e) => n + duBytes(join(p, e)), 0);
}

function listFiles(p: string, base = p): string[] {
  return readdirSync(p, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(join(p, e.name), base) : [join(p, e.name).slice(base.length + 1)],
  );
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "npzguard-pack-"));
  const stage = join(work, "stage");
  for (const entry of STAGED) cpSync(join(REPO, entry), join(stage, entry), { recursive: true });
  symlinkSync(join(REPO, "node_modules"), join(stage, "node_modules"));
  const out = join(work, "out");
  mkdirSync(out);
  // npm pack runs prepare (tsc -> dist/) and prepack (the prebuilt binary), then postpack.
  const r = spawnSync("npm", ["pack", "--pack-destination", out], { cwd: stage, encoding: "utf8", timeout: 900_000, env: userEnv(process.env.PATH ?? "") });
  if (r.status !== 0) throw new Error(`npm pack failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  const tgz = readdirSync(out).filter((f) => f.endsWith(".tgz"));
  expect(tgz).toHaveLength(1);
  tarball = join(out, tgz[0]!);
  files = execFileSync("tar", ["tzf", tarball], { encoding: "utf8" })
    .trim()
    .split("\n")
    .map((f) => f.replace(/^package\//, ""));
  bareBin = makeBareBin(join(work, "bin"));
  console.log(`npzguard tarball: ${statSync(tarball).size} bytes, ${files.length} files`);
}, 900_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("npm pack", () => {
  it("ships the prebuilt binary, the built JS + types, schemas, install script, license and changelog", () => {
    for (const f of [
      "prebuilds/linux-x64/npzguard.napi.glibc.node",
      "dist/index.js",
      "dist/index.d.ts",
      "dist/cli/main.js",
      "dist/cli-bundle/main.cjs",
      "dist/build-info.js",
      "bin/npzguard",
      "scripts/install.mjs",
      "schemas/check.schema.json",
      "schemas/version.schema.json",
      "native/core/archive.cc",
      "native/binding/addon.cc",
      "native/binding/archive_wrap.cc",
      "native/core/stored_io.cc",
      "CMakeLists.txt",
      "binding.gyp",
      "LICENSE",
      "CHANGELOG.md",
      "README.md",
      "package.json",
    ]) {
      expect(files, f).toContain(f);
    }
  });

  it("ships no tests, corpora, source maps, sources of dist/, build trees or dev scripts", () => {
    const unwanted = files.filter(
      (f) => /^(test|bench|src|build|build-[^/]*|native\/tests|\.ci|node_modules)\//.test(f) || f.endsWith(".map") || f === "scripts/prebuild.mjs",
    );
    expect(unwanted).toEqual([]);
  });
});

describe("install from the tarball with no build tools on PATH", () => {
  let app: string;
  let pkg: string;
  beforeAll(() => {
    for (const tool of TOOLS) expect(existsSync(join(bareBin, tool)), tool).toBe(false);
    app = emptyProject("prebuilt");
    const { r, seconds } = npmInstall(app, bareBin);
    if (r.status !== 0) throw new Error(`npm install failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
    pkg = join(app, "node_modules", "npzguard");
    console.log(
      `npzguard install with the prebuilt binary: ${seconds.toFixed(1)} s; node_modules ${duBytes(join(app, "node_modules"))} bytes, npzguard ${duBytes(pkg)} bytes, ${readdirSync(join(app, "node_modules")).length} top-level entries`,
    );
  }, 600_000);

  it("compiled nothing: no build/ directory, the prebuilt binary is what loads", () => {
    expect(existsSync(join(pkg, "build"))).toBe(false);
    expect(existsSync(join(pkg, "prebuilds", "linux-x64", "npzguard.napi.glibc.node"))).toBe(true);
  });

  it("npzguard --version --verbose names the prebuilt binary, Node and N-API versions, CRC and inflate", () => {
    const r = spawnSync(join(app, "node_modules", ".bin", "npzguard"), ["--version", "--verbose"], { cwd: app, env: userEnv(bareBin), encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`node      ${process.versions.node} (N-API ${process.versions.napi}; the addon needs 8)`);
    expect(r.stdout).toContain(join(pkg, "prebuilds", "linux-x64", "npzguard.napi.glibc.node"));
    expect(r.stdout).toContain("prebuilt binary shipped in the package");
    expect(r.stdout).toContain("cli       bundled (dist/cli-bundle)"); // the installed bin runs the CJS bundle
    expect(r.stdout).toMatch(/crc32 +\S/);
    expect(r.stdout).toMatch(/inflate +\S/);
  });

  it("npzguard check of a numpy-written file passes, and its JSON validates against the shipped schema", () => {
    const bin = join(app, "node_modules", ".bin", "npzguard");
    const text = spawnSync(bin, ["check", NUMPY_FILE], { cwd: app, env: userEnv(bareBin), encoding: "utf8" });
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^PASS /);
    const json = spawnSync(bin, ["check", NUMPY_FILE, "--json"], { cwd: app, env: userEnv(bareBin), encoding: "utf8" });
    expect(json.status).toBe(0);
    const validate = new Ajv({ strict: true }).compile(JSON.parse(readFileSync(join(pkg, "schemas", "check.schema.json"), "utf8")) as object);
    expect(validate(JSON.parse(json.stdout)), JSON.stringify(validate.errors)).toBe(true);
  });

  it("imports from ESM and requires from CommonJS", () => {
    const body = (imp: string) => `${imp}
const npz = openNpz(${JSON.stringify(NUMPY_FILE)});
try {
  const a = npz.array("diffraction");
  const info = buildInfo();
  console.log(JSON.stringify({ keys: npz.keys().length, shape: a.shape, origin: info.addon.origin, version: VERSION }));
} finally {
  npz.close();
}`;
    writeFileSync(join(app, "esm.mjs"), body(`import { openNpz, buildInfo, VERSION } from "npzguard";`));
    writeFileSync(join(app, "cjs.cjs"), body(`const { openNpz, buildInfo, VERSION } = require("npzguard");`));
    const want = JSON.parse(
      execFileSync(
        "python3",
        [
          "-c",
          `import numpy as np, json, sys; z = np.load(sys.argv[1]); print(json.dumps({"keys": len(z.files), "shape": list(z["diffraction"].shape)}))`,
          NUMPY_FILE,
        ],
        { encoding: "utf8" },
      ),
    ) as { keys: number; shape: number[] };
    for (const script of ["esm.mjs", "cjs.cjs"]) {
      const r = spawnSync("node", [script], { cwd: app, env: userEnv(bareBin), encoding: "utf8" });
      expect(r.status, `${script}: ${r.stderr}`).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual({ ...want, origin: "prebuilt", version: expect.any(String) });
    }
  });
});

describe("npm install --build-from-source", () => {
  it("builds with the machine's tools and leaves only build/Release/npzguard.node", () => {
    const app = emptyProject("source");
    const { r, seconds } = npmInstall(app, process.env.PATH ?? "", ["--build-from-source"]);
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    const pkg = join(app, "node_modules", "npzguard");
    expect(listFiles(join(pkg, "build"))).toEqual([join("Release", "npzguard.node")]);
    console.log(`npzguard install built from source: ${seconds.toFixed(1)} s; npzguard ${duBytes(pkg)} bytes`);
    const v = spawnSync(join(app, "node_modules", ".bin", "npzguard"), ["--version", "--verbose"], {
      cwd: app,
      env: userEnv(process.env.PATH ?? ""),
      encoding: "utf8",
    });
    expect(v.status, v.stderr).toBe(0);
    expect(v.stdout).toContain("built from source on this machine");
    expect(v.stdout).toContain(join(pkg, "build", "Release", "npzguard.node"));
  }, 900_000);

  it("without build tools fails with one npzguard message naming what is missing, not cmake-js/gyp output", () => {
    const app = emptyProject("notools");
    const { r } = npmInstall(app, bareBin, ["--build-from-source"]);
    expect(r.status).not.toBe(0);
    const all = `${r.stdout}\n${r.stderr}`;
    expect(all.split("npzguard: cannot install the native addon").length - 1).toBe(1);
    expect(all).toMatch(/missing: a C\+\+17 compiler \(g\+\+ or clang\+\+\), cmake, make, python3/);
    expect(all).toContain("npm rebuild npzguard");
    expect(all).toContain("NPZGUARD_ADDON");
    expect(all).not.toMatch(/gyp ERR!|CMake Error|ERR! OMG/);
  }, 600_000);
});
