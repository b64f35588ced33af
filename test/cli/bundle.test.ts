// The CommonJS bundle of the CLI (dist/cli-bundle/, made by scripts/bundle-cli.mjs after tsc) is
// what bin/npzguard runs. It must be the same program as the ES modules in dist/cli/: every
// command below gives the same exit code, stdout and stderr through both entries. The inputs are
// numpy-written fixtures (test/fixtures/study: np.savez / np.savez_compressed; corrupt: a
// damaged CRC) plus usage errors and a missing file.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const BIN = join(REPO, "bin", "npzguard");
const MODULES = join(REPO, "dist", "cli", "main.js");
const BUNDLE = join(REPO, "dist", "cli-bundle", "main.cjs");
const STUDY = join(REPO, "test", "fixtures", "study");
const CORRUPT = join(REPO, "test", "fixtures", "corrupt");

function env(): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env };
  delete e.NODE_EXTRA_CA_CERTS;
  delete e.NPZGUARD_NODE_EXTRA_CA_CERTS;
  return e;
}

// JUnit reports carry the time each file took; nothing else differs from run to run
const untimed = (s: string) => s.replace(/ time="[0-9.]+"/g, ' time="T"');

function run(entry: string, args: string[], cwd: string) {
  const r = spawnSync(process.execPath, [entry, ...args], { cwd, encoding: "utf8", env: env() });
  return { code: r.status, stdout: untimed(r.stdout), stderr: r.stderr };
}

let work: string;
beforeAll(() => {
  for (const f of [MODULES, BUNDLE]) {
    if (!existsSync(f)) throw new Error(`${f} is missing: npm test's pretest builds it (tsc, then scripts/bundle-cli.mjs)`);
  }
  work = mkdtempSync(join(tmpdir(), "npzguard-bundle-"));
  writeFileSync(join(work, "junk.npz"), "not a zip file at all");
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("the CLI bundle", () => {
  it("is what bin/npzguard runs", () => {
    const r = spawnSync(BIN, ["--version", "--verbose"], { encoding: "utf8", env: env() });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^ {2}cli {7}bundled \(dist\/cli-bundle\)$/m);
    // the ES modules say so too when run directly
    expect(run(MODULES, ["--version", "--verbose"], REPO).stdout).toMatch(/^ {2}cli {7}ES modules \(dist\/cli\)$/m);
  });

  const cases: [string, string[]][] = [
    ["help", ["--help"]],
    ["version", ["--version"]],
    ["version --json", ["--version", "--json"]],
    ["check text, stored + deflated study files", ["check", join(STUDY, "phase_d"), "--verbose"]],
    ["check --json", ["check", "--json", join(STUDY, "phase_d", "train.npz"), join(STUDY, "invalid", "bad_diffraction.npz")]],
    ["check --format junit", ["check", "--format", "junit", join(STUDY, "invalid", "bad_diffraction.npz")]],
    ["check of a CRC-damaged member", ["check", "--json", join(CORRUPT, "crc_mismatch_deflated.npz")]],
    ["check --headers-only --threads 1", ["check", "--headers-only", "--threads", "1", join(STUDY, "phase_d", "test.npz")]],
    ["check of a missing file", ["check", "does-not-exist.npz"]],
    ["check of a non-zip file", ["check", "junk.npz"]],
    ["check usage error", ["check", "--bogus"]],
    ["inspect", ["inspect", join(STUDY, "phase_d", "train.npz")]],
    ["inspect --json of a directory", ["inspect", "--json", join(STUDY, "phase_d")]],
    ["plan --help", ["plan", "--help"]],
    ["run --help", ["run", "--help"]],
    ["status --help", ["status", "--help"]],
    ["fix --help", ["fix", "--help"]],
    ["report --help", ["report", "--help"]],
    ["unknown command", ["frobnicate"]],
  ];
  it.each(cases)("%s: same exit code and output as the ES modules", (_name, args) => {
    const a = run(MODULES, args, work);
    const b = run(BUNDLE, args, work);
    expect(b).toEqual(a);
    expect(a.stdout.length + a.stderr.length).toBeGreaterThan(0);
  });

  it("runs a whole check through bin/npzguard with the numpy file's real verdict", () => {
    const r = spawnSync(BIN, ["check", "--json", join(STUDY, "phase_d", "train.npz"), join(CORRUPT, "crc_mismatch_stored.npz")], {
      encoding: "utf8",
      env: env(),
    });
    expect(r.status).toBe(1); // the CRC mismatch is an error finding
    const rep = JSON.parse(r.stdout) as { files: { path: string; ok: boolean }[] };
    expect(rep.files.map((f) => f.ok)).toEqual([true, false]);
  });
});
