// Output-path rules shared by fix and repack: an existing OUT needs `force`; OUT may not be IN
// (except fix --in-place); the result is written beside OUT and renamed (zip-out.ts).
import { lstatSync, realpathSync } from "node:fs";
import path from "node:path";

/** Misuse of the output options (the CLI maps it to exit 2). */
export class FixUsageError extends Error {
  override readonly name = "FixUsageError";
  readonly code: "ERR_FIX_OUTPUT_EXISTS" | "ERR_FIX_SAME_FILE" | "ERR_FIX_BAD_OPTION" | "ERR_FIX_NOT_NPZ";
  constructor(code: FixUsageError["code"], message: string) {
    super(message);
    this.code = code;
  }
}

export function isFixUsageError(err: unknown): err is FixUsageError {
  return err instanceof FixUsageError;
}

function exists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

function sameFile(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return path.resolve(a) === path.resolve(b);
  }
}

/** Refuses an output that would overwrite without `force`, or that is the input itself. */
export function checkOutput(input: string, output: string, force: boolean): void {
  if (typeof output !== "string" || output === "") throw new TypeError(`Expected a non-empty string for output, got ${JSON.stringify(output)}`);
  if (exists(output) && sameFile(input, output)) {
    throw new FixUsageError("ERR_FIX_SAME_FILE", `output ${output} is the input file (use --in-place to rewrite it)`);
  }
  if (exists(output) && !force) throw new FixUsageError("ERR_FIX_OUTPUT_EXISTS", `output ${output} exists (use --force to replace it)`);
}
