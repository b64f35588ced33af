// Errors of the hand-off layer (run lock, run record, trainer pre-check). Each carries a stable
// ERR_* code and the path it concerns; the CLI prints `toLine()` as its one error line.
export type HandoffErrorCode =
  | "ERR_RUN_LOCKED" // another `npzguard run` holds <artifact_root>/.npzguard.lock
  | "ERR_RUN_LOCK" // the lock file cannot be opened or locked (permissions, a planted symlink)
  | "ERR_RUN_RECORD" // <artifact_root>/npzguard_runs.json is damaged
  | "ERR_TRAINER_IMPORT" // the trainer module does not import in --workdir with --python
  | "ERR_TRAINER_ELSEWHERE"; // a trainer of a selected job may still run on another host

export class HandoffError extends Error {
  override readonly name = "HandoffError";
  constructor(
    readonly code: HandoffErrorCode,
    message: string,
    readonly path?: string,
  ) {
    super(message);
  }

  toLine(): string {
    return `${this.code}: ${this.message}`;
  }
}

export function isHandoffError(err: unknown, ...codes: HandoffErrorCode[]): err is HandoffError {
  return err instanceof HandoffError && (codes.length === 0 || codes.includes(err.code));
}
