// A private build of the CLI for tests that run it as a child process (Ctrl-C, SIGKILL): compiled
// from the current sources into build-test-*/ one level below the repo root, like dist/ (so
// version.ts finds ../package.json; build-*/ is git-ignored). Callers check that cli/main.js
// exists: type errors elsewhere in the tree still emit JavaScript, so tsc's exit code is ignored.
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = fileURLToPath(new URL("../..", import.meta.url));

/** Compiles src/ into a new build-test-<prefix>XXXXXX directory and returns its path. */
export function buildPrivateDist(prefix: string): string {
  const dist = mkdtempSync(join(REPO, `build-test-${prefix}`));
  try {
    execFileSync(process.execPath, [join(REPO, "node_modules", "typescript", "bin", "tsc"), "-p", join(REPO, "tsconfig.build.json"), "--outDir", dist], {
      cwd: REPO,
      stdio: "pipe",
    });
  } catch {
    // see the header: the caller checks for cli/main.js
  }
  return dist;
}
