// A study tree of zero-byte files with RELATIVE roots C/, D/ (and A/ for artifacts): each test
// runs in a fresh temp directory that is also the cwd, so relative paths in plans and messages
// read exactly as the reference tool prints them. Registers its own beforeEach / afterEach.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach } from "vitest";

export interface RelativeTree {
  /** The current test's temp directory (the cwd while it runs). */
  readonly root: string;
  /** Creates an empty file at `rel` (and its directories). */
  touch(rel: string): void;
  /** Phase C train/test and Phase D dense/sparse train/test for each dose directory. */
  fullTree(doses?: string[]): void;
}

export function useRelativeTree(prefix: string): RelativeTree {
  let root = "";
  let prevCwd = "";
  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), prefix));
    prevCwd = process.cwd();
    process.chdir(root);
  });
  afterEach(() => {
    process.chdir(prevCwd);
    rmSync(root, { recursive: true, force: true });
  });
  const touch = (rel: string): void => {
    const f = path.join(root, rel);
    mkdirSync(path.dirname(f), { recursive: true });
    writeFileSync(f, "");
  };
  return {
    get root() {
      return root;
    },
    touch,
    fullTree(doses = ["dose_1000", "dose_10000", "dose_100000"]) {
      for (const X of doses) {
        touch(`C/${X}/patched_train.npz`);
        touch(`C/${X}/patched_test.npz`);
        for (const v of ["dense", "sparse"]) {
          touch(`D/${X}/${v}/train.npz`);
          touch(`D/${X}/${v}/test.npz`);
        }
      }
    },
  };
}
