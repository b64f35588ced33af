#!/usr/bin/env node
// `prepack` step: builds the prebuilt N-API binary that `npm pack` / `npm publish` put in the
// tarball, at prebuilds/<platform>-<arch>/npzguard.napi.glibc.node (node-gyp-build's layout:
// N-API, so one binary serves every supported Node; glibc, so musl systems build from source).
//
// The build (CMake option NPZ_PREBUILT) links zlib and libstdc++ statically with their symbols
// hidden and uses no optional system library, so the binary needs only glibc and libgcc_s (which
// the node executable links itself). This script refuses to ship a binary that needs any other
// shared library, and prints the highest GLIBC_
// symbol version it needs (`node scripts/prebuild.mjs --check FILE` prints that for any file).
// `postpack` runs it with --clean to remove prebuilds/ from the checkout again.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);
const tuple = `${process.platform}-${process.arch}`;
const outDir = path.join(root, "prebuilds", tuple);
const outFile = path.join(outDir, "npzguard.napi.glibc.node");
// glibc's own libraries; anything else in DT_NEEDED would have to be on the user's machine.
const ALLOWED = /^(libc\.so\.6|libm\.so\.6|libpthread\.so\.0|libdl\.so\.2|librt\.so\.1|libgcc_s\.so\.1|ld-linux-x86-64\.so\.2|ld-linux-aarch64\.so\.1)$/;

function run(argv) {
  const r = spawnSync(argv[0], argv.slice(1), { cwd: root, encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${argv.join(" ")} failed (${r.status ?? r.error?.message}):\n${r.stdout ?? ""}${r.stderr ?? ""}`);
  return r.stdout;
}

/** DT_NEEDED entries and the highest GLIBC_ symbol version of an ELF shared object (readelf). */
export function inspectElf(file) {
  const needed = [...run(["readelf", "-d", "-W", file]).matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
  const versions = [...new Set([...run(["readelf", "-V", "-W", file]).matchAll(/Name: GLIBC_([0-9.]+)/g)].map((m) => m[1]))];
  versions.sort((a, b) => {
    const pa = a.split(".").map(Number),
      pb = b.split(".").map(Number);
    for (let i = 0; i < Math.max(pa.length, pb.length); i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
    return 0;
  });
  return { needed, maxGlibc: versions.at(-1) ?? null };
}

function check(file) {
  const { needed, maxGlibc } = inspectElf(file);
  const extra = needed.filter((n) => !ALLOWED.test(n));
  console.log(`npzguard prebuilt ${path.relative(root, file)}: needs ${needed.join(", ")}; highest symbol version GLIBC_${maxGlibc}`);
  if (extra.length) throw new Error(`the prebuilt binary needs shared libraries beyond glibc: ${extra.join(", ")}`);
  return { needed, maxGlibc };
}

function main(args) {
  if (args[0] === "--clean") {
    fs.rmSync(path.join(root, "prebuilds"), { recursive: true, force: true });
    return;
  }
  if (args[0] === "--check") {
    check(path.resolve(args[1] ?? outFile));
    return;
  }
  if (process.platform !== "linux") {
    console.log(`npzguard prebuild: no prebuilt binary for ${tuple} (Linux only); the tarball installs by building from source`);
    return;
  }
  const buildDir = path.join(root, "build-prebuilt");
  const cmakeJs = require.resolve("cmake-js/bin/cmake-js");
  console.error(`npzguard prebuild: building the self-contained ${tuple} binary (cmake-js, NPZ_PREBUILT=ON) ...`);
  run([process.execPath, cmakeJs, "rebuild", "-O", buildDir, "--CDNPZ_PREBUILT=ON", "--CDCMAKE_BUILD_TYPE=Release", "-l", "warn"]);
  const built = path.join(buildDir, "Release", "npzguard.node");
  check(built);
  // It must load in this Node before it ships.
  const addon = require(built);
  if (typeof addon.buildInfo !== "function") throw new Error(`${built} does not export buildInfo()`);
  fs.rmSync(path.join(root, "prebuilds"), { recursive: true, force: true });
  fs.mkdirSync(outDir, { recursive: true });
  fs.copyFileSync(built, outFile);
  fs.rmSync(buildDir, { recursive: true, force: true });
  console.error(`npzguard prebuild: wrote ${path.relative(root, outFile)} (${fs.statSync(outFile).size} bytes)`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`npzguard prebuild: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  }
}
