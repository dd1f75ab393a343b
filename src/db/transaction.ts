/**
 * Transactions on a reserved connection, instead of the driver's `sql.begin`.
 *
 * Why: when the backend dies inside `sql.begin` (pg_terminate_backend, a failover, a killed COPY),
 * postgres 3.4.9 sends its own ROLLBACK on the dead connection and crashes the whole process with an
 * uncatchable `TypeError: Cannot read properties of null (reading 'write')` from a setImmediate
 * (porsager/postgres#1208, #1154; fixes proposed in #1209/#1215). A backup must fail cleanly
 * precisely then. Here we send BEGIN/COMMIT/ROLLBACK ourselves, send nothing more once the
 * connection is known lost, and never hand a dead connection back to the pool (the pool has
 * already moved it to its closed queue and reconnects it on demand).
 */
import type postgres from 'postgres';
import { isSessionLost } from './connect.js';

/** A client, a reserved connection or a transaction: anything that runs queries. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnySql = postgres.ISql<any>;
/** A pool (strata's `Sql` or a plain `postgres()` client). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type ClientSql = postgres.Sql<any>;

/** Error codes that mean the connection is gone (driver codes and PostgreSQL SQLSTATEs). */
const LOST = new Set([
  'CONNECTION_CLOSED', 'CONNECTION_DESTROYED', 'CONNECTION_ENDED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT',
  '57P01', '57P02', '57P03', '08000', '08003', '08006', '08P01',
]);

/** True when `error`, or any error it wraps (`cause`, `original`), says the connection was lost. */
export function isConnectionLost(error: unknown): boolean {
  const seen = new Set<unknown>();
  for (let e = error as { code?: unknown; cause?: unknown; original?: unknown } | undefined; e && !seen.has(e);) {
    seen.add(e);
    if (typeof e.code === 'string' && LOST.has(e.code)) return true;
    e = (e.original ?? e.cause) as typeof e | undefined;
  }
  return false;
}

/**
 * Runs `fn` between `begin` (e.g. `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`) and COMMIT on
 * one reserved connection; ROLLBACK on failure unless the connection is lost.
 */
export async function inTransaction<T>(sql: ClientSql, begin: string, fn: (tx: AnySql) => Promise<T>): Promise<T> {
  const tx = refuseAfterClose(await sql.reserve(), sql);
  let alive = true;
  try {
    await tx.unsafe(begin);
    const result = await fn(tx);
    await tx.unsafe('COMMIT');
    return result;
  } catch (error) {
    alive = !isConnectionLost(error);
    if (alive) await tx.unsafe('ROLLBACK').catch((rollbackError: unknown) => { alive = !isConnectionLost(rollbackError); });
    throw error;
  } finally {
    if (alive) tx.release();
  }
}

/** The error a query gets once the session is gone (recognised by `isConnectionLost`). */
function sessionLost(): Error {
  return Object.assign(new Error('the connection to the server was lost'), { code: 'CONNECTION_CLOSED' });
}

/**
 * The reserved connection, refusing to send anything once its session closed: postgres 3.4.9
 * crashes the process (an uncaught TypeError) on a query written to a dead reserved connection.
 */
function refuseAfterClose<T extends AnySql>(tx: T, pool: object): T {
  const check = () => { if (isSessionLost(pool)) throw sessionLost(); };
  return new Proxy(tx, {
    apply(target, thisArg, args: unknown[]) {
      check();
      return Reflect.apply(target as unknown as (...a: unknown[]) => unknown, thisArg, args);
    },
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (property !== 'unsafe' || typeof value !== 'function') return value;
      return (...args: unknown[]) => { check(); return (value as (...a: unknown[]) => unknown).apply(target, args); };
    },
  });
}
