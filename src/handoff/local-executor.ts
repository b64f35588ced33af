// Local executor: runs trainer processes on this machine from a GPU pool. With N GPU ids at most
// N jobs run at once, each with CUDA_VISIBLE_DEVICES set to its own id; without a pool, one job
// at a time with the environment untouched. Each job's stdout+stderr go to its CLI log after a
// `# Command:` / `# CWD:` / `# Log:` header (TEST-CLI-001 layout); the log is created without
// following symlinks (safe-files.ts).
//
// Every trainer runs in a process group (session) of its own, under a small /bin/sh wrapper that
// records the trainer's exit status in the job's state file. Aborting the run (SIGINT/SIGTERM
// to npzguard) stops each running group (SIGTERM, SIGKILL after the grace period) and reports
// the job as interrupted; a trainer left running by an npzguard that was killed outright can be
// recognised and adopted by the next run (handoff.ts) through its recorded pgid and state file.
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, rmSync } from "node:fs";
import { hostname } from "node:os";
import { dirname } from "node:path";
import { cancelledOutcome, type ExecutionContext, type Executor, type ExitInfo, type HandoffJob, type JobOutcome, type LaunchInfo } from "./executor.js";
import { procStartTicks, stopGroup } from "./proc.js";
import { createFileNoFollow } from "../files/no-follow.js";

export interface LocalExecutorOptions {
  /** GPU ids of the pool (`--gpus 0,1`); empty or absent: one job at a time, no CUDA_VISIBLE_DEVICES. */
  gpus?: string[];
  /** Base environment of the trainers (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** After an abort, SIGTERM first, SIGKILL after this many ms (default 10 s). */
  killGraceMs?: number;
}

/**
 * The wrapper every trainer runs under: `sh -c WRAPPER npzguard-trainer <state> <file> <args...>`.
 * No value is interpolated into it (they are positional parameters). It runs the trainer, then
 * writes `exit=<status>` to the state file (temp + rename) and exits with the same status (or
 * dies of the same signal).
 */
export const TRAINER_WRAPPER = [
  'state=$1; shift; "$@"; rc=$?',
  'printf \'exit=%s\\n\' "$rc" > "$state.tmp" && mv -f "$state.tmp" "$state"',
  // A trainer killed by a signal: die of the same signal, so that npzguard sees the signal.
  'if [ "$rc" -gt 128 ] && sig=$(kill -l "$rc" 2>/dev/null); then trap - "$sig" 2>/dev/null; kill -s "$sig" $$; fi',
  'exit "$rc"',
].join("\n");

/** The header written at the top of every per-job CLI log. */
export function cliLogHeader(job: HandoffJob): string {
  return `# Command: ${job.command.display}\n# CWD: ${job.cwd}\n# Log: ${job.cliLogPath}\n# ${"=".repeat(78)}\n\n`;
}

interface Running {
  child: ChildProcess;
  pgid: number | null;
  stopping: Promise<void> | null;
}

export class LocalExecutor implements Executor {
  readonly name = "local" as const;
  private readonly gpus: (string | null)[];
  private readonly env: NodeJS.ProcessEnv;
  private readonly killGraceMs: number;
  private readonly running = new Set<Running>();

  constructor(options: LocalExecutorOptions = {}) {
    this.gpus = options.gpus && options.gpus.length > 0 ? [...options.gpus] : [null];
    this.env = options.env ?? process.env;
    this.killGraceMs = options.killGraceMs ?? 10_000;
  }

  async execute(jobs: HandoffJob[], ctx: ExecutionContext): Promise<JobOutcome[]> {
    const outcomes: (JobOutcome | undefined)[] = new Array(jobs.length);
    let next = 0;
    const onAbort = (): void => this.terminateAll();
    ctx.signal?.addEventListener("abort", onAbort, { once: true });
    const worker = async (gpu: string | null): Promise<void> => {
      for (;;) {
        if (ctx.signal?.aborted) return;
        const i = next++;
        const job = jobs[i];
        if (job === undefined) return;
        outcomes[i] = await this.runOne(job, gpu, ctx);
      }
    };
    try {
      await Promise.all(this.gpus.map((gpu) => worker(gpu)));
    } finally {
      ctx.signal?.removeEventListener("abort", onAbort);
    }
    return jobs.map((job, i) => outcomes[i] ?? cancelledOutcome(job));
  }

