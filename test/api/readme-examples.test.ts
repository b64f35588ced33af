// Every JavaScript/TypeScript example in README.md runs as written, as an ES module on the Node
// running the tests (CI: the lowest supported major), against files named as in the examples (a
// committed study file, and a probe written by the TypeScript writer). The scripts live one level below the repo root, so `import ... from "npzguard"`
// resolves to this package by its name (package self-reference), as it would for a user.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { npyBytes, numericNpy } from "../../src/writer/npy.js";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const blocks = [...readFileSync(join(REPO, "README.md"), "utf8").matchAll(/^( *)```(js|ts|mjs|javascript|typescript)\n([\s\S]*?)^ *```/gm)].map((m) =>
  m[3]!.replace(new RegExp(`^${m[1]}`, "gm"), ""),
);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(REPO, "build-test-readme-")); // build-*/ is git-ignored
  copyFileSync(join(REPO, "test", "fixtures", "study", "phase_c", "dose_1000", "patched_train.npz"), join(dir, "patched_train.npz"));
  // np.save("probe.npy", np.ones((64, 64), np.complex64)): interleaved (re, im) = (1, 0).
  const ones = new Float32Array(64 * 64 * 2);
  for (let i = 0; i < ones.length; i += 2) ones[i] = 1;
  writeFileSync(join(dir, "probe.npy"), npyBytes(numericNpy("<c8", [64, 64], ones)));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("README.md examples", () => {
  it("has JavaScript examples to run", () => {
    expect(blocks.length).toBeGreaterThanOrEqual(2);
  });

  it.each(blocks.map((code, i) => [i, code] as const))("example %i runs as an ES module", (i, code) => {
    const file = join(dir, `example-${i}.mjs`);
    writeFileSync(file, code);
    const r = spawnSync(process.execPath, [file], { cwd: dir, encoding: "utf8", timeout: 60_000 });
    expect(r.status, `${code}\n---\n${r.stderr}`).toBe(0);
  });
});
