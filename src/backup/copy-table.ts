/**
 * Copying tables into a backup directory: one table on one connection (`copyTable`), and several
 * tables on several connections sharing one exported snapshot (`copyTablesInParallel`, as
 * `pg_dump -j` does), so the files stay mutually consistent (SPEC §6).
 */
import path from 'node:path';
import { quoteLiteral, quoteQualified } from '../db/quote.js';
import type { CatalogTable } from './catalog.js';
import { abandonCopyOut, copyOutSql, releaseSocket, RunningCopy, type AnySql, type ClientSql } from './copy.js';
import { applyCopySettings } from './copy-settings.js';
import { writeStreamToFile, type SinkOptions } from './file-sink.js';
import { inTransaction } from '../db/transaction.js';
import type { ManifestTable } from './manifest.js';
import { displayName, tableFileName } from './names.js';

/** A failure tied to the table it happened on, so the message can name it. */
export class TableCopyError extends Error {
  constructor(readonly table: string, readonly original: unknown) {
    super(`${table}: ${original instanceof Error ? original.message : String(original)}`);
  }
}

/** Running COPYs, so a failure elsewhere can cancel them. */
export type ActiveCopies = Set<RunningCopy>;

/** Streams one table into `<dir>/<file>.csv`; returns its verified manifest entry. */
export async function copyTable(sql: AnySql, table: CatalogTable, dir: string, options: SinkOptions = {}, active?: ActiveCopies): Promise<ManifestTable> {
  const name = displayName(table);
  const file = tableFileName(table);
  const query = sql.unsafe(copyOutSql({ ...table, columns: table.columns.map((c) => c.name) }));
  const copy = new RunningCopy(query);
  try {
    const readable = await query.readable();
    // Only now is the COPY running on the server; cancelling a query not yet sent would make
    // the driver drop it silently, and `readable()` would never settle.
    active?.add(copy);
    let result;
    try {
      result = await writeStreamToFile(readable, path.join(dir, file), options);
    } catch (error) {
      await abandonCopyOut(copy, readable);
      throw error;
    }
    releaseSocket(readable);
    const rows = await copy.outcome;
    // The server's command tag against the rows that arrived (one CopyData message each).
    if (rows !== result.rows) throw new Error(`the server reported ${rows} rows but ${result.rows} arrived for ${file}`);
    const expected = table.columns.map((c) => c.name);
    if (result.header.join('\0') !== expected.join('\0')) throw new Error(`the header of ${file} does not list the table's columns`);
    return { table: name, schema: table.schema, name: table.name, file, rows, bytes: result.bytes, sha256: result.sha256, columns: table.columns };
  } catch (error) {
    throw error instanceof TableCopyError ? error : new TableCopyError(name, error);
  } finally {
    active?.delete(copy);
  }
}

/** Opens a connection of the same database (for parallel COPY); the caller's factory. */
export type Connect = () => Promise<ClientSql>;

/** Options of a parallel copy. */
export interface ParallelOptions extends SinkOptions {
  connect?: Connect;
  /** Connections in all, the caller's included (default 4; 1 without `connect`). */
  jobs?: number;
  onTable?: (entry: ManifestTable) => void | Promise<void>;
  /** Told when fewer connections than asked could be opened. */
  onWarning?: (message: string) => void;
}

/**
 * Copies every table inside `tx`'s snapshot. With `connect` and several tables, extra connections
 * import the snapshot (`SET TRANSACTION SNAPSHOT`) and take tables from a shared queue, largest
 * first. `tx` must be a REPEATABLE READ transaction that holds ACCESS SHARE locks on the tables.
 */
