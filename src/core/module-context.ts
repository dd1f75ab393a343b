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

/** Where a statement was created: a stack captured then, formatted only if the statement fails. */
export interface StatementSite {
  readonly stack?: string;
}

const SITE = Symbol('strata.statementSite');

/** The site of the ctx.sql statement whose failure `error` is, if it is one (see instrument). */
export function statementSiteOf(error: unknown): StatementSite | undefined {
  return error !== null && typeof error === 'object' ? (error as { [SITE]?: StatementSite })[SITE] : undefined;
}

/**
 * The call site of a query, for the file and line of a failure (SPEC §5). V8 records the frames
 * now and formats them only when `.stack` is read — on failure — so a successful statement costs
 * the capture alone (about a microsecond). `above` is left out of the trace with everything it called.
 */
function captureSite(above: (...args: never[]) => unknown): StatementSite {
  const site: { stack?: string } = {};
  Error.captureStackTrace(site, above);
  return site;
}

/** Marks a failure with the site of the statement it came from (once: the innermost site wins). */
function markSite(reason: unknown, site: StatementSite): void {
  if (reason !== null && typeof reason === 'object' && !Object.prototype.hasOwnProperty.call(reason, SITE)) {
    Object.defineProperty(reason, SITE, { value: site, enumerable: false });
  }
}

/**
 * Records the query's text and row count when (and only when) the migration awaits it, and marks
 * its failure with the site it was created at. A query read through `.cursor(n)` as an async
 * iterator (`for await (const rows of sql`…`.cursor(1000))`, how a module walks a big table in
 * batches) is recorded when the iteration ends, with the rows it delivered.
 */
function instrument<T>(query: T, text: string, sink: StatementReport[], site: StatementSite): T {
  const q = query as unknown as Thenable & { cursor?: (...args: unknown[]) => unknown };
  if (!q || typeof q.then !== 'function') return query;
  const original = q.then.bind(q);
  let recorded = false;
  const record = (rowCount: number | null) => {
    if (recorded) return;
    recorded = true;
    sink.push({ sql: text.trim(), rowCount });
  };
  q.then = (onFulfilled, onRejected) => original((result) => {
    const count = (result as { count?: number | null } | undefined)?.count;
    record(typeof count === 'number' ? count : null);
    return onFulfilled ? onFulfilled(result) : result;
  }, (reason: unknown) => {
    markSite(reason, site);
    if (onRejected) return onRejected(reason);
    throw reason;
  });
  const cursor = q.cursor;
  if (typeof cursor === 'function') {
    q.cursor = (...args: unknown[]) => {
      const result = cursor.apply(q, args);
      // With a callback, the query itself comes back, and awaiting it records it (above).
      return result === q ? result : recordedCursor(result as AsyncIterable<unknown>, record, site);
    };
  }
  return query;
}

/** A cursor's async iterable that records its statement when iteration ends (done, or left by break / return / throw). */
function recordedCursor(rows: AsyncIterable<unknown>, record: (rowCount: number) => void, site: StatementSite): AsyncIterable<unknown> {
  return {
    [Symbol.asyncIterator]() {
      const inner = rows[Symbol.asyncIterator]();
      let delivered = 0;
      return {
        async next() {
          try {
            const step = await inner.next();
            if (step.done) record(delivered);
            else delivered += Array.isArray(step.value) ? step.value.length : 1;
            return step;
          } catch (error) {
            markSite(error, site);
            throw error;
          }
        },
        async return(value?: unknown) {
          record(delivered);
          return (await inner.return?.(value)) ?? { done: true, value: undefined };
        },
      };
    },
  };
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
  // Named, so that captureSite can leave strata's own frames out of the trace.
  function apply(target: Sql, thisArg: unknown, args: unknown[]): unknown {
    const result = Reflect.apply(target as unknown as (...a: unknown[]) => unknown, thisArg, args);
    const first = args[0] as TemplateStringsArray | undefined;
    // Only a tagged template is a query; sql(name), sql([...]) are fragments (identifiers, values).
    return Array.isArray(first) && 'raw' in first ? instrument(result, templateText(first), sink, captureSite(apply)) : result;
  }
  function unsafe(text: string, ...rest: unknown[]): unknown {
    return instrument((sql.unsafe as (...a: unknown[]) => unknown)(text, ...rest), text, sink, captureSite(unsafe));
  }
  return new Proxy(sql, {
    apply,
    get(target, property, receiver) {
      if (inTransaction && (property === 'begin' || property === 'reserve' || property === 'end')) return forbidden(property);
      if (property === 'unsafe') return unsafe;
      return Reflect.get(target, property, receiver) as unknown;
    },
  });
}
