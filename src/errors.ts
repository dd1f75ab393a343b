/**
 * One error hierarchy; the exit code travels on the error (SPEC §5 "Exit codes").
 * Everything below `cli/` throws; `cli/main.ts` catches once, renders, and sets `process.exitCode`.
 */

/** Exit codes of SPEC §5. */
export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  connection: 3,
  lock: 4,
  integrity: 5,
  refused: 6,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** Options every strata error accepts. */
export interface StrataErrorOptions {
  /** Process exit code this error ends the run with. */
  exitCode?: ExitCodeValue;
  /** One line telling the user what to do next. */
  hint?: string;
  /** The underlying error, kept for `-v` and for programmatic callers. */
  cause?: unknown;
  /** Extra fields for the JSON error document (e.g. what a run applied before it failed). */
  details?: Record<string, unknown>;
}

/** Base class: a message for humans, an exit code, an optional hint. */
export class StrataError extends Error {
  readonly exitCode: ExitCodeValue;
  hint?: string;
  /** Merged into the `--json` failure document next to `error`. */
  details?: Record<string, unknown>;

  constructor(message: string, options: StrataErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.exitCode = options.exitCode ?? ExitCode.failed;
    if (options.hint !== undefined) this.hint = options.hint;
    if (options.details !== undefined) this.details = options.details;
  }
}

type SubclassOptions = Omit<StrataErrorOptions, 'exitCode'>;

/** Exit 1: a migration, verify check, restore or import failed. */
export class MigrationFailed extends StrataError {
  constructor(message: string, options: SubclassOptions = {}) {
    super(message, { ...options, exitCode: ExitCode.failed });
  }
}

/** Exit 2: unknown command/phase/flag, bad argument, invalid migrations directory or config. */
export class UsageError extends StrataError {
  constructor(message: string, options: SubclassOptions = {}) {
    super(message, { ...options, exitCode: ExitCode.usage });
  }
}

/** Exit 3: cannot connect or authenticate. */
export class ConnectionError extends StrataError {
  constructor(message: string, options: SubclassOptions = {}) {
    super(message, { ...options, exitCode: ExitCode.connection });
  }
}

/** Exit 4: the migration lock was not acquired in time. */
export class LockTimeout extends StrataError {
  constructor(message: string, options: SubclassOptions = {}) {
    super(message, { ...options, exitCode: ExitCode.lock });
  }
}

/** Exit 5: changed/missing/failed history, backup checksum or row-count mismatch. */
export class IntegrityError extends StrataError {
  constructor(message: string, options: SubclassOptions = {}) {
    super(message, { ...options, exitCode: ExitCode.integrity });
  }
}

/** Exit 6: a destructive step without confirmation. */
export class Refused extends StrataError {
  constructor(message: string, options: SubclassOptions = {}) {
    super(message, { ...options, exitCode: ExitCode.refused });
  }
}

/** True for errors that carry their own exit code. */
export function isStrataError(error: unknown): error is StrataError {
  return error instanceof StrataError;
}
