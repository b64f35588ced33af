// Thin wrappers around the Slurm client commands the Slurm executor needs: sbatch, squeue,
// scontrol, sacct and scancel. Every call goes through child_process.execFile (no shell) with a
// timeout; outputs are parsed defensively, because the formats differ a little between Slurm
// versions and sites (sacct is often disabled, finished jobs leave scontrol after MinJobAge).
// Errors: SlurmError with code ERR_SLURM_UNAVAILABLE (no command on PATH, no configuration, no
// controller), ERR_SLURM_REJECTED (sbatch refused the script) or ERR_SLURM_COMMAND (anything else).
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";

export type SlurmErrorCode =
  | "ERR_SLURM_UNAVAILABLE"
  | "ERR_SLURM_REJECTED"
  | "ERR_SLURM_COMMAND"
  /** A path that cannot be written into a batch script safely (control character, or a backslash in Slurm's --output). */
  | "ERR_SLURM_PATH";

export class SlurmError extends Error {
  override readonly name = "SlurmError";
  constructor(
    readonly code: SlurmErrorCode,
    message: string,
    /** The script or artifact root the error is about, when there is one. */
    readonly path?: string,
    readonly hint?: string,
  ) {
    super(message);
  }

  /** One line, as the CLI prints it (plus the hint on a second line, when there is one). */
  toLine(): string {
    return `${this.code}: ${this.message}${this.path ? ` (${this.path})` : ""}${this.hint ? `\n  hint: ${this.hint}` : ""}`;
  }
}

export function isSlurmError(err: unknown, ...codes: SlurmErrorCode[]): err is SlurmError {
  return err instanceof SlurmError && (codes.length === 0 || codes.includes(err.code));
}

export interface SlurmCallOptions {
  /** Environment of the command (default process.env; SLURM_CONF is read from it). */
  env?: NodeJS.ProcessEnv;
  /** Kill the command after this many ms (default 30 s). */
  timeoutMs?: number;
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

const UNREACHABLE_RE =
  /configuration source|Unable to contact slurm controller|Connection refused|Unable to establish|Could not open .*slurm\.conf|Zero Bytes were transmitted|Socket timed out|munge/i;

/** Last non-empty line of a command's stderr (or stdout), for one-line error messages. */
export function lastLine(text: string): string {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  return lines[lines.length - 1] ?? "";
}

/**
 * Runs one Slurm command. Resolves with its exit code and output; rejects only when the command
 * could not be run at all (ERR_SLURM_UNAVAILABLE for ENOENT/EACCES, ERR_SLURM_COMMAND for a
 * timeout).
 */
export function slurmCommand(file: string, args: string[], options: SlurmCallOptions = {}): Promise<CommandResult> {
  const timeout = options.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    execFile(file, args, { env: options.env ?? process.env, timeout, maxBuffer: 16 * 1024 * 1024, encoding: "utf8" }, (err, stdout, stderr) => {
      if (err === null) {
        resolve({ code: 0, stdout, stderr });
        return;
      }
      const e = err as NodeJS.ErrnoException & { code?: string | number; killed?: boolean; signal?: string | null };
      if (e.code === "ENOENT" || e.code === "EACCES") {
        reject(
          new SlurmError(
            "ERR_SLURM_UNAVAILABLE",
            `${file} not found on PATH: this machine cannot talk to Slurm`,
            undefined,
            "run npzguard on a Slurm login node (sbatch, squeue, scontrol and scancel on PATH), or use --executor local",
          ),
        );
        return;
      }
      if (e.killed || (typeof e.code !== "number" && e.signal)) {
        reject(new SlurmError("ERR_SLURM_COMMAND", `${file} ${args.join(" ")} did not answer within ${timeout} ms`));
        return;
      }
      resolve({ code: typeof e.code === "number" ? e.code : 1, stdout: String(stdout ?? ""), stderr: String(stderr ?? "") });
    });
  });
}

function unreachable(file: string, r: CommandResult): SlurmError {
  const msg = lastLine(r.stderr) || lastLine(r.stdout) || `${file} exited with status ${r.code}`;
  return new SlurmError(
    "ERR_SLURM_UNAVAILABLE",
    `cannot reach the Slurm controller: ${msg}`,
    undefined,
    "set SLURM_CONF to the cluster's slurm.conf (or use a configless login node) and check `scontrol ping`",
  );
}

