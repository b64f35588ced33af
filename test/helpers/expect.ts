// expectNpzError / expectNpzErrorAsync: assert that a call fails with an NpzError carrying one of
// the given codes (never the message text), and hand the error back for further checks.
import { expect } from "vitest";
import { NpzError, type ErrorCode } from "../../src/errors.js";

type Codes = ErrorCode | readonly ErrorCode[];

function check(err: unknown, codes: Codes): NpzError {
  const want: readonly ErrorCode[] = typeof codes === "string" ? [codes] : codes;
  if (!(err instanceof NpzError)) {
    const code = (err as { code?: unknown } | null)?.code;
    expect.fail(`expected NpzError ${want.join("|")}, got ${String((err as Error)?.name)} code=${String(code)}: ${String((err as Error)?.message ?? err)}`);
  }
  expect(want, `message: ${err.message}`).toContain(err.code);
  return err;
}

/** Calls fn and asserts it throws an NpzError whose code is `codes` (or one of them). */
export function expectNpzError(fn: () => unknown, codes: Codes): NpzError {
  let result: unknown;
  try {
    result = fn();
  } catch (err) {
    return check(err, codes);
  }
  if (result instanceof Promise) {
    // Guard against passing an async function here: the rejection would go unobserved.
    result.catch(() => undefined);
    return expect.fail("expectNpzError got a Promise; use expectNpzErrorAsync");
  }
  return expect.fail(`expected ${String(codes)}, but the call returned normally`);
}

/** Awaits fn() (or a promise) and asserts it rejects (or throws) with the given code(s). */
export async function expectNpzErrorAsync(fn: (() => Promise<unknown>) | Promise<unknown>, codes: Codes): Promise<NpzError> {
  try {
    await (typeof fn === "function" ? fn() : fn);
  } catch (err) {
    return check(err, codes);
  }
  return expect.fail(`expected ${String(codes)}, but the promise resolved`);
}

/** Runs fn and returns the thrown error (or undefined), for tests that branch on where a problem shows. */
export function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}
