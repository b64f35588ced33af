// Shared CLI plumbing: exit codes, argument parsing (node:util parseArgs, strict: unknown flags
// are usage errors), error printing (one line per error, stack only with --debug).
import { fstatSync, writeSync } from "node:fs";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { isNpzError } from "../errors.js";
import { VERSION } from "../version.js";

/** 70 is sysexits' EX_SOFTWARE: a bug in npzguard, not a problem with the input. */
export const EXIT = { OK: 0, VIOLATIONS: 1, USAGE: 2, UNREADABLE: 3, INTERNAL: 70 } as const;

/**
 * Version of every `--json` document's shape (schemas/<command>.schema.json). Raised when a key
 * is removed or changes meaning; adding a key does not raise it.
 */
export const JSON_SCHEMA_VERSION = 1;

/**
 * The one envelope of every `--json` document: `schemaVersion` and `tool` first, then the
 * command's own keys, unchanged. npzguard's own keys are camelCase; the job records of
 * plan/run/status keep the reference study tool's snake_case names verbatim.
 */
export function jsonDocument<T extends object>(doc: T): { schemaVersion: number; tool: { name: string; version: string } } & T {
  return { schemaVersion: JSON_SCHEMA_VERSION, tool: { name: "npzguard", version: VERSION }, ...doc };
}

/** `jsonDocument(doc)` as the CLI prints it: two-space indented, one trailing newline. */
export function jsonText(doc: object): string {
  return JSON.stringify(jsonDocument(doc), null, 2) + "\n";
}

/**
 * Exit code for an error caught by a command: 3 when the input or the environment is at fault (an
 * NpzError, or any error carrying a string `code` such as ENOENT or ERR_STUDY_ROOT), 70 otherwise
 * (a bug in npzguard).
 */
export function exitCodeFor(err: unknown): number {
  if (isNpzError(err)) return EXIT.UNREADABLE;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? EXIT.UNREADABLE : EXIT.INTERNAL;
}

export class UsageError extends Error {
  override readonly name = "UsageError";
}

export function printUsageError(err: UsageError, help?: string): void {
  process.stderr.write(`npzguard: ${err.message}\n`);
  if (help) process.stderr.write(`\n${help}\n`);
}

type Options = NonNullable<ParseArgsConfig["options"]>;

/** What parseCommandArgs returns for a given options table (values typed per option). */
export type ParsedCommandArgs<T extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: T; allowPositionals: boolean; strict: true }>>;

/** parseArgs with strict checking; throws UsageError with a readable message. */
export function parseCommandArgs<T extends Options>(argv: string[], options: T, allowPositionals = true): ParsedCommandArgs<T> {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message.replace(/^TypeError \[[A-Z_]+\]: /, "") : String(e));
  }
}

/**
 * The start every command shares: parse argv strictly; on a usage error print it with the help
 * (exit 2), on --help print the help (exit 0). Returns the parsed arguments, or the exit code the
 * command returns as it is.
 */
export function parseCommand<T extends Options>(argv: string[], options: T, help: string, allowPositionals = true): ParsedCommandArgs<T> | number {
  return startCommand(
    () => parseCommandArgs(argv, options, allowPositionals),
    (p) => (p.values as { help?: unknown }).help === true,
    help,
  );
}

/**
 * parseCommand() for a command with its own parser: `parse` throws UsageError for bad
 * arguments, printed with `usageHint` (default: the help) and exit 2; when `isHelp` says --help
 * was given, the help is printed and 0 returned. Otherwise returns what `parse` returned.
 */
export function startCommand<R>(parse: () => R, isHelp: (parsed: R) => boolean, help: string, usageHint: string = help): R | number {
  let parsed: R;
  try {
    parsed = parse();
  } catch (e) {
    if (e instanceof UsageError) {
      printUsageError(e, usageHint);
      return EXIT.USAGE;
    }
    throw e;
  }
  if (isHelp(parsed)) {
    process.stdout.write(help + "\n");
    return EXIT.OK;
  }
  return parsed;
}

/** Parses a positive integer flag value or throws UsageError naming the flag. */
export function intOption(name: string, value: string | undefined, min = 0): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[0-9]+$/.test(value) || Number(value) < min) {
    throw new UsageError(`Expected an integer >= ${min} for --${name}, got '${value}'`);
  }
  return Number(value);
}

/** Largest --threads value (the library's MAX_THREADS; kept here so parsing loads no addon). */
export const MAX_THREADS_FLAG = 1024;

/** --threads N: an integer from 1 to 1024, or UsageError; undefined (automatic) when absent. */
export function threadsOption(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[0-9]+$/.test(value) || Number(value) < 1 || Number(value) > MAX_THREADS_FLAG) {
    throw new UsageError(`Expected a positive integer (1 to ${MAX_THREADS_FLAG}) for --threads, got '${value}'`);
  }
  return Number(value);
}

/** A byte count: an integer with an optional binary suffix K, M, G or T (KiB..TiB), e.g. 64G. */
export function sizeOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = /^([0-9]+)([KMGT])?(?:i?B)?$/i.exec(value.trim());
  const n = m ? Number(m[1]) * 1024 ** "_KMGT".indexOf((m[2] ?? "_").toUpperCase()) : NaN;
  if (!Number.isSafeInteger(n)) {
    throw new UsageError(`Expected a byte count such as 1048576, 512M or 64G for --${name}, got '${value}'`);
  }
  return n;
}

/** Formats any error as the CLI's one-line form. */
export function errorLine(err: unknown, debug = false): string {
  if (isNpzError(err)) return err.toLine() + (debug && err.stack ? `\n${err.stack}` : "");
  if (err instanceof Error) return debug && err.stack ? err.stack : `${err.name}: ${err.message}`;
  return String(err);
}

/**
 * Whether to draw progress bars / colours on stderr. A terminal is a character device: anything
 * else (a pipe, a file, a closed fd) is answered from one fstat, without creating
 * `process.stderr`, whose stream classes cost a short run ~2 ms of start-up.
 */
export function stderrIsInteractive(): boolean {
  if (process.env.NO_COLOR || process.env.CI) return false;
  try {
    if (!fstatSync(2).isCharacterDevice()) return false;
  } catch {
    return false;
  }
  return Boolean(process.stderr.isTTY);
}

/** @internal Where writeStdout writes: fd 1 (default), or `process.stdout` (in-process tests capture that). */
export const stdoutSink = { direct: true };

/**
 * Writes a command's whole result to stdout: with write(2) on fd 1 directly (no stream objects
 * to set up, ~2 ms of a short run), all of it before returning. Where that cannot go on (fd 1
 * non-blocking and full: EAGAIN), the rest goes through `process.stdout`, which queues it and
 * flushes it before the process exits. A reader that went away (EPIPE, `npzguard check ... |
 * head -1`) ends the output quietly: the exit code stays the command's verdict.
 */
export function writeStdout(text: string): void {
  if (!stdoutSink.direct) {
    process.stdout.write(text);
    return;
  }
  const bytes = Buffer.from(text, "utf8");
  let off = 0;
  try {
    while (off < bytes.length) off += writeSync(1, bytes, off, bytes.length - off);
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (code === "EPIPE") return;
    if (code !== "EAGAIN") throw e;
    process.stdout.on("error", () => {}); // EPIPE later: same as above
    process.stdout.write(bytes.subarray(off));
  }
}
