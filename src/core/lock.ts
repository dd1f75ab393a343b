/**
 * One PostgreSQL advisory lock per run (SPEC §5), held on the run's own session for the whole run,
 * like umzug's FileLocker around beforeCommand/afterCommand but in the database every deploy shares.
 * A killed runner's lock dies with its connection: nothing to clean up by hand (cf. Liquibase's
 * DATABASECHANGELOGLOCK row).
 */
import { createHash } from 'node:crypto';
import type { Sql } from '../db/connect.js';
import { LockTimeout } from '../errors.js';
import type { HistoryLocation } from './history.js';

/** The two int4 keys of `pg_advisory_lock(int4, int4)`. */
export interface LockKey {
  classId: number;
  objId: number;
}

/** 'stra' as an int4: marks the lock as strata's in pg_locks. */
const STRATA_CLASS_ID = 0x73747261;

/** Lock key of a history table: runners of the same schema/table exclude each other, others do not. */
export function lockKeyFor(location: HistoryLocation): LockKey {
  const digest = createHash('sha256').update(`${location.schema}\0${location.table}`).digest();
  return { classId: STRATA_CLASS_ID, objId: digest.readInt32BE(0) };
}

/** Who holds the lock, as far as PostgreSQL can tell. */
export interface LockHolder {
  pid: number;
  applicationName: string;
  user: string;
  clientAddr: string | null;
  since: Date | null;
}

/** Waits up to `timeoutMs` for the run lock; throws `LockTimeout` (exit 4) naming the holder. */
export async function takeLock(sql: Sql, key: LockKey, timeoutMs: number): Promise<void> {
  // Integers and a duration written as literals: a parameterised statement costs the driver an
  // extra round trip (Parse/Describe first) each time, and these three would not pipeline.
  const keyArgs = `${Math.trunc(key.classId)}, ${Math.trunc(key.objId)}`;
  if (timeoutMs <= 0) {
    const [row] = await sql.unsafe<{ ok: boolean }[]>(`SELECT pg_try_advisory_lock(${keyArgs}) AS ok`);
    if (!row?.ok) throw await lockTimeoutError(sql, key, timeoutMs);
    return;
  }
  // lock_timeout bounds the wait in the server, so a lock freed at ms 9,999 is still taken:
  // no polling, no race between a try and a sleep. Three pipelined statements, one round trip.
  const set = sql.unsafe(`SELECT set_config('lock_timeout', '${Math.round(timeoutMs)}ms', false)`);
  const take = sql.unsafe(`SELECT pg_advisory_lock(${keyArgs})`);
  const reset = sql.unsafe(`SELECT set_config('lock_timeout', '0', false)`);
  const [, taken] = await Promise.allSettled([set, take, reset]);
  if (taken.status === 'rejected') {
    if ((taken.reason as { code?: string }).code === '55P03') throw await lockTimeoutError(sql, key, timeoutMs);
    throw taken.reason;
  }
}

/** Releases the run lock (closing the connection would too). */
export async function releaseLock(sql: Sql, key: LockKey): Promise<void> {
  await sql.unsafe(`SELECT pg_advisory_unlock(${Math.trunc(key.classId)}, ${Math.trunc(key.objId)})`);
}

/**
 * Runs `fn` holding the run lock of the history table at `location` (SPEC §5: every command that
 * writes), released afterwards whatever happens (closing the connection would release it too).
 */
export async function withRunLock<T>(sql: Sql, location: HistoryLocation, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const key = lockKeyFor(location);
  await takeLock(sql, key, timeoutMs);
  try {
    return await fn();
  } finally {
    await releaseLock(sql, key).catch(() => undefined);
  }
}

/** Reads the holder of the lock from pg_locks / pg_stat_activity. */
export async function lockHolder(sql: Sql, key: LockKey): Promise<LockHolder | undefined> {
  const [row] = await sql<{ pid: number; application_name: string; usename: string; client_addr: string | null; since_ms: number | null }[]>`
    SELECT a.pid, a.application_name, a.usename, host(a.client_addr) AS client_addr,
           round(extract(epoch FROM a.backend_start) * 1000)::float8 AS since_ms -- not DateStyle-dependent text (history.ts EPOCH_MS)
    FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND l.classid = ${key.classId >>> 0}::bigint::oid AND l.objid = ${key.objId >>> 0}::bigint::oid AND l.objsubid = 2
    LIMIT 1`;
  return row ? { pid: row.pid, applicationName: row.application_name, user: row.usename, clientAddr: row.client_addr, since: row.since_ms === null ? null : new Date(row.since_ms) } : undefined;
}

async function lockTimeoutError(sql: Sql, key: LockKey, timeoutMs: number): Promise<LockTimeout> {
  const holder = await lockHolder(sql, key).catch(() => undefined);
  const who = holder
    ? `; pid ${holder.pid}${holder.applicationName ? ` (${holder.applicationName})` : ''} holds it${holder.clientAddr ? ` from ${holder.clientAddr}` : ''}`
    : '';
  return new LockTimeout(`another migration is running: lock not acquired after ${timeoutMs} ms${who}`, {
    hint: 'wait for it to finish, or raise --lock-timeout',
  });
}
