// Slurm output parsing and batch script generation: pure functions, no cluster needed.
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import {
  expandTaskRange,
  mergeViews,
  normalizeState,
  parseExitPair,
  parseSacct,
  parseScontrol,
  parseScontrolFields,
  parseSqueue,
  phaseOf,
} from "../../src/handoff/slurm.js";
import { batchScript, checkSbatchValue, sbatchDirectives, submissionPaths } from "../../src/handoff/slurm-script.js";
import type { HandoffJob } from "../../src/handoff/executor.js";

describe("expandTaskRange()", () => {
  it("expands single ids, ranges, steps, lists and throttles", () => {
    expect(expandTaskRange("3")).toEqual([3]);
    expect(expandTaskRange("0-3%2")).toEqual([0, 1, 2, 3]);
    expect(expandTaskRange("[1,4-6%4]")).toEqual([1, 4, 5, 6]);
    expect(expandTaskRange("0-6:3")).toEqual([0, 3, 6]);
    expect(expandTaskRange("garbage")).toEqual([]);
  });
});

describe("normalizeState() / phaseOf()", () => {
  it("maps long, short and suffixed states to phases", () => {
    expect(normalizeState("CANCELLED by 0")).toBe("CANCELLED");
    expect(normalizeState("cancelled+")).toBe("CANCELLED");
    expect(normalizeState("CD")).toBe("COMPLETED");
    expect(phaseOf("PENDING")).toBe("pending");
    expect(phaseOf("COMPLETING")).toBe("running");
    expect(phaseOf("TIMEOUT")).toBe("done");
    expect(phaseOf("FAILED")).toBe("done");
    expect(phaseOf("CA")).toBe("cancelled");
  });
  it("splits Slurm's code:signal pair", () => {
    expect(parseExitPair("3:0")).toEqual({ exitCode: 3, signal: null });
    expect(parseExitPair("0:15")).toEqual({ exitCode: null, signal: 15 });
    expect(parseExitPair(undefined)).toEqual({ exitCode: null, signal: null });
  });
});

describe("parseSqueue()", () => {
  it("reads expanded and unexpanded array lines and skips noise", () => {
    const tasks = parseSqueue("0|12|RUNNING|None|2026-11-28T17:53:10\n1|13|PENDING|JobArrayTaskLimit|N/A\n2-4%2|12_[2-4%2]|PENDING|Priority|N/A\n\nnonsense\n");
    expect(tasks.map((t) => [t.task, t.phase])).toEqual([
      [0, "running"],
      [1, "pending"],
      [2, "pending"],
      [3, "pending"],
      [4, "pending"],
    ]);
    expect(tasks[0]).toMatchObject({ jobId: "12", startTime: "2026-11-28T17:53:10", source: "squeue" });
    expect(tasks[1]?.reason).toBe("JobArrayTaskLimit");
  });
});

describe("parseScontrol()", () => {
  const text = [
    "JobId=14 ArrayJobId=12 ArrayTaskId=1 JobName=npzguard phase e JobState=FAILED Reason=NonZeroExitCode ExitCode=3:0 StartTime=2026-11-28T17:53:10",
    "JobId=12 ArrayJobId=12 ArrayTaskId=2-3%2 JobState=CANCELLED Reason=None ExitCode=0:0 StartTime=Unknown",
    "JobId=13 ArrayJobId=12 ArrayTaskId=0 JobState=RUNNING Reason=None ExitCode=0:0 StartTime=2026-11-28T17:53:10",
    "JobId=99 ArrayJobId=98 ArrayTaskId=0 JobState=RUNNING",
  ].join("\n");
  it("keeps values with spaces together", () => {
    expect(parseScontrolFields(text.split("\n")[0] as string).get("JobName")).toBe("npzguard phase e");
  });
  it("expands pending/cancelled ranges and ignores other arrays", () => {
    const tasks = parseScontrol(text, "12");
    expect(tasks.map((t) => [t.task, t.state, t.exitCode])).toEqual([
      [1, "FAILED", 3],
      [2, "CANCELLED", 0],
      [3, "CANCELLED", 0],
      [0, "RUNNING", null],
    ]);
    expect(tasks[2]?.jobId).toBeNull();
    expect(tasks[2]?.startTime).toBeNull();
  });
});