  private terminateAll(): void {
    for (const r of this.running) this.stop(r);
  }

  private stop(r: Running): Promise<void> {
    if (r.stopping) return r.stopping;
    if (r.pgid !== null) r.stopping = stopGroup(r.pgid, this.killGraceMs);
    else {
      r.child.kill("SIGTERM");
      r.stopping = Promise.resolve();
    }
    return r.stopping;
  }

  private async runOne(job: HandoffJob, gpu: string | null, ctx: ExecutionContext): Promise<JobOutcome> {
    const gate = await ctx.beforeLaunch(job);
    if (!gate.ok) {
      if (gate.cancel && ctx.onCancelled) return ctx.onCancelled(job, null, gate.reasons.join("; "));
      return ctx.onBlocked(job, gate.reasons);
    }

    const env: NodeJS.ProcessEnv = { ...this.env };
    if (gpu !== null) env.CUDA_VISIBLE_DEVICES = gpu;

    let fd: number;
    try {
      fd = createFileNoFollow(job.cliLogPath, cliLogHeader(job));
      mkdirSync(dirname(job.statePath), { recursive: true });
      rmSync(job.statePath, { force: true });
    } catch (e) {
      const now = Date.now();
      return ctx.onExit(job, {
        id: job.id,
        startMs: now,
        start: new Date(now).toISOString(),
        gpu,
        pid: null,
        externalId: null,
        endMs: now,
        end: new Date(now).toISOString(),
        exitCode: null,
        signal: null,
        spawnError: `cannot write ${job.cliLogPath}: ${e instanceof Error ? e.message : String(e)}`,
      });
    }

    const startMs = Date.now();
    const launch: LaunchInfo = { id: job.id, startMs, start: new Date(startMs).toISOString(), gpu, pid: null, externalId: null };
    let child: ChildProcess;
    try {
      // detached: setsid(), so the trainer and everything it starts form one group we can stop.
      child = spawn("/bin/sh", ["-c", TRAINER_WRAPPER, "npzguard-trainer", job.statePath, job.command.file, ...job.command.args], {
        cwd: job.cwd,
        env,
        stdio: ["ignore", fd, fd],
        detached: true,
      });
    } finally {
      closeSync(fd);
    }
    const entry: Running = { child, pgid: null, stopping: null };
    this.running.add(entry);

    let started: Promise<void> = Promise.resolve();
    const exit = await new Promise<{ code: number | null; signal: string | null; error: string | null }>((resolve) => {
      let settled = false;
      child.once("spawn", () => {
        launch.pid = child.pid ?? null;
        launch.pgid = child.pid ?? null;
        launch.host = hostname();
        launch.startTicks = procStartTicks(child.pid);
        entry.pgid = launch.pgid;
        if (ctx.signal?.aborted) void this.stop(entry);
        // Attach the handler now: a failing onStart must not become an unhandled rejection
        // while the trainer is still running; onExit rewrites the record anyway.
        started = ctx.onStart(job, { ...launch }).catch(() => undefined);
      });
      child.once("error", (err) => {
        if (settled) return;
        // An error before "spawn" means the process never ran; after it, wait for "exit".
        if (child.pid === undefined) {
          settled = true;
          resolve({ code: null, signal: null, error: err.message });
        }
      });
      child.once("exit", (code, signal) => {
        if (settled) return;
        settled = true;
        resolve({ code, signal: signal ?? null, error: null });
      });
    });
    // On an abort, wait until the whole group is gone (no trainer is left behind).
    if (entry.stopping) await entry.stopping;
    this.running.delete(entry);
    await started;
    const endMs = Date.now();
    const info: ExitInfo = {
      ...launch,
      endMs,
      end: new Date(endMs).toISOString(),
      exitCode: exit.code,
      signal: exit.signal,
      spawnError: exit.error,
    };
    if (entry.stopping && ctx.onInterrupted) {
      const why = ctx.signal?.reason;
      return ctx.onInterrupted(job, info, `interrupted${typeof why === "string" ? ` by ${why}` : ""}: trainer process group stopped`);
    }
    return ctx.onExit(job, info);
  }
}