/** Checks that the client commands exist and the controller answers (`scontrol ping`). */
export async function checkSlurm(options: SlurmCallOptions = {}): Promise<void> {
  const conf = (options.env ?? process.env).SLURM_CONF;
  if (conf !== undefined && conf !== "" && !existsSync(conf)) {
    // The clients would retry reading it for up to a minute before giving up.
    throw new SlurmError(
      "ERR_SLURM_UNAVAILABLE",
      `SLURM_CONF names ${conf}, which does not exist`,
      undefined,
      "point SLURM_CONF at the cluster's slurm.conf, or unset it on a configless login node",
    );
  }
  let r: CommandResult;
  try {
    r = await slurmCommand("scontrol", ["ping"], { ...options, timeoutMs: options.timeoutMs ?? 20_000 });
  } catch (e) {
    if (isSlurmError(e, "ERR_SLURM_COMMAND")) {
      throw new SlurmError("ERR_SLURM_UNAVAILABLE", `cannot reach the Slurm controller: ${e.message}`, undefined, "check SLURM_CONF and `scontrol ping`");
    }
    throw e;
  }
  if (r.code !== 0 || !/\bUP\b/.test(r.stdout)) throw unreachable("scontrol", r);
  // sbatch is the one that matters; scontrol alone on PATH is not enough.
  await slurmCommand("sbatch", ["--version"], options);
}

/** `sbatch --parsable SCRIPT`: the job id. Throws ERR_SLURM_REJECTED / ERR_SLURM_UNAVAILABLE. */
export async function sbatch(scriptPath: string, options: SlurmCallOptions & { cwd?: string } = {}): Promise<string> {
  const r = await slurmCommand("sbatch", ["--parsable", scriptPath], options);
  if (r.code !== 0) {
    if (UNREACHABLE_RE.test(r.stderr)) throw unreachable("sbatch", r);
    const errors = r.stderr
      .split(/\r?\n/)
      .map((l) => l.replace(/^sbatch: (error: )?/, "").trim())
      .filter((l) => l.length > 0);
    throw new SlurmError(
      "ERR_SLURM_REJECTED",
      `sbatch rejected the job array: ${errors.join("; ") || `exit status ${r.code}`}`,
      scriptPath,
      "check the --slurm-*/--sbatch-arg options (`sinfo -s` lists partitions); nothing was submitted",
    );
  }
  // --parsable prints "<jobid>" or "<jobid>;<cluster>", possibly after warnings on other lines.
  const m = /^(\d+)(?:;\S+)?\s*$/m.exec(r.stdout);
  if (!m) throw new SlurmError("ERR_SLURM_COMMAND", `cannot read a job id from sbatch output '${r.stdout.trim()}'`, scriptPath);
  return m[1] as string;
}

/** `sbatch --test-only SCRIPT`: null when Slurm would accept it, else sbatch's error text. */
export async function sbatchTestOnly(scriptPath: string, options: SlurmCallOptions = {}): Promise<string | null> {
  const r = await slurmCommand("sbatch", ["--test-only", scriptPath], options);
  return r.code === 0 ? null : lastLine(r.stderr) || `exit status ${r.code}`;
}

