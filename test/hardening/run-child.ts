// Runs test/hardening/child.mjs in its own Node process (so a crash, hang or memory blow-up kills
// the child, not the test runner) and parses the JSON reply it prints as its last stdout line.
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), "child.mjs");

export interface ChildRun<R> {
  reply: R | null;
  code: number | null;
  signal: string | null;
  stderr: string;
}

/**
 * Spawns child.mjs with args (and extra environment variables); SIGKILLs it after timeoutMs.
 * `prefix` runs the child under another program (e.g. setpriv to drop capabilities).
 */
export function runChild<R>(args: string[], timeoutMs: number, env: Record<string, string> = {}, prefix: string[] = []): Promise<ChildRun<R>> {
  return new Promise((resolve, reject) => {
    const argv = [...prefix, process.execPath, CHILD, ...args];
    const c = spawn(argv[0] as string, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
    let out = "";
    let err = "";
    c.stdout.on("data", (b: Buffer) => (out += b.toString()));
    c.stderr.on("data", (b: Buffer) => (err += b.toString()));
    const timer = setTimeout(() => c.kill("SIGKILL"), timeoutMs);
    c.on("error", reject);
    c.on("close", (code, signal) => {
      clearTimeout(timer);
      let reply: R | null = null;
      try {
        reply = JSON.parse(out.trim().split("\n").pop() ?? "") as R;
      } catch {
        reply = null;
      }
      resolve({ reply, code, signal, stderr: err });
    });
  });
}
