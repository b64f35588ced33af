// bin/npzguard, the package's `bin`: a file that is both a POSIX sh script and JavaScript. Run as
// a program, sh execs node on dist/cli/main.js (built by `npm test`'s pretest) with
// NODE_EXTRA_CA_CERTS moved aside, so Node does not parse a certificate bundle at start-up (the
// CLI hands the variable back to every child it starts); run as `node bin/npzguard`, it imports
// the CLI directly.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FAKE, makeTree, type Tree } from "../helpers/study-harness.js";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const BIN = join(REPO, "bin", "npzguard");
const MAIN = join(REPO, "dist", "cli", "main.js");
const PKG = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { version: string; bin: Record<string, string> };
const MISSING_CA = "/nonexistent/npzguard-test-ca.pem";

function envWith(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  delete env.NPZGUARD_NODE_EXTRA_CA_CERTS;
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

let tree: Tree;
beforeAll(() => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: build the TypeScript first (npm test does, via pretest)`);
  tree = makeTree([1000]);
});
afterAll(() => rmSync(tree.root, { recursive: true, force: true }));

describe("bin/npzguard", () => {
  it("is the package bin and runs the CLI", () => {
    expect(PKG.bin.npzguard).toBe("./bin/npzguard");
    const out = execFileSync(BIN, ["--version"], { encoding: "utf8", env: envWith({}) });
    expect(out.trim()).toBe(PKG.version);
  });

  it("also runs as JavaScript: node bin/npzguard ... (and through a symlink)", () => {
    expect(execFileSync(process.execPath, [BIN, "--version"], { encoding: "utf8", env: envWith({}) }).trim()).toBe(PKG.version);
    const link = join(tree.root, "npzguard-js-link");
    symlinkSync(BIN, link);
    const r = spawnSync(process.execPath, [link, "check", "--bogus"], { encoding: "utf8", env: envWith({}) });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("--bogus");
  });

  it("works through a symlink, as npm installs it (node_modules/.bin/npzguard)", () => {
    const link = join(tree.root, "npzguard-link");
    symlinkSync(BIN, link);
    const r = spawnSync(link, ["check", "--bogus"], { encoding: "utf8", env: envWith({}) });
    expect(r.status).toBe(2); // a usage error from the real CLI, not "not found"
    expect(r.stderr).toContain("--bogus");
  });

  it("keeps Node from loading NODE_EXTRA_CA_CERTS at start-up", () => {
    // Plain node reads the bundle before any script runs (and warns when it cannot): the launcher
    // does not let it, so no warning appears.
    const direct = spawnSync(process.execPath, [MAIN, "--version"], { encoding: "utf8", env: envWith({ NODE_EXTRA_CA_CERTS: MISSING_CA }) });
    expect(direct.stderr).toContain(MISSING_CA);
    const viaBin = spawnSync(BIN, ["--version"], { encoding: "utf8", env: envWith({ NODE_EXTRA_CA_CERTS: MISSING_CA }) });
    expect(viaBin.status).toBe(0);
    expect(viaBin.stderr).toBe("");
  });

  it.each([
    ["set", MISSING_CA],
    ["set but empty", ""],
    ["unset", undefined],
  ])("hands NODE_EXTRA_CA_CERTS (%s) back to the trainer, and nothing else", (_label, value) => {
    const out = join(tree.root, `ca-${_label.replace(/\W/g, "_")}.txt`);
    // {{ and }} are literal braces in a --trainer-cmd template.
    const probe = `printf '%s|%s|%s' "\${{NODE_EXTRA_CA_CERTS-<unset>}}" "\${{NPZGUARD_NODE_EXTRA_CA_CERTS-<unset>}}" "{dose}" > '${out}'`;
    const r = spawnSync(
      BIN,
      [
        "run",
        "--phase-c-root",
        tree.c,
        "--phase-d-root",
        tree.d,
        "--artifact-root",
        tree.a,
        "--workdir",
        FAKE,
        "--no-verify",
        "--dose",
        "1000",
        "--view",
        "baseline",
        "--force",
        "--trainer-cmd",
        probe,
      ],
      { encoding: "utf8", env: envWith({ NODE_EXTRA_CA_CERTS: value }) },
    );
    // The probe writes no training evidence, so the job itself counts as failed (exit 1).
    expect([0, 1], r.stderr).toContain(r.status);
    expect(readFileSync(out, "utf8")).toBe(`${value ?? "<unset>"}|<unset>|1000`);
  });
});

describe("check's output (written to fd 1 directly)", () => {
  // A numpy-written study file that passes (exit 0).
  const file = () => join(REPO, "test", "fixtures", "study", "phase_c", "dose_1000", "patched_train.npz");

  it("reaches a pipe whole", () => {
    const r = spawnSync(BIN, ["check", file(), "--json"], { encoding: "utf8", env: envWith({}) });
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { files: { path: string }[] };
    expect(doc.files.map((f) => f.path)).toEqual([file()]);
  });

  it("into a pipe whose reader has gone: no stack trace, and the exit code is still the verdict", () => {
    const normal = spawnSync(BIN, ["check", file(), "--json"], { encoding: "utf8", env: envWith({}) });
    // python3 hands npzguard the write end of a pipe whose read end it closed first: every write
    // fails with EPIPE.
    const py =
      "import os, subprocess, sys\nr, w = os.pipe()\nos.close(r)\np = subprocess.run(sys.argv[1:], stdout=w, stderr=subprocess.PIPE)\nsys.stderr.write(p.stderr.decode())\nprint(p.returncode)";
    const r = spawnSync("python3", ["-c", py, BIN, "check", file(), "--json"], { encoding: "utf8", env: envWith({}) });
    expect(r.status, r.stderr).toBe(0);
    expect(normal.status).toBe(0);
    expect(Number(r.stdout.trim())).toBe(0);
    expect(r.stderr).toBe("");
  });
});
