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
 * Cursors of one migration that are open: while one is, the connection belongs to it. The driver
 * queues any other query behind the cursor, and the cursor waits for the loop that waits for that
 * query — a run that hangs forever in its transaction, holding its locks. So such a query is
 * refused at once instead (`recordingSql`).
 */
interface CursorState {
  open: number;
}

/**
 * Records the query's text and row count when (and only when) the migration awaits it, and marks
 * its failure with the site it was created at. A query read through `.cursor(n)` (how a module
 * walks a big table in batches: `for await (const rows of sql`…`.cursor(1000))`, or
 * `.cursor(1000, fn)`) is recorded once it is read to the end (or left), with the rows it delivered:
 * the driver's own count is the last batch's.
 */
function instrument<T>(query: T, text: string, sink: StatementReport[], site: StatementSite, cursors: CursorState): T {
  const q = query as unknown as Thenable & { cursor?: (...args: unknown[]) => unknown };
  if (!q || typeof q.then !== 'function') return query;
  const original = q.then.bind(q);
  let recorded = false;
  let delivered: number | undefined; // rows a cursor delivered, when read through one
  const record = (rowCount: number | null) => {
    if (recorded) return;
    recorded = true;
    sink.push({ sql: text.trim(), rowCount });
  };
  q.then = (onFulfilled, onRejected) => original((result) => {
    const count = (result as { count?: number | null } | undefined)?.count;
    record(delivered ?? (typeof count === 'number' ? count : null));
    return onFulfilled ? onFulfilled(result) : result;
  }, (reason: unknown) => {
    markSite(reason, site);
    if (onRejected) return onRejected(reason);
    throw reason;
  });
  const cursor = q.cursor;
  if (typeof cursor === 'function') {
    q.cursor = (...args: unknown[]) => {
      const [rows, fn] = typeof args[0] === 'function' ? [1, args[0]] : args;
      if (typeof fn === 'function') {
        // The callback form: the query comes back, and awaiting it records it (above).
        delivered = 0;
        return cursor.call(q, rows, async (batch: unknown) => {
          delivered = (delivered ?? 0) + rowsIn(batch);
          cursors.open++;
          try {
            return await (fn as (batch: unknown) => unknown)(batch);
          } finally {
            cursors.open--;
          }
        });
      }
      return recordedCursor(cursor.apply(q, args) as AsyncIterable<unknown>, record, site, cursors);
    };
  }
  return query;
}

/** The rows of one batch a cursor delivered (an array of rows; one row read alone). */
function rowsIn(batch: unknown): number {
  return Array.isArray(batch) ? batch.length : 1;
}

/** A cursor's async iterable that records its statement when iteration ends (done, or left by break / return / throw). */
function recordedCursor(rows: AsyncIterable<unknown>, record: (rowCount: number) => void, site: StatementSite, cursors: CursorState): AsyncIterable<unknown> {
  return {
    [Symbol.asyncIterator]() {
      const inner = rows[Symbol.asyncIterator]();
      let delivered = 0;
      let open = false;
      const close = () => {
        if (open) cursors.open--;
        open = false;
      };
      return {
        async next() {
          if (!open) cursors.open++;
          open = true;
          try {
            const step = await inner.next();
            if (step.done) {
              close();
              record(delivered);
            } else {
              delivered += rowsIn(step.value);
            }
            return step;
          } catch (error) {
            close();
            markSite(error, site);
            throw error;
          }
        },
        async return(value?: unknown) {
          close();
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
  const cursors: CursorState = { open: 0 };
  // A plain error, thrown where the module wrote the query: the step fails (exit 1) naming that line.
  const notWhileCursorOpen = (): void => {
    if (cursors.open === 0) return;
    throw Object.assign(new Error('a query while a cursor is being read would wait for that cursor forever (a migration has one connection)'), {
      hint: 'read the cursor to the end first (collect what to write, then write after the loop), or write set-based: UPDATE … FROM (SELECT …)',
    });
  };
  const forbidden = (name: string) => () => {
    throw new UsageError(`ctx.sql.${name}() is not allowed in a migration that strata runs in a transaction`, {
      hint: name === 'begin' ? 'use ctx.sql directly (it is already in the transaction), or export const transaction = false' : undefined,
    });
  };
  // Named, so that captureSite can leave strata's own frames out of the trace.
  function apply(target: Sql, thisArg: unknown, args: unknown[]): unknown {
    const first = args[0] as TemplateStringsArray | undefined;
    // Only a tagged template is a query; sql(name), sql([...]) are fragments (identifiers, values).
    const query = Array.isArray(first) && 'raw' in first;
    if (query) notWhileCursorOpen();
    const result = Reflect.apply(target as unknown as (...a: unknown[]) => unknown, thisArg, args);
    return query ? instrument(result, templateText(first), sink, captureSite(apply), cursors) : result;
  }
  function unsafe(text: string, ...rest: unknown[]): unknown {
    notWhileCursorOpen();
    return instrument((sql.unsafe as (...a: unknown[]) => unknown)(text, ...rest), text, sink, captureSite(unsafe), cursors);
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
