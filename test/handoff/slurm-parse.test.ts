// Slurm output parsing and batch script generation: pure functions, no cluster needed.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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
import {
  batchScript,
  checkPathForScript,
  checkSbatchValue,
  checkSlurmPaths,
  sbatchDirectives,
  sbatchWord,
  submissionPaths,
  writeSubmission,
} from "../../src/handoff/slurm-script.js";
import { isSlurmError } from "../../src/handoff/slurm.js";
import { shellQuote } from "../../src/handoff/trainer-command.js";
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
    job: {
      dose,
      view: "baseline",
      gridsize: 1,
      trainDataPath: "t",
      testDataPath: "u",
      artifactDir: `/a/dose_${dose}/baseline/gs1`,
      logPath: `/a/dose_${dose}/baseline/gs1/train.log`,
    },
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
      '"--comment=x y"',
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

/**
 * The words sbatch reads from the rest of an `#SBATCH` line, modelled on its directive parser
 * (src/sbatch/opt.c, _get_argument): words end at unquoted whitespace, '...' and "..." group,
 * a backslash escapes the next character (also inside quotes) and is dropped, an unquoted `#`
 * ends the line. The Slurm cluster tests check the same values against the real sbatch.
 */
function sbatchLineWords(line: string): string[] {
  const words: string[] = [];
  let i = 0;
  for (;;) {
    while (i < line.length && /\s/.test(line[i] as string)) i++;
    if (i >= line.length || line[i] === "#") return words;
    let w = "";
    let q: string | null = null;
    for (; i < line.length; i++) {
      const c = line[i] as string;
      if (c === "\\") {
        i++;
        w += line[i] ?? "";
      } else if (q !== null) {
        if (c === q) q = null;
        else w += c;
      } else if (c === '"' || c === "'") q = c;
      else if (/\s/.test(c)) break;
      else if (c === "#") {
        i = line.length;
        break;
      } else w += c;
    }
    words.push(w);
  }
}

/** Directory names that must survive every parser the script goes through. */
const HOSTILE = [
  "two words",
  "it's",
  'say "hi"',
  "$(touch pwned)",
  "`touch pwned`",
  "100%a %j %%",
  "-leading-dash",
  "#not-a-comment",
  "back\\slash",
  "grüße-日本",
  "hetjob packJob",
  "a;b|c&d>e<f*g?[h]{i}~j!k",
];

