// NpzError: the one error class the reader throws. Codes are stable strings in Node's style and
// mirror native/core/errors.h (a test checks both lists agree).

export const ERROR_CODES = [
  "ERR_NPZ_OPEN",
  "ERR_NPZ_NOT_ZIP",
  "ERR_NPZ_CORRUPT",
  "ERR_NPZ_OVERLAP",
  "ERR_NPZ_DUPLICATE_MEMBER",
  "ERR_NPZ_BAD_NAME",
  "ERR_NPZ_ENCRYPTED",
  "ERR_NPZ_UNSUPPORTED_METHOD",
  "ERR_NPZ_SIZE_MISMATCH",
  "ERR_NPZ_CRC_MISMATCH",
  "ERR_NPZ_LIMIT",
  "ERR_NPZ_COMPRESSED_MEMBER",
  "ERR_NPZ_MEMBER_NOT_FOUND",
  "ERR_NPZ_CLOSED",
  "ERR_NPZ_ABORTED",
  "ERR_NPY_BAD_MAGIC",
  "ERR_NPY_BAD_VERSION",
  "ERR_NPY_BAD_HEADER",
  "ERR_NPY_HEADER_TOO_LARGE",
  "ERR_NPY_UNSUPPORTED_DTYPE",
  "ERR_NPY_NON_NATIVE_ENDIAN",
  "ERR_NPY_MISALIGNED",
  "ERR_NPY_TRUNCATED",
  "ERR_NPY_TRAILING_BYTES",
  "ERR_NPY_LENGTH_OVERFLOW",
  "ERR_NPY_PICKLE_REFUSED",
  "ERR_NPY_ROW_RANGE",
  "ERR_NPY_FORTRAN_ORDER",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

const CODE_SET: ReadonlySet<string> = new Set(ERROR_CODES);

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && CODE_SET.has(value);
}

export interface NpzErrorOptions {
  path?: string;
  member?: string;
  cause?: unknown;
}

export class NpzError extends Error {
  override readonly name = "NpzError";
  readonly code: ErrorCode;
  readonly path: string | undefined;
  readonly member: string | undefined;

  constructor(code: ErrorCode, message: string, options: NpzErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.path = options.path;
    this.member = options.member;
  }

  /** One line, as the CLI prints it: `ERR_CODE: message (path[:member])`. */
  toLine(): string {
    const where = this.path ? ` (${this.path}${this.member ? `:${this.member}` : ""})` : "";
    return `${this.code}: ${this.message}${where}`;
  }
}

/** True when err is an NpzError, optionally with one of the given codes. */
export function isNpzError(err: unknown, ...codes: ErrorCode[]): err is NpzError {
  return err instanceof NpzError && (codes.length === 0 || codes.includes(err.code));
}

/**
 * Converts an error thrown by the native addon (a plain Error with `code`/`member`) into an
 * NpzError carrying the path; anything else is rethrown unchanged.
 */
export function fromNative(err: unknown, path?: string, member?: string): unknown {
  if (err instanceof NpzError) return err;
  if (err instanceof Error) {
    const code = (err as Error & { code?: unknown }).code;
    if (isErrorCode(code)) {
      const m = (err as Error & { member?: unknown }).member;
      const memberName = typeof m === "string" && m.length > 0 ? m : member;
      return new NpzError(code, err.message, { path, member: memberName });
    }
  }
  return err;
}
