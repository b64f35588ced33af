// Shared harness of the hand-off tests (local and Slurm executors): a study tree of zero-byte
// inputs, the fake trainer, CLI output capture, and the fake trainer's start/end event log.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The fake trainer's directory: `python3 -m studies.fly64_dose_overlap.training` runs there. */
export const FAKE = fileURLToPath(new URL("./fake-trainer", import.meta.url));
/** Environment variables the fake trainer reads (cleared between tests). */
export const FAKE_VARS = [
  "FAKE_TRAINER_FAIL",
  "FAKE_TRAINER_EXIT",
  "FAKE_TRAINER_SLEEP",
  "FAKE_TRAINER_BAD_SHA",
  "FAKE_TRAINER_EVENTS",
  "CUDA_VISIBLE_DEVICES",
];

export interface Tree {
  root: string;
  c: string;
  d: string;
  a: string;
  events: string;
}

export function makeTree(doses = [1000, 10000, 100000], prefix = "npzguard-run-"): Tree {
  return makeTreeUnder(mkdtempSync(join(tmpdir(), prefix)), doses);
}

/** The same tree under a given (created) directory, e.g. one with a hostile name. */
export function makeTreeUnder(root: string, doses = [1000, 10000, 100000]): Tree {
  mkdirSync(root, { recursive: true });
  const c = join(root, "phase_c");
  const d = join(root, "phase_d");
  for (const dose of doses) {
    mkdirSync(join(c, `dose_${dose}`), { recursive: true });
    for (const s of ["train", "test"]) writeFileSync(join(c, `dose_${dose}`, `patched_${s}.npz`), "");
    for (const view of ["dense", "sparse"]) {
      mkdirSync(join(d, `dose_${dose}`, view), { recursive: true });
      for (const s of ["train", "test"]) writeFileSync(join(d, `dose_${dose}`, view, `${s}.npz`), "");
    }
  }
  return { root, c, d, a: join(root, "phase_e"), events: join(root, "events.jsonl") };
}

export { capture, type CliResult } from "./capture.js";

/** One line of the fake trainer's event log (FAKE_TRAINER_EVENTS). */
export interface TrainerEvent {
  event: "start" | "end";
  pid: number;
  view: string;
  dose: number;
  cuda: string | null;
  time: number;
  /** Absolute path and SHA-256 of the train / test file the trainer read. */
  train: string;
  test: string;
  train_sha256: string;
  test_sha256: string;
}

export function readEvents(t: Tree): TrainerEvent[] {
  if (!existsSync(t.events)) return [];
  return readFileSync(t.events, "utf8")
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as TrainerEvent);
}

/** A CLI run in a child process (signals, concurrency, cwd): exit code or signal and its output. */
export interface ChildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Starts `node <dist>/cli/main.js ...args`; `done` resolves when it exits. */
export function startCli(dist: string, args: string[], o: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): { child: ChildProcess; done: Promise<ChildRun> } {
  const child = spawn(process.execPath, [join(dist, "cli", "main.js"), ...args], {
    cwd: o.cwd ?? process.cwd(),
    env: o.env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<ChildRun>((resolve) => child.once("close", (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, done };
}
