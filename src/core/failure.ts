/**
 * PostgreSQL errors during a step → one line with the file and line of the failing statement
 * (SPEC §5), like dbmate's QueryError turning `position` into a line.
 */
import fs from 'node:fs';
import { pathToFileURL } from 'node:url';
import { isConnectionLost } from '../db/transaction.js';
import { MigrationFailed, StrataError } from '../errors.js';
import { lineOfStatementPosition, type SqlStatement } from '../sql/statements.js';
import { statementSiteOf } from './module-context.js';
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

/** The module function a failure happened in. */
export type ModuleFunction = 'up' | 'down' | 'destroys';

/**
 * A module migration threw (a PostgreSQL error or its own). A statement of ctx.sql that failed is
 * reported like a SQL file's, with the module's line it was written on (module-context.ts keeps
 * its call site): `002_t.ts:7: relation "nope" does not exist (SQLSTATE 42P01)`; anything else
 * the function threw says which function, and the line it threw from when that is in the module:
 * `002_t.ts:12: up() failed: backfill found 3 orphans`.
 *
 * A module cannot import strata's error classes reliably (it may live anywhere), so an error
 * carrying a numeric `exitCode` of SPEC §5 (e.g. 2 for a bad `--assume-timezone`) keeps that code.
 */
export function moduleFailure(step: PreparedStep, error: unknown, extraHint?: string, fn: ModuleFunction = step.direction): StrataError {
  if (error instanceof StrataError) return error;
  const file = step.migration.path.split(/[\\/]/).pop();
  const declared = (error as { exitCode?: unknown } | undefined)?.exitCode;
  if (typeof declared === 'number' && [1, 2, 5, 6].includes(declared) && error instanceof Error) {
    const hint = (error as { hint?: unknown }).hint;
    return new StrataError(`${file}: ${error.message}`, {
      exitCode: declared as 1 | 2 | 5 | 6, ...(typeof hint === 'string' ? { hint } : {}), cause: error,
    });
  }
  if (isConnectionLost(error)) return connectionLost(step, error);
  const pg = (error ?? {}) as PgErrorFields;
  const hint = pgHint(pg, extraHint);
  const site = statementSiteOf(error);
  // A failed statement's line is where it was written; anything else's, where it was thrown.
  const line = lineInModule(site ? site.stack : error instanceof Error ? error.stack : undefined, step.migration.path);
  const where = line === undefined ? file : `${file}:${line}`;
  // up()/down()'s own statement reads like a SQL file's; destroys() is always named (it is not the step).
  const message = site && line !== undefined && fn !== 'destroys' ? `${where}: ${pgMessage(pg)}` : `${where}: ${fn}() failed: ${pgMessage(pg)}`;
  return new MigrationFailed(message, { ...(hint ? { hint } : {}), cause: error });
}

/**
 * The line of the first frame of `stack` in the module file (a stack frame reads `at fn
 * (/dir/002_t.ts:7:11)`, or with a file: URL for ES modules; a .ts file's lines come mapped to the
 * source through tsx's source map). Frames of other files — strata, the driver, a helper module
 * the migration imports — are passed over: the line is the migration's own.
 */
export function lineInModule(stack: string | undefined, file: string): number | undefined {
  if (!stack) return undefined;
  const names = new Set([file, pathToFileURL(file).href]);
  try {
    const real = fs.realpathSync(file);
    names.add(real).add(pathToFileURL(real).href);
  } catch {
    // gone since it was loaded: the path as given
  }
  for (const frame of stack.split('\n')) {
    for (const name of names) {
      const at = frame.indexOf(name);
      if (at < 0) continue;
      // A query string (tsx's namespace) may follow the path, then :line:column.
      const match = /^(?:\?[^:\s)]*)?:(\d+):\d+/.exec(frame.slice(at + name.length));
      if (match) return Number(match[1]);
    }
  }
  return undefined;
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
