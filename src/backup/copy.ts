/**
 * COPY through the `postgres` driver (porsager v3), with workarounds for its open COPY bugs.
 *
 * `sql.unsafe('COPY ...').readable()` / `.writable()` resolve the query's promise with the stream;
 * the server's verdict (CommandComplete "COPY n", or an ErrorResponse) arrives later and goes to
 * the same, already settled promise, where it is lost. Consequences in 3.4.9:
 * - a COPY FROM STDIN that fails after the writable ended (FK violations always do: they are
 *   checked at the end of the statement) never settles the writable and swallows the error
 *   (porsager/postgres#1173, fix proposed in #1183);
 * - the row count of the command tag is unreachable.
 * `observeCompletion` wraps the query's own `resolve`/`reject` (instance fields of its Query
 * class) to get both. And after a COPY TO whose last CopyData paused the socket, CopyDone ends
 * the stream with the socket still paused, so nothing more is read from that connection
 * (porsager/postgres#499, fix proposed in #1016): `releaseSocket` resumes it.
 * Identifiers are quoted with `quoteIdent`, not `sql(name)`: the driver's identifier escaping
 * splits on dots (`a.b` → `"a"."b"`), which would break table names containing a dot.
 */
import type { Readable } from 'node:stream';
import type postgres from 'postgres';
import { quoteIdent, quoteQualified } from '../db/quote.js';

/** Anything that runs queries: a client, a reserved connection or a transaction (`postgres.ISql`). */
export type AnySql = postgres.ISql<Record<never, never>>;
/** A client that can reserve a connection: strata's `Sql`, a plain `postgres()` client. */
export type ClientSql = postgres.Sql<Record<never, never>>;

/** A table as COPY addresses it. */
export interface CopyTarget {
  schema: string;
  name: string;
  /** Columns in order; generated columns are left out (COPY cannot write them). */
  columns: readonly string[];
  /** `p`: partitioned, copied out through a SELECT (COPY refuses partitioned tables). */
  relkind?: string;
}

/** `COPY "s"."t" ("a", "b") TO STDOUT (FORMAT csv, HEADER)`. */
export function copyOutSql(target: CopyTarget): string {
  const table = quoteQualified(target.schema, target.name);
  const columns = target.columns.map(quoteIdent).join(', ');
  // SPEC §6: CSV with header; NULL is an unquoted empty field and '' is "", so they stay distinct.
  if (target.relkind === 'p') return `COPY (SELECT ${columns || '*'} FROM ${table}) TO STDOUT (FORMAT csv, HEADER)`;
  return `COPY ${table}${columns ? ` (${columns})` : ''} TO STDOUT (FORMAT csv, HEADER)`;
}

/** `COPY "s"."t" ("a", "b") FROM STDIN (FORMAT csv, HEADER MATCH)`; MATCH (PostgreSQL 15+) checks the header against the column list. */
export function copyInSql(target: CopyTarget, serverVersionNum: number): string {
  const table = quoteQualified(target.schema, target.name);
  const columns = target.columns.map(quoteIdent).join(', ');
  const header = serverVersionNum >= 150000 && columns ? 'HEADER MATCH' : 'HEADER';
  return `COPY ${table}${columns ? ` (${columns})` : ''} FROM STDIN (FORMAT csv, ${header})`;
}

interface Settlers {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/**
 * Returns a promise of the COPY's outcome: the row count of its command tag, or the server's
 * error. Call before awaiting `.readable()` / `.writable()`.
 */
export function observeCompletion(query: object): Promise<number> {
  const target = query as Partial<Settlers>;
  const { resolve, reject } = target;
  if (typeof resolve !== 'function' || typeof reject !== 'function') {
    throw new Error('the postgres driver changed: Query.resolve/reject are gone (see src/backup/copy.ts)');
  }
  const outcome = new Promise<number>((done, fail) => {
    target.resolve = (value: unknown) => {
      resolve(value);
      if (isStream(value)) return; // the first resolve hands over the stream
      const count = (value as { count?: unknown } | null)?.count;
      if (typeof count === 'number') done(count);
      else fail(new Error(`COPY completed without a row count (${String((value as { command?: unknown } | null)?.command)})`));
    };
    target.reject = (error: unknown) => {
      reject(error);
      fail(error);
    };
  });
  outcome.catch(() => undefined); // callers await it; never an unhandled rejection meanwhile
  return outcome;
}

function isStream(value: unknown): boolean {
  return typeof value === 'object' && value !== null && typeof (value as { pipe?: unknown }).pipe === 'function';
}

/** Resumes the connection's socket after a COPY TO stream ended (porsager/postgres#499). */
export function releaseSocket(readable: Readable): void {
  // The driver's Readable implements _read as `socket.resume()`; once the stream has ended,
  // Node never calls it again, so a socket paused by the last CopyData would stay paused.
  try {
    readable._read(0);
  } catch {
    // the connection is already gone: nothing to resume
  }
}

/** A COPY on its way: the driver's query and the server's verdict on it. */
export class RunningCopy {
  /** Rows of the command tag, or the server's error (see `observeCompletion`). */
  readonly outcome: Promise<number>;
  private settled = false;

  constructor(readonly query: { cancel(): unknown }) {
    this.outcome = observeCompletion(query);
    this.outcome.then(() => { this.settled = true; }, () => { this.settled = true; });
  }

  /**
   * Asks the server to cancel the COPY, unless it has already ended: a cancel request hits
   * whatever the backend runs when it arrives, which could be the next statement.
   */
  cancel(): void {
    if (this.settled) return;
    try {
      // The driver only cancels queries it considers active, and it marks a COPY inactive once
      // the stream is handed over; the cancel request (pid + secret key) is still valid.
      (this.query as { active?: boolean }).active = true;
      Promise.resolve(this.query.cancel()).catch(() => undefined);
    } catch {
      // best effort: draining ends the COPY too
    }
  }
}

/**
 * Gives up a COPY TO whose rows we can no longer use: keeps reading (and dropping) rows so the
 * connection is not left stalled mid-COPY, asks the server to cancel, and waits (bounded) for the
 * server to end the command, so the connection can be used (or rolled back) afterwards.
 */
export async function abandonCopyOut(copy: RunningCopy, readable: Readable, waitMs = 30_000): Promise<void> {
  readable.on('data', () => undefined);
  readable.on('error', () => undefined);
  readable.resume();
  copy.cancel();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    copy.outcome.then(() => undefined, () => undefined),
    new Promise<void>((resolve) => { timer = setTimeout(resolve, waitMs); }),
  ]);
  clearTimeout(timer);
  releaseSocket(readable);
}