describe("parseSacct() / mergeViews()", () => {
  it("reads array rows and lets squeue win over scontrol over sacct", () => {
    const sa = parseSacct("12_0|COMPLETED|0:0|2026-11-28T17:53:10\n12_1|CANCELLED by 0|0:15|Unknown\n13_0|COMPLETED|0:0|x\n", "12");
    expect(sa.map((t) => [t.task, t.state, t.signal])).toEqual([
      [0, "COMPLETED", null],
      [1, "CANCELLED", 15],
    ]);
    const sq = parseSqueue("1|14|RUNNING|None|N/A");
    const merged = mergeViews(sq, null, sa);
    expect(merged.get(1)?.source).toBe("squeue");
    expect(merged.get(0)?.source).toBe("sacct");
  });
});

describe("batchScript()", () => {
  const job = (id: string, dose: number): HandoffJob => ({
    id,
    job: { dose, view: "baseline", gridsize: 1, trainDataPath: "t", testDataPath: "u", artifactDir: `/a/dose_${dose}/baseline/gs1`, logPath: `/a/dose_${dose}/baseline/gs1/train.log` },
    command: { display: `python3 -m studies.fly64_dose_overlap.training --dose ${dose} --view 'it'\\''s'`, file: "python3", args: [] },
    cwd: "/w",
    cliLogPath: `/a/logs/phase_e_${id}.log`,
    statePath: `/a/npzguard/attempts/${id}.state`,
  });
  const paths = submissionPaths("/a", "STAMP");

  it("writes the array, GPU request and pass-through options as #SBATCH lines", () => {
    const d = sbatchDirectives(9, paths, "/w", {
      arrayLimit: 2,
      partition: "gpu",
      account: "ptycho",
      time: "02:00:00",
      mem: "32G",
      qos: "normal",
      constraint: "a100",
      sbatchArgs: ["--exclusive", "--comment=x y"],
    });
    expect(d).toEqual([
      "--job-name=npzguard-phase-e",
      "--array=0-8%2",
      "--ntasks=1",
      "--gres=gpu:1",
      "--chdir=/w",
      "--output=/a/slurm/phase_e_STAMP.tasks/%a.log",
      "--partition=gpu",
      "--account=ptycho",
      "--time=02:00:00",
      "--mem=32G",
      "--qos=normal",
      "--constraint=a100",
      "--exclusive",
      "--comment=x y",
    ]);
    expect(sbatchDirectives(3, paths, "/w", { gpusPerTask: 2 })).toContain("--gpus-per-task=2");
    const none = sbatchDirectives(3, paths, "/w", { gpusPerTask: 0 });
    expect(none.some((x) => x.startsWith("--gres") || x.startsWith("--gpus"))).toBe(false);
    expect(sbatchDirectives(3, paths, "/w", {})).toContain("--array=0-2");
  });

  it("maps each array task to its job's command and log", () => {
    const s = batchScript([job("baseline_gs1_dose1000", 1000), job("baseline_gs1_dose10000", 10000)], paths, "/w", {});
    expect(s.startsWith("#!/bin/bash\n")).toBe(true);
    expect(s).toContain("#SBATCH --array=0-1\n");
    expect(s).toContain("  0)  # baseline_gs1_dose1000\n    LOG=/a/logs/phase_e_baseline_gs1_dose1000.log\n");
    expect(s).toContain("  1)  # baseline_gs1_dose10000\n");
    // The display command survives one level of shell quoting byte for byte.
    const line = s.split("\n").find((l) => l.trimStart().startsWith("CMD=")) as string;
    const echoed = execFileSync("bash", ["-c", `${line.trim()}; printf %s "$CMD"`], { encoding: "utf8" });
    expect(echoed).toBe(job("x", 1000).command.display);
    expect(s).toContain("cd /w || exit 1");
    expect(s).toContain('exit "$rc"');
  });

  it("refuses multi-line values", () => {
    expect(checkSbatchValue("--slurm-partition", "gpu\n#SBATCH --x")).not.toBeNull();
    expect(checkSbatchValue("--slurm-partition", "gpu")).toBeNull();
  });
});
