// Local executor: runs trainer processes on this machine from a GPU pool. With N GPU ids at most
// N jobs run at once, each with CUDA_VISIBLE_DEVICES set to its own id; without a pool, one job
// at a time with the environment untouched. Each job's stdout+stderr go to its CLI log after a
// `# Command:` / `# CWD:` / `# Log:` header (TEST-CLI-001 layout).
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, openSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import {
  cancelledOutcome,
  type ExecutionContext,
  type Executor,
  type ExitInfo,
  type HandoffJob,
  type JobOutcome,
  type LaunchInfo,
} from "./executor.js";

export interface LocalExecutorOptions {
  /** GPU ids of the pool (`--gpus 0,1`); empty or absent: one job at a time, no CUDA_VISIBLE_DEVICES. */
  gpus?: string[];
  /** Base environment of the trainers (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** After an abort, SIGTERM first, SIGKILL after this many ms (default 10 s). */
  killGraceMs?: number;
}

/** The header written at the top of every per-job CLI log. */
export function cliLogHeader(job: HandoffJob): string {
  return `# Command: ${job.command.display}\n# CWD: ${job.cwd}\n# Log: ${job.cliLogPath}\n# ${"=".repeat(78)}\n\n`;
}

export class LocalExecutor implements Executor {
  readonly name = "local" as const;
  private readonly gpus: (string | null)[];
  private readonly env: NodeJS.ProcessEnv;
  private readonly killGraceMs: number;
  private readonly running = new Set<ChildProcess>();

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
    for (const child of this.running) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      }, this.killGraceMs);
      timer.unref();
    }
  }

  private async runOne(job: HandoffJob, gpu: string | null, ctx: ExecutionContext): Promise<JobOutcome> {
    const gate = await ctx.beforeLaunch(job);
    if (!gate.ok) return ctx.onBlocked(job, gate.reasons);

    const env: NodeJS.ProcessEnv = { ...this.env };
    if (gpu !== null) env.CUDA_VISIBLE_DEVICES = gpu;

    let fd: number;
    try {
      mkdirSync(dirname(job.cliLogPath), { recursive: true });
      fd = openSync(job.cliLogPath, "w", 0o644);
      writeSync(fd, cliLogHeader(job));
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
      child = spawn(job.command.file, job.command.args, { cwd: job.cwd, env, stdio: ["ignore", fd, fd] });
    } finally {
      closeSync(fd);
    }
    this.running.add(child);

    let started: Promise<void> = Promise.resolve();
    const exit = await new Promise<{ code: number | null; signal: string | null; error: string | null }>((resolve) => {
      let settled = false;
      child.once("spawn", () => {
        launch.pid = child.pid ?? null;
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
    this.running.delete(child);
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
    return ctx.onExit(job, info);
  }
}