export async function copyTablesInParallel(tx: AnySql, tables: CatalogTable[], dir: string, options: ParallelOptions): Promise<ManifestTable[]> {
  const jobs = options.connect ? Math.max(1, Math.min(options.jobs ?? 4, tables.length)) : 1;
  // Largest first, so that the last table to finish is a small one (only matters in parallel).
  const queue = jobs > 1 ? [...tables].sort((a, b) => b.sizeBytes - a.sizeBytes) : [...tables];
  const handedBack: CatalogTable[] = [];
  const entries: ManifestTable[] = [];
  const active: ActiveCopies = new Set();
  const state = { failed: false };
  const run = async (sql: AnySql, table: CatalogTable) => {
    const entry = await copyTable(sql, table, dir, options, active);
    entries.push(entry);
    await options.onTable?.(entry);
  };
  const guard = async (work: () => Promise<void>) => {
    try {
      await work();
    } catch (error) {
      // Stop everyone: no new tables, running COPYs cancelled; the first error is reported.
      if (!state.failed) for (const copy of active) copy.cancel();
      state.failed = true;
      throw error;
    }
  };
  const helpers: Promise<void>[] = [];
  if (jobs > 1 && options.connect) {
    const [row] = await tx<{ snapshot: string }[]>`SELECT pg_catalog.pg_export_snapshot() AS snapshot`;
    const snapshot = row?.snapshot ?? '';
    for (let i = 1; i < jobs; i++) {
      helpers.push(guard(() => helper(options.connect as Connect, snapshot, queue, handedBack, state, run, options.onWarning)));
    }
  }
  const main = guard(async () => {
    for (let table = queue.shift(); table && !state.failed; table = queue.shift()) await run(tx, table);
  });
  const settled = await Promise.allSettled([main, ...helpers]);
  const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failure) throw preferTableError(settled, failure.reason);
  // Tables a helper could not lock without waiting are copied by the connection that holds the locks.
  await guard(async () => { for (const table of handedBack) await run(tx, table); });
  return entries;
}

/** One extra connection: imports the snapshot, then copies tables from the queue until it is empty. */
async function helper(
  connect: Connect, snapshot: string, queue: CatalogTable[], handedBack: CatalogTable[],
  state: { failed: boolean }, run: (sql: AnySql, table: CatalogTable) => Promise<void>, onWarning?: (message: string) => void,
): Promise<void> {
  let sql: ClientSql;
  try {
    sql = await connect();
  } catch (error) {
    // Fewer connections than asked (max_connections, a pooler): the others copy the rest.
    onWarning?.(`parallel backup: could not open another connection (${(error as Error).message}); continuing with fewer`);
    return;
  }
  try {
    await inTransaction(sql, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', async (tx) => {
      await tx.unsafe(`SET TRANSACTION SNAPSHOT ${quoteLiteral(snapshot)}`);
      // Each connection has its session's own DateStyle, TimeZone…: the files must not depend on them.
      await applyCopySettings(tx);
      for (let table = queue.shift(); table && !state.failed; table = queue.shift()) {
        if (await lockNowait(tx, table)) await run(tx, table);
        else handedBack.push(table);
      }
    });
  } finally {
    await sql.end({ timeout: 5 }).catch(() => undefined);
  }
}

/**
 * NOWAIT, as pg_dump's workers: if someone queued an ACCESS EXCLUSIVE request behind the main
 * connection's lock, waiting here would wait for the main connection — forever.
 */
async function lockNowait(tx: AnySql, table: CatalogTable): Promise<boolean> {
  await tx.unsafe('SAVEPOINT strata_lock');
  try {
    await tx.unsafe(`LOCK TABLE ${quoteQualified(table.schema, table.name)} IN ACCESS SHARE MODE NOWAIT`);
    await tx.unsafe('RELEASE SAVEPOINT strata_lock');
    return true;
  } catch (error) {
    if ((error as { code?: string }).code !== '55P03') throw error;
    await tx.unsafe('ROLLBACK TO SAVEPOINT strata_lock');
    return false;
  }
}

/** Several connections may fail at once (cancelled by us): report the one that was not a cancel. */
function preferTableError(settled: PromiseSettledResult<void>[], first: unknown): unknown {
  const cancelled = (e: unknown) => (e instanceof TableCopyError ? e.original : e) as { code?: string };
  for (const s of settled) if (s.status === 'rejected' && cancelled(s.reason).code !== '57014') return s.reason;
  return first;
}