/** `scancel JOBID` (the whole array). Throws when scancel fails for another reason than "already gone". */
export async function scancel(jobId: string, options: SlurmCallOptions = {}): Promise<void> {
  const r = await slurmCommand("scancel", [jobId], options);
  if (r.code !== 0 && !/Invalid job id|already completing or completed|Job\/step already/i.test(r.stderr)) {
    throw new SlurmError("ERR_SLURM_COMMAND", `scancel ${jobId} failed: ${lastLine(r.stderr) || `exit status ${r.code}`}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Task states

/** What npzguard makes of a Slurm state. */
export type TaskPhase = "pending" | "running" | "done" | "cancelled";

/** One array task as Slurm reports it. */
export interface TaskState {
  task: number;
  /** Slurm's own job id of the task (null while the task is part of a pending range). */
  jobId: string | null;
  /** Slurm state, upper case without suffixes (PENDING, RUNNING, COMPLETED, CANCELLED, ...). */
  state: string;
  phase: TaskPhase;
  reason: string | null;
  /** Exit status of the batch script, when Slurm knows it. */
  exitCode: number | null;
  /** Signal that ended the batch script (number), when non-zero. */
  signal: number | null;
  /** ISO-ish local start time as Slurm prints it, or null. */
  startTime: string | null;
  source: "squeue" | "scontrol" | "sacct";
}

const PENDING_STATES = new Set(["PENDING", "REQUEUED", "REQUEUE_FED", "REQUEUE_HOLD", "RESV_DEL_HOLD", "CONFIGURING", "RESIZING", "SPECIAL_EXIT"]);
const RUNNING_STATES = new Set(["RUNNING", "COMPLETING", "SUSPENDED", "STOPPED", "SIGNALING", "STAGE_OUT", "UPDATE_DB", "POWER_UP_NODE"]);
const CANCELLED_STATES = new Set(["CANCELLED", "REVOKED"]);

/** Normalizes a state as printed by squeue/scontrol/sacct ("CANCELLED by 0", "cancelled+", "CD"). */
export function normalizeState(raw: string): string {
  const word = raw.trim().split(/\s+/)[0] ?? "";
  const s = word.replace(/\+$/, "").toUpperCase();
  const short: Record<string, string> = {
    PD: "PENDING",
    R: "RUNNING",
    CG: "COMPLETING",
    CD: "COMPLETED",
    F: "FAILED",
    CA: "CANCELLED",
    TO: "TIMEOUT",
    NF: "NODE_FAIL",
    OOM: "OUT_OF_MEMORY",
    PR: "PREEMPTED",
    BF: "BOOT_FAIL",
    DL: "DEADLINE",
    CF: "CONFIGURING",
    S: "SUSPENDED",
    ST: "STOPPED",
    RQ: "REQUEUED",
  };
  return short[s] ?? s;
}

export function phaseOf(state: string): TaskPhase {
  const s = normalizeState(state);
  if (PENDING_STATES.has(s)) return "pending";
  if (RUNNING_STATES.has(s)) return "running";
  if (CANCELLED_STATES.has(s)) return "cancelled";
  return "done"; // COMPLETED, FAILED, TIMEOUT, NODE_FAIL, OUT_OF_MEMORY, PREEMPTED, BOOT_FAIL, DEADLINE
}

/** Expands an array task expression: "3", "0-8", "2-8%2", "1,3,5-7%4", "[0-8%2]". */
export function expandTaskRange(text: string): number[] {
  const body = text
    .trim()
    .replace(/^\[|\]$/g, "")
    .replace(/%\d+$/, "");
  const out: number[] = [];
  for (const part of body.split(",")) {
    const m = /^(\d+)(?:-(\d+))?(?::(\d+))?$/.exec(part.trim());
    if (!m) continue;
    const a = Number(m[1]);
    const b = m[2] !== undefined ? Number(m[2]) : a;
    const step = m[3] !== undefined ? Math.max(1, Number(m[3])) : 1;
    for (let i = a; i <= b && out.length < 1_000_000; i += step) out.push(i);
  }
  return out;
}

/** Parses Slurm's "code:signal" exit pair. */
export function parseExitPair(text: string | undefined): { exitCode: number | null; signal: number | null } {
  const m = /^(\d+):(\d+)$/.exec((text ?? "").trim());
  if (!m) return { exitCode: null, signal: null };
  const signal = Number(m[2]);
  return { exitCode: signal !== 0 ? null : Number(m[1]), signal: signal !== 0 ? signal : null };
}

const nullish = (v: string | undefined): string | null =>
  v === undefined || v === "" || v === "(null)" || v === "N/A" || v === "Unknown" || v === "None" ? null : v;

/**
 * Parses `squeue -h -r -o '%K|%i|%T|%r|%S'` output for one array (task id, job id, state,
 * reason, start time). Lines that do not fit are ignored.
 */
export function parseSqueue(text: string): TaskState[] {
  const out: TaskState[] = [];
  for (const line of text.split(/\r?\n/)) {
    const f = line.trim().split("|");
    if (f.length < 3) continue;
    const [taskText = "", idText = "", stateText = "", reason, start] = f;
    const state = normalizeState(stateText);
    if (state === "") continue;
    // A pending range is printed as one line ("0-8%2" / "3_[2-8%2]") unless -r expanded it.
    const tasks = /^\d+$/.test(taskText) ? [Number(taskText)] : expandTaskRange(taskText.includes("[") ? taskText.slice(taskText.indexOf("[")) : taskText);
    const jobId = /^\d+$/.test(idText) ? idText : /^\d+_\d+$/.test(idText) ? null : null;
    for (const task of tasks) {
      out.push({
        task,
        jobId: tasks.length === 1 ? jobId : null,
        state,
        phase: phaseOf(state),
        reason: nullish(reason),
        exitCode: null,
        signal: null,
        startTime: nullish(start),
        source: "squeue",
      });
    }
  }
  return out;
}

/** Splits one `scontrol -o show job` line into its Key=Value fields (values may hold spaces). */
export function parseScontrolFields(line: string): Map<string, string> {
  const fields = new Map<string, string>();
  let key: string | null = null;
  for (const token of line.trim().split(/\s+/)) {
    const eq = token.indexOf("=");
    if (eq > 0 && /^[A-Za-z][A-Za-z0-9_:/]*$/.test(token.slice(0, eq))) {
      key = token.slice(0, eq);
      fields.set(key, token.slice(eq + 1));
    } else if (key !== null) fields.set(key, `${fields.get(key) ?? ""} ${token}`);
  }
  return fields;
}

/** Parses `scontrol -o show job ARRAYID` (one line per task record, pending ranges included). */
export function parseScontrol(text: string, arrayJobId?: string): TaskState[] {
  const out: TaskState[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (!line.includes("JobId=")) continue;
    const f = parseScontrolFields(line);
    if (arrayJobId !== undefined && f.get("ArrayJobId") !== arrayJobId) continue;
    const taskText = f.get("ArrayTaskId");
    if (taskText === undefined) continue;
    const tasks = expandTaskRange(taskText);
    const state = normalizeState(f.get("JobState") ?? "");
    const { exitCode, signal } = parseExitPair(f.get("ExitCode"));
    for (const task of tasks) {
      out.push({
        task,
        jobId: tasks.length === 1 ? (f.get("JobId") ?? null) : null,
        state,
        phase: phaseOf(state),
        reason: nullish(f.get("Reason")),
        exitCode: phaseOf(state) === "pending" || phaseOf(state) === "running" ? null : exitCode,
        signal,
        startTime: nullish(f.get("StartTime")),
        source: "scontrol",
      });
    }
  }
  return out;
}

/** Parses `sacct -n -P -X -o JobID,State,ExitCode,Start` for one array ("12_3|COMPLETED|0:0|..."). */
export function parseSacct(text: string, arrayJobId: string): TaskState[] {
  const out: TaskState[] = [];
  for (const line of text.split(/\r?\n/)) {
    const [id = "", stateText = "", exit, start] = line.trim().split("|");
    const m = /^(\d+)_(\d+|\[[^\]]*\])$/.exec(id);
    if (!m || m[1] !== arrayJobId) continue;
    const state = normalizeState(stateText);
    const tasks = /^\d+$/.test(m[2] as string) ? [Number(m[2])] : expandTaskRange(m[2] as string);
    const { exitCode, signal } = parseExitPair(exit);
    for (const task of tasks) {
      out.push({ task, jobId: null, state, phase: phaseOf(state), reason: null, exitCode, signal, startTime: nullish(start), source: "sacct" });
    }
  }
  return out;
}

/** squeue's view of an array: null when squeue failed (controller unreachable). */
export async function squeueArray(arrayJobId: string, options: SlurmCallOptions = {}): Promise<TaskState[] | null> {
  const r = await slurmCommand("squeue", ["-h", "-r", "-j", arrayJobId, "-o", "%K|%i|%T|%r|%S"], options);
  if (r.code !== 0) return /Invalid job id/i.test(r.stderr) ? [] : null;
  return parseSqueue(r.stdout);
}

/** scontrol's view (includes finished tasks until MinJobAge); [] when the job is unknown, null on failure. */
export async function scontrolArray(arrayJobId: string, options: SlurmCallOptions = {}): Promise<TaskState[] | null> {
  const r = await slurmCommand("scontrol", ["-o", "show", "job", arrayJobId], options);
  if (r.code !== 0) return /Invalid job id/i.test(r.stderr) ? [] : null;
  return parseScontrol(r.stdout, arrayJobId);
}

/** sacct's view; null when accounting is disabled or sacct fails (callers then stop asking). */
export async function sacctArray(arrayJobId: string, options: SlurmCallOptions = {}): Promise<TaskState[] | null> {
  const r = await slurmCommand("sacct", ["-n", "-P", "-X", "-j", arrayJobId, "-o", "JobID,State,ExitCode,Start"], options);
  if (r.code !== 0) return null;
  return parseSacct(r.stdout, arrayJobId);
}

/** Merges the views: squeue (live) wins, then scontrol, then sacct. */
export function mergeViews(...views: (TaskState[] | null)[]): Map<number, TaskState> {
  const merged = new Map<number, TaskState>();
  for (const view of views) {
    for (const t of view ?? []) if (!merged.has(t.task)) merged.set(t.task, t);
  }
  return merged;
}
