// --threads on `check`, `plan` and `run`: a positive integer (1..1024) or a usage error (exit 2,
// a message naming --threads); the value reaches every archive the command opens; reports are
// the same at --threads 1 and 2 on numpy-written stored, deflated and CRC-damaged files; and
// `--version --verbose` says the default and what decided it (1 under `taskset -c 0`).
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { run as checkCli } from "../../src/cli/check.js";
import { run as planCli } from "../../src/cli/plan.js";
import { run as runCli } from "../../src/cli/run.js";
import type { OpenOptions } from "../../src/types.js";
import { capture } from "../helpers/capture.js";
import { writeThreadsFixtures, type ThreadsFixtures } from "../helpers/threads-fixtures.js";

// Every archive opened in this process records the thread count it resolved (NpzFile#threads).
const opened = vi.hoisted(() => [] as number[]);
vi.mock("../../src/npz.js", async (importOriginal) => {
  const mod = await importOriginal<typeof import("../../src/npz.js")>();
  return {
    ...mod,
    openNpz: (p: string, o?: OpenOptions) => {
      const f = mod.openNpz(p, o);
      opened.push(f.threads);
      return f;
    },
  };
});

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const MAIN = path.join(REPO, "dist", "cli", "main.js");
const GRID = path.join(REPO, "test", "fixtures", "npz", "grid.npz");
const FIX = path.join(REPO, "test", "fixtures", "study");

let fx: ThreadsFixtures;
let study: string;
beforeAll(() => {
  fx = writeThreadsFixtures();
  study = mkdtempSync(path.join(tmpdir(), "npzguard-threads-study-"));
  const put = (src: string, dst: string) => {
    mkdirSync(path.dirname(dst), { recursive: true });
    copyFileSync(src, dst);
  };
  for (const s of ["train", "test"]) {
    put(path.join(FIX, "phase_c", "dose_1000", `patched_${s}.npz`), path.join(study, "C", "dose_1000", `patched_${s}.npz`));
    put(path.join(FIX, "phase_d", `${s}.npz`), path.join(study, "D", "dose_1000", "dense", `${s}.npz`));
  }
}, 120_000);
afterAll(() => {
  fx?.cleanup();
  if (study) rmSync(study, { recursive: true, force: true });
});
beforeEach(() => {
  opened.length = 0;
});

function studyArgs(): string[] {
  return [
    "--phase-c-root",
    path.join(study, "C"),
    "--phase-d-root",
    path.join(study, "D"),
    "--artifact-root",
    path.join(study, "E"),
    "--dose",
    "1000",
    "--no-cache",
  ];
}

const COMMANDS: [string, (argv: string[]) => Promise<number>, () => string[]][] = [
  ["check", checkCli, () => [GRID]],
  ["plan", planCli, studyArgs],
  ["run", runCli, () => [...studyArgs(), "--dry-run"]],
];

describe("--threads N", () => {
  for (const [name, cli, args] of COMMANDS) {
    it(`${name}: anything but an integer from 1 to 1024 is a usage error (exit 2)`, async () => {
      for (const bad of ["0", "-1", "1.5", "abc", "", "1e3", "1025", " 2", "0x4"]) {
        const r = await capture(() => cli([...args(), `--threads=${bad}`]));
        expect(r.code, `--threads=${bad}: ${r.stderr}`).toBe(2);
        expect(r.stderr).toContain("--threads");
      }
      const missing = await capture(() => cli([...args(), "--threads"]));
      expect(missing.code).toBe(2);
      expect(opened).toEqual([]); // refused before any file was opened
    });

    it(`${name}: the value reaches every archive opened`, async () => {
      const r = await capture(() => cli([...args(), "--threads", "3", "--json"]));
      expect(r.code, r.stderr).toBeLessThan(2);
      expect(opened.length).toBeGreaterThan(0);
      expect(new Set(opened)).toEqual(new Set([3]));
    });
  }

  it("check: without --threads, archives use the detected default", async () => {
    const { buildInfo } = await import("../../src/build-info.js");
    const r = await capture(() => checkCli([GRID, "--json"]));
    expect(r.code, r.stderr).toBeLessThan(2);
    expect(opened).toEqual([buildInfo().threads.default]);
  });
});

/** `npzguard check --json` in a child process; timings removed. */
function checkJson(args: string[]): { status: number | null; doc: unknown } {
  const r = spawnSync(process.execPath, [MAIN, "check", "--json", ...args], { encoding: "utf8", maxBuffer: 64 << 20 });
  const doc = JSON.parse(r.stdout, (k, v) => (k === "durationMs" ? undefined : v)) as unknown;
  return { status: r.status, doc };
}

describe("npzguard check at --threads 1 and 2", () => {
  it("reports the same on numpy-written stored, deflated and CRC-damaged files", () => {
    for (const file of [fx.stored, fx.deflated, fx.storedBadCrc]) {
      const one = checkJson(["--threads", "1", file]);
      const two = checkJson(["--threads", "2", file]);
      expect(two).toEqual(one);
    }
    const bad = checkJson(["--threads", "2", fx.storedBadCrc]);
    expect(bad.status).toBe(1);
    expect(JSON.stringify(bad.doc)).toContain("CRC-32");
  }, 120_000);
});

describe("npzguard --version --verbose", () => {
  it("reports 1 thread under `taskset -c 0`, decided by the affinity mask", () => {
    const r = spawnSync("taskset", ["-c", "0", process.execPath, MAIN, "--version", "--verbose", "--json"], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    const t = (JSON.parse(r.stdout) as { build: { threads: { default: number; source: string; affinity: number; hardware: number } } }).build.threads;
    expect(t.default).toBe(1);
    expect(t.affinity).toBe(1);
    expect(t.source).toBe(t.hardware > 1 ? "affinity" : "hardware");
    const text = spawnSync("taskset", ["-c", "0", process.execPath, MAIN, "--version", "--verbose"], { encoding: "utf8" });
    expect(text.stdout).toMatch(/\n {2}threads {3}1 by default \(from the (affinity mask|hardware)/);
  });

  it("says the default thread count and its source", () => {
    const r = spawnSync(process.execPath, [MAIN, "--version", "--verbose", "--json"], { encoding: "utf8" });
    const t = (JSON.parse(r.stdout) as { build: { threads: { default: number; source: string } } }).build.threads;
    expect(t.default).toBeGreaterThanOrEqual(1);
    expect(["cgroup-quota", "affinity", "hardware"]).toContain(t.source);
    const text = spawnSync(process.execPath, [MAIN, "--version", "--verbose"], { encoding: "utf8" }).stdout;
    expect(text).toContain(`  threads   ${t.default} by default (from the `);
  });
});
