// Bundles the compiled CLI (dist/cli/main.js and what it imports) into CommonJS chunks under
// dist/cli-bundle/, which bin/npzguard runs. Run after tsc (npm's prepare / pretest / build:ts).
//
// Why: the CLI is ~35 ES modules. Node 20 loads ES modules through its ESM loader, which is not
// in Node's start-up snapshot: compiling the loader and resolving, reading and linking each
// module cost ~20 ms of a ~85 ms `npzguard check` of a small file on the 2-core VM, more than
// the check itself. The same code as a few CommonJS chunks loads through the CJS loader that is
// already in the snapshot. Subcommands stay separate chunks (loaded when used), as with the
// dynamic imports in src/cli/main.ts. The packages under node_modules and Node's builtins stay
// external (required at run time), so the bundle holds only this repository's code.
//
// The library API (dist/index.js, ESM) is not bundled. dist/cli/main.js stays runnable as it
// is; bin/npzguard falls back to it when the bundle is missing.
import { rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "rolldown";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const dist = path.join(root, "dist");
const outDir = path.join(dist, "cli-bundle");

rmSync(outDir, { recursive: true, force: true });
await build({
  input: path.join(dist, "cli", "main.js"),
  platform: "node",
  // bare specifiers (node:*, packages) stay run-time requires; relative imports are bundled
  external: (id) => !id.startsWith(".") && !path.isAbsolute(id),
  logLevel: "warn",
  output: {
    dir: outDir,
    format: "cjs",
    entryFileNames: "[name].cjs",
    chunkFileNames: "[name]-[hash].cjs",
    sourcemap: false,
  },
});
