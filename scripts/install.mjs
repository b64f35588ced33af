#!/usr/bin/env node
// npm `install` script of npzguard.
//
// 1. Unless a source build is asked for (`npm install --build-from-source`, or
//    NPZGUARD_BUILD_FROM_SOURCE=1), load the prebuilt N-API binary from prebuilds/<platform>-<arch>/
//    through node-gyp-build. If it loads, nothing is compiled and nothing else happens.
// 2. Otherwise build from source: cmake-js, then node-gyp. Their output goes to a log file, not to
//    the terminal (so a failure does not print two build systems' errors), and a failure prints ONE
//    npzguard message naming what is missing and the ways out, then exits 1.
// 3. After a successful source build in an installed copy, delete the build tree except the .node.
//
// In a development checkout (a .git next to package.json) the prebuilt binary is ignored and the
// build runs in the foreground with its output, as contributors need; build/ is kept for
// incremental rebuilds.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);
const isDev = fs.existsSync(path.join(root, ".git"));
const truthy = (v) => v !== undefined && v !== "" && v !== "false" && v !== "0";
const fromSourceCfg = process.env.npm_config_build_from_source;
const fromSource =
  truthy(process.env.NPZGUARD_BUILD_FROM_SOURCE) ||
  (truthy(fromSourceCfg) && (fromSourceCfg === "true" || fromSourceCfg === "1" || fromSourceCfg.split(",").includes("npzguard")));

/** Loads the addon node-gyp-build picks (build/Release, then prebuilds/); returns why not, or null. */
function tryPrebuilt() {
  let file;
  try {
    file = require("node-gyp-build").resolve(root);
  } catch (_e) {
    return { reason: `no prebuilt binary for ${process.platform}-${process.arch} in this package` };
  }
  try {
    const addon = require(file);
    if (typeof addon.open !== "function" || typeof addon.buildInfo !== "function") throw new Error("not an npzguard addon");
    return { loaded: file };
  } catch (e) {
    const msg = e instanceof Error ? e.message.split("\n")[0] : String(e);
    return { reason: `the prebuilt binary ${path.relative(root, file)} does not load here: ${msg}` };
  }
}

function onPath(cmd) {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (!dir) continue;
    try {
      fs.accessSync(path.join(dir, cmd), fs.constants.X_OK);
      return true;
    } catch {
      // not here
    }
  }
  return false;
}

/** Runs a build step; in an installed copy its output goes to `log` (appended), in dev to the terminal. */
function step(title, argv, log) {
  const opts = { cwd: root, env: process.env, shell: false };
  if (isDev) return spawnSync(argv[0], argv.slice(1), { ...opts, stdio: "inherit" }).status === 0;
  fs.appendFileSync(log, `\n===== ${title}: ${argv.join(" ")}\n`);
  const fd = fs.openSync(log, "a");
  try {
    const r = spawnSync(argv[0], argv.slice(1), { ...opts, stdio: ["ignore", fd, fd] });
    if (r.error) fs.appendFileSync(log, `${r.error.message}\n`);
    return r.status === 0;
  } finally {
    fs.closeSync(fd);
  }
}

function nodeGypArgv() {
  // npm and pnpm tell scripts where their bundled node-gyp is.
  const bundled = process.env.npm_config_node_gyp;
  if (bundled && fs.existsSync(bundled)) return [process.execPath, bundled, "rebuild"];
  return onPath("node-gyp") ? ["node-gyp", "rebuild"] : null;
}

function buildFromSource(log) {
  let cmakeJs = null;
  try {
    cmakeJs = require.resolve("cmake-js/bin/cmake-js");
  } catch {
    // not installed (e.g. --omit=optional or a partial install)
  }
  if (cmakeJs && onPath("cmake") && step("cmake-js", [process.execPath, cmakeJs, "compile", "-l", "warn"], log)) return "cmake-js";
  const gyp = nodeGypArgv();
  if (gyp && step("node-gyp", gyp, log)) return "node-gyp";
  return null;
}

/** Deletes everything under build/ except build/Release/npzguard.node (installed copies only). */
function pruneBuildTree() {
  const build = path.join(root, "build");
  const keep = path.join(build, "Release", "npzguard.node");
  if (!fs.existsSync(keep)) return;
  for (const entry of fs.readdirSync(build)) {
    if (entry !== "Release") fs.rmSync(path.join(build, entry), { recursive: true, force: true });
  }
  for (const entry of fs.readdirSync(path.join(build, "Release"))) {
    if (entry !== "npzguard.node") fs.rmSync(path.join(build, "Release", entry), { recursive: true, force: true });
  }
}

function missingTools() {
  const missing = [];
  const cxx = ["c++", "g++", "clang++"].some(onPath) || (process.env.CXX && onPath(process.env.CXX));
  if (!cxx) missing.push("a C++17 compiler (g++ or clang++)");
  if (!onPath("cmake")) missing.push("cmake");
  if (!onPath("make")) missing.push("make");
  if (!onPath("python3") && !onPath("python")) missing.push("python3");
  if (!["/usr/include/zlib.h", "/usr/local/include/zlib.h"].some((f) => fs.existsSync(f))) missing.push("zlib headers (zlib1g-dev / zlib-devel)");
  return missing;
}

function main() {
  let why = fromSource ? "not tried (a source build was requested)" : null;
  if (!fromSource && !isDev) {
    const r = tryPrebuilt();
    if (r.loaded) {
      console.log(`npzguard: using ${path.relative(root, r.loaded)}`);
      return 0;
    }
    why = r.reason;
  }
  const logDir = isDev ? null : fs.mkdtempSync(path.join(os.tmpdir(), "npzguard-build-"));
  const log = logDir ? path.join(logDir, "build.log") : null;
  const used = buildFromSource(log);
  if (used) {
    if (!isDev) {
      pruneBuildTree();
      fs.rmSync(logDir, { recursive: true, force: true });
    }
    console.log(`npzguard: built the native addon from source (${used})`);
    return 0;
  }
  const missing = missingTools();
  const lines = [
    "npzguard: cannot install the native addon.",
    `  Prebuilt binary: ${why ?? "not used in a development checkout"}.`,
    `  Source build (cmake-js, then node-gyp) failed${missing.length ? `; missing: ${missing.join(", ")}` : ""}.`,
    ...(log ? [`  Build log: ${log}`] : []),
    "  Ways out:",
    "    - install a C++17 compiler and cmake (or python3 + make), e.g. `apt-get install g++ cmake`,",
    "      or `module load gcc cmake` on a cluster, then run `npm rebuild npzguard`;",
    "    - on Linux x64 with glibc too old for the prebuilt binary, build on this machine as above;",
    "    - build npzguard.node elsewhere for this platform and point NPZGUARD_ADDON at it",
    "      (install with --ignore-scripts then).",
  ];
  process.stderr.write(lines.join("\n") + "\n");
  return 1;
}

process.exitCode = main();
