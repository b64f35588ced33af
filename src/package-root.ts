// The package root: the nearest directory above this module that holds a package.json. The
// compiled modules (dist/*.js) sit one level below it and the CLI bundle (dist/cli-bundle/*.cjs,
// see scripts/bundle-cli.mjs) two, so paths into the package are found from here, never from a
// fixed number of "..".
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

function findRoot(start: string): string {
  let dir = start;
  for (let i = 0; i < 4; i++) {
    if (existsSync(path.join(dir, "package.json"))) return dir;
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return path.resolve(start, "..");
}

/** Absolute path of the installed package's root directory. */
export const PACKAGE_ROOT: string = findRoot(path.dirname(fileURLToPath(import.meta.url)));
