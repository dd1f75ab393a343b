/**
 * PostgreSQL errors during a step → one line with the file and line of the failing statement
 * (SPEC §5), like dbmate's QueryError turning `position` into a line.
 */
import { isConnectionLost } from '../db/transaction.js';
import { MigrationFailed, StrataError } from '../errors.js';
import { lineOfStatementPosition, type SqlStatement } from '../sql/statements.js';
import type { PreparedStep } from './steps.js';

/** The fields of porsager's PostgresError that we use. */
interface PgErrorFields {
  code?: string;
  message?: string;
  position?: string | number;
  hint?: string;
  detail?: string;
  severity?: string;
}

/** SQLSTATE 55P03: lock_timeout expired (the retryable failure of SPEC §5). */
export function isLockTimeout(error: unknown): boolean {
  return (error as PgErrorFields | undefined)?.code === '55P03';
}

function pgMessage(error: PgErrorFields): string {
  const code = error.code && /^[0-9A-Z]{5}$/.test(error.code) ? ` (SQLSTATE ${error.code})` : '';
  return `${error.message ?? String(error)}${code}`;
}

function pgHint(error: PgErrorFields, extra?: string): string | undefined {
  return [error.detail, error.hint, extra].filter(Boolean).join('; ') || undefined;
}

/** A statement of a SQL migration failed: `003_x/up.sql:42: relation "x" does not exist (SQLSTATE 42P01)`. */
export function statementFailure(step: PreparedStep, stmt: SqlStatement | undefined, error: unknown, extraHint?: string): StrataError {
  if (error instanceof StrataError) return error;
  const pg = (error ?? {}) as PgErrorFields;
  const source = step.source;
  if (isConnectionLost(error)) return connectionLost(step, error);
  let where = source ? source.displayPath : step.migration.path;
  if (source && stmt) {
    const position = Number(pg.position);
    where += `:${Number.isFinite(position) && position > 0 ? lineOfStatementPosition(stmt, source.text, position) : stmt.startLine}`;
  }
  const hint = pgHint(pg, extraHint);
  return new MigrationFailed(`${where}: ${pgMessage(pg)}`, { ...(hint ? { hint } : {}), cause: error });
}

/**
 * A module migration threw (a PostgreSQL error or its own). A module cannot import strata's error
 * classes reliably (it may live anywhere), so an error carrying a numeric `exitCode` of SPEC §5
 * (e.g. 2 for a bad `--assume-timezone`) keeps that code.
 */
export function moduleFailure(step: PreparedStep, error: unknown, extraHint?: string): StrataError {
  if (error instanceof StrataError) return error;
  const declared = (error as { exitCode?: unknown } | undefined)?.exitCode;
  if (typeof declared === 'number' && [1, 2, 5, 6].includes(declared) && error instanceof Error) {
    const hint = (error as { hint?: unknown }).hint;
    return new StrataError(`${step.migration.path.split(/[\\/]/).pop()}: ${error.message}`, {
      exitCode: declared as 1 | 2 | 5 | 6, ...(typeof hint === 'string' ? { hint } : {}), cause: error,
    });
  }
  if (isConnectionLost(error)) return connectionLost(step, error);
  const pg = (error ?? {}) as PgErrorFields;
  const file = step.migration.path.split(/[\\/]/).pop();
  const hint = pgHint(pg, extraHint);
  return new MigrationFailed(`${file}: ${step.direction}() failed: ${pgMessage(pg)}`, { ...(hint ? { hint } : {}), cause: error });
}

function connectionLost(step: PreparedStep, error: unknown): StrataError {
  const outcome = step.transactional
    ? 'PostgreSQL rolls back whatever had not committed'
    : 'it is recorded as failed: check the database, then migrate repair';
  return new MigrationFailed(`connection to the server was lost while running ${step.name} (${step.direction}); ${outcome}`, {
    hint: `migrate status shows whether ${step.name} was recorded`,
    cause: error,
  });
}
