// CLI output capture for in-process tests of the subcommand entry points (src/cli/*.ts).
import { vi } from "vitest";
import { stdoutSink } from "../../src/cli/common.js";

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a CLI entry point with stdout/stderr captured (and restored afterwards). */
export async function capture(fn: () => Promise<number>): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  const o = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  const e = vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  const direct = stdoutSink.direct;
  stdoutSink.direct = false; // writeStdout writes fd 1 directly otherwise, past the spy
  try {
    const code = await fn();
    return { code, stdout, stderr };
  } finally {
    stdoutSink.direct = direct;
    o.mockRestore();
    e.mockRestore();
  }
}
