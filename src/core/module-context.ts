/**
 * The `ctx.sql` a TS/JS migration receives: the run's connection, inside the step's transaction,
 * recording each statement and its row count for the report (SPEC §5 JSON `statements`, §7 dry
 * runs), and refusing calls that would end strata's transaction behind its back.
 */
import type { Sql } from '../db/connect.js';
import { UsageError } from '../errors.js';

/** A statement a step ran, for the human and JSON reports. */
export interface StatementReport {
  sql: string;
  rowCount: number | null;
  /** Line in the migration file (SQL migrations). */
  line?: number;
  /** Why it did not run, e.g. "not executed in dry run". */
  skipped?: string;
}

type Thenable = { then: (onFulfilled?: (value: unknown) => unknown, onRejected?: (reason: unknown) => unknown) => unknown };

/** Records the query's text and row count when (and only when) the migration awaits it. */
function instrument<T>(query: T, text: string, sink: StatementReport[]): T {
  const q = query as unknown as Thenable;
  if (!q || typeof q.then !== 'function') return query;
  const original = q.then.bind(q);
  let recorded = false;
  q.then = (onFulfilled, onRejected) => original((result) => {
    if (!recorded) {
      recorded = true;
      const count = (result as { count?: number | null } | undefined)?.count;
      sink.push({ sql: text.trim(), rowCount: typeof count === 'number' ? count : null });
    }
    return onFulfilled ? onFulfilled(result) : result;
  }, onRejected);
  return query;
}

function templateText(strings: TemplateStringsArray): string {
  return strings.reduce((text, part, i) => (i === 0 ? part : `${text}$${i}${part}`), '');
}

/** Wraps the run's connection for a migration module; `inTransaction` forbids begin/reserve/end. */
export function recordingSql(sql: Sql, sink: StatementReport[], inTransaction: boolean): Sql {
  const forbidden = (name: string) => () => {
    throw new UsageError(`ctx.sql.${name}() is not allowed in a migration that strata runs in a transaction`, {
      hint: name === 'begin' ? 'use ctx.sql directly (it is already in the transaction), or export const transaction = false' : undefined,
    });
  };
  return new Proxy(sql, {
    apply(target, thisArg, args: unknown[]) {
      const result = Reflect.apply(target as unknown as (...a: unknown[]) => unknown, thisArg, args);
      const first = args[0] as TemplateStringsArray | undefined;
      return Array.isArray(first) && 'raw' in first ? instrument(result, templateText(first), sink) : result;
    },
    get(target, property, receiver) {
      if (inTransaction && (property === 'begin' || property === 'reserve' || property === 'end')) return forbidden(property);
      if (property === 'unsafe') {
        return (text: string, ...rest: unknown[]) =>
          instrument((target.unsafe as (...a: unknown[]) => unknown)(text, ...rest), text, sink);
      }
      return Reflect.get(target, property, receiver) as unknown;
    },
  });
}