describe("batchScript() with hostile paths", () => {
  const hjob = (root: string, id = "dense_gs2_dose1000"): HandoffJob => ({
    id,
    job: {
      dose: 1000,
      view: "dense",
      gridsize: 2,
      trainDataPath: `${root}/t.npz`,
      testDataPath: `${root}/u.npz`,
      artifactDir: `${root}/x`,
      logPath: `${root}/x/train.log`,
    },
    command: { display: `printf '%s' done > ${shellQuote(`${root}/marker`)}`, file: "/bin/sh", args: [] },
    cwd: root,
    cliLogPath: `${root}/logs/phase_e_${id}.log`,
    statePath: `${root}/npzguard/attempts/${id}.state`,
  });

  it("writes #SBATCH words that sbatch's parser reads back exactly, with % doubled in --output", () => {
    for (const name of HOSTILE) {
      const a = `/a/${name}`;
      const w = `/w/${name}`;
      const paths = submissionPaths(a, "STAMP");
      const words = sbatchDirectives(2, paths, w, { sbatchArgs: [`--comment=${name}`], jobName: name }).flatMap((d) => sbatchLineWords(d));
      expect(words, name).toEqual([
        `--job-name=${name}`,
        "--array=0-1",
        "--ntasks=1",
        "--gres=gpu:1",
        `--chdir=${w}`,
        `--output=${paths.tasksDir.replace(/%/g, "%%")}/%a.log`,
        `--comment=${name}`,
      ]);
      // Older sbatch versions blank "hetjob"/"packjob" anywhere in the line: never written plainly.
      const noBackslash = a.replace(/\\/g, "");
      const script = batchScript([hjob(noBackslash)], submissionPaths(noBackslash, "STAMP"), w, { jobName: name });
      for (const l of script.split("\n").filter((x) => x.startsWith("#SBATCH "))) expect(l).not.toMatch(/hetjob|packjob/i);
    }
    expect(sbatchWord("plain-word_1.0:x=y,z/%a")).toBe("plain-word_1.0:x=y,z/%a");
  });

  it("emits a script that bash -n accepts and that runs the job without executing any part of a path", () => {
    const base = mkdtempSync(join(tmpdir(), "npzguard-script-"));
    try {
      for (const name of HOSTILE) {
        // The artifact root may not hold a backslash (refused, see below); the workdir may.
        const root = join(base, name.replace(/\\/g, ""));
        const work = join(root, `work ${name}`);
        mkdirSync(work, { recursive: true });
        const paths = submissionPaths(root, "STAMP");
        mkdirSync(paths.tasksDir, { recursive: true });
        mkdirSync(join(root, "logs"));
        const script = batchScript([hjob(root)], paths, work, {});
        const file = join(base, "s.sbatch");
        writeFileSync(file, script);
        execFileSync("bash", ["-n", file]);
        // Run the task body as Slurm would (task 0), with stdout going to the job log.
        const log = join(root, "logs", "phase_e_dense_gs2_dose1000.log");
        execFileSync("bash", ["-c", 'exec > "$1" 2>&1; exec bash "$2"', "x", log, file], {
          cwd: base,
          env: { ...process.env, SLURM_ARRAY_TASK_ID: "0", SLURM_JOB_ID: "7" },
        });
        expect(readFileSync(join(root, "marker"), "utf8"), name).toBe("done");
        const lines = readFileSync(log, "utf8").split("\n");
        expect(lines[1]).toBe(`# CWD: ${work}`);
        expect(lines[2]).toBe(`# Log: ${log}`);
        expect(readFileSync(join(paths.tasksDir, "0.state"), "utf8")).toMatch(/^start_ms=\d+\n[\s\S]*exit=0\n/);
      }
      expect(findPwned(base)).toEqual([]);
      expect(existsSync(join(process.cwd(), "pwned"))).toBe(false);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  it("refuses control characters in the artifact root, the workdir and the logs with ERR_SLURM_PATH", async () => {
    const controls = ["\n", "\r", "\0", "\t", "\x1b", "\x7f", "\x01"];
    for (const c of controls) {
      const bad = `/a/x${c}#SBATCH --wrap=touch pwned`;
      expect(checkPathForScript("--artifact-root", bad)).toMatch(/control character U\+00[0-7][0-9A-F]/);
      expect(checkSlurmPaths(bad, "/w")).not.toBeNull();
      expect(checkSlurmPaths("/a", bad)).not.toBeNull();
      const cases: [HandoffJob, string, string][] = [
        [hjob(bad), bad, "/w"],
        [hjob("/a"), "/a", bad],
        [{ ...hjob("/a"), cliLogPath: `${bad}/l.log` }, "/a", "/w"],
      ];
      for (const [j, root, work] of cases) {
        let err: unknown = null;
        try {
          batchScript([j], submissionPaths(root, "S"), work, {});
        } catch (e) {
          err = e;
        }
        expect(isSlurmError(err, "ERR_SLURM_PATH"), JSON.stringify(c)).toBe(true);
      }
      expect(() => sbatchDirectives(1, submissionPaths("/a", "S"), "/w", { partition: `gpu${c}x` })).toThrow(/control character/);
    }
    expect(checkPathForScript("--workdir", "/a/ok dir/é")).toBeNull();
    expect(checkSlurmPaths("/a/ok", "/w/ok")).toBeNull();
    // writeSubmission leaves nothing behind.
    const base = mkdtempSync(join(tmpdir(), "npzguard-script-"));
    try {
      const root = join(base, "a\nb");
      await expect(writeSubmission([hjob(root)], root, base, {})).rejects.toMatchObject({ code: "ERR_SLURM_PATH" });
      expect(readdirSync(base)).toEqual([]);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  it("refuses a backslash in the artifact root (Slurm's --output drops it), accepts it in the workdir", () => {
    expect(checkSlurmPaths("/a/back\\slash", "/w")).toMatch(/backslash/);
    expect(checkSlurmPaths("/a", "/w/back\\slash")).toBeNull();
    expect(() => batchScript([hjob("/a/b\\c")], submissionPaths("/a/b\\c", "S"), "/w", {})).toThrow(/backslash/);
  });
});

function findPwned(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.name === "pwned") out.push(p);
    if (e.isDirectory()) out.push(...findPwned(p));
  }
  return out;
}
