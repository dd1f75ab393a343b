/**
 * Fault injection for CLI tests (issue 9): stop a `migrate` run at a chosen point, deterministically,
 * then kill it (SIGKILL) or have the server terminate its connection (pg_terminate_backend).
 *
 * How a run is stopped at a point, without sleeps or timing guesses:
 * - `gate`: the migration files carry marker statements `SELECT pg_advisory_xact_lock_shared(7300, k)`
 *   between every two statements. The test holds the exclusive lock (7300, k); the run blocks on the
 *   marker and shows up in pg_locks as a waiter. Everything before the marker ran, nothing after it.
 * - `runlock`: the test holds strata's own run lock; the run waits for it.
 * - `concurrently`: inside a `CREATE/DROP INDEX CONCURRENTLY`: a transaction of the test (an old
 *   snapshot, or a lock on the table) makes it wait (wait_event `virtualxid`) with the index already
 *   in the catalog as INVALID.
 * - `failpoint`: inside the CLI process, between two file-system calls of a backup (failpoints.mjs).
 * - `relation` / `row`: the test holds a table lock or a row lock the run needs (restore's table
 *   locks; a deferred foreign-key check at COMMIT).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { lockKeyFor } from '../../../src/core/lock.js';
import { startCli, type CliResult } from '../../support/cli.js';
import { adminUrl, urlFor, type TestDatabase } from '../../support/database.js';
import { tempDir } from '../../support/migrations.js';

import { GATE_CLASS } from './gates.js';

export { GATE_CLASS, gateSql } from './gates.js';

const FAILPOINTS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'failpoints.mjs');

/** A point where a run is stopped. */
export type KillPoint =
  | { kind: 'runlock' }
  | { kind: 'gate'; id: number }
  | { kind: 'concurrently'; gateBefore: number; holdSql: string }
  | { kind: 'failpoint'; point: string }
  | { kind: 'relation'; table: string }
  | { kind: 'row'; lockSql: string };

/** SIGKILL of the CLI, or the server ending its connection. */
export type FaultMode = 'sigkill' | 'terminate';

/** A short label for test names: `gate 12`, `failpoint backup.csv.write#1`. */
export function describePoint(point: KillPoint): string {
  switch (point.kind) {
    case 'runlock': return 'waiting for the run lock';
    case 'gate': return `marker ${point.id}`;
    case 'concurrently': return `inside the INDEX CONCURRENTLY after marker ${point.gateBefore}`;
    case 'failpoint': return `backup failpoint ${point.point}`;
    case 'relation': return `waiting for a lock on ${point.table}`;
    case 'row': return 'in COMMIT (deferred foreign-key check waiting for a row lock)';
  }
}

/** Polls `probe` every 10 ms until it returns a value; fails after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000, abort?: Promise<unknown>): Promise<T> {
  let stopped: unknown;
  void abort?.then((value) => { stopped = value ?? 'ended'; });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (stopped !== undefined) throw new Error(`gave up waiting for ${what}: the run ended first (${describeEnd(stopped)})`);
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function describeEnd(value: unknown): string {
  const r = value as Partial<CliResult>;
  return r && typeof r === 'object' && 'code' in r ? `exit ${String(r.code)}: ${r.stderr ?? ''}${r.stdout ?? ''}` : String(value);
}

/** A database cloned from a template (fast: a file copy), dropped by `drop`. */
export async function cloneDatabase(template: string, prefix = 'strata_fault'): Promise<TestDatabase> {
  const name = `${prefix}_${Math.random().toString(16).slice(2, 12)}`;
  const admin = postgres(adminUrl(), { max: 1, onnotice: () => {} });
  try {
    // Concurrent clones of one template may collide on its lock for a moment: retry.
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.unsafe(`CREATE DATABASE "${name}" TEMPLATE "${template}"`);
        break;
      } catch (error) {
        if (attempt > 50 || !/being accessed by other users/.test((error as Error).message)) throw error;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  } finally {
    await admin.end();
  }
  const url = urlFor(name);
  return { name, url, sql: postgres(url, { max: 4, onnotice: () => {} }) };
}

/** Closes every session of a template database so it can be cloned. */
export async function sealTemplate(db: TestDatabase): Promise<void> {
  await db.sql.end({ timeout: 5 });
  const admin = postgres(adminUrl(), { max: 1, onnotice: () => {} });
  try {
    await admin`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ${db.name} AND pid <> pg_backend_pid()`;
  } finally {
    await admin.end();
  }
}

/** The strata run lock of the default history table, as pg_locks shows it. */
export function runLockKey(): { classId: number; objId: number } {
  return lockKeyFor({ schema: 'public', table: 'schema_migrations' });
}

/** An armed kill point: tells when the run reached it (and its backend), and lets it go. */
interface Armed {
  env: Record<string, string>;
  reached(abort: Promise<unknown>): Promise<number>;
  release(): Promise<void>;
  /** Removes what arming created, once the run has ended. */
  dispose?(): void;
}

async function runBackend(sql: postgres.Sql, command: string): Promise<number | undefined> {
  const [row] = await sql<{ pid: number }[]>`
    SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = ${`strata ${command}`} ORDER BY backend_start LIMIT 1`;
  return row?.pid;
}

async function advisoryWaiter(sql: postgres.Sql, classId: number, objId: number): Promise<number | undefined> {
  const [row] = await sql<{ pid: number }[]>`
    SELECT pid FROM pg_locks
     WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
       AND classid = ${classId >>> 0}::bigint::oid AND objid = ${objId >>> 0}::bigint::oid LIMIT 1`;
  return row?.pid;
}

async function arm(point: KillPoint, db: TestDatabase, command: string): Promise<Armed> {
  switch (point.kind) {
    case 'runlock': {
      const key = runLockKey();
      const holder = postgres(db.url, { max: 1, onnotice: () => {} });
      await holder`SELECT pg_advisory_lock(${key.classId}::int, ${key.objId}::int)`;
      return {
        env: {},
        reached: (abort) => waitFor('a runner waiting for the run lock', () => advisoryWaiter(db.sql, key.classId, key.objId), 20_000, abort),
        release: () => holder.end({ timeout: 1 }),
      };
    }
    case 'gate': {
      const holder = postgres(db.url, { max: 1, onnotice: () => {} });
      await holder`SELECT pg_advisory_lock(${GATE_CLASS}, ${point.id})`;
      return {
        env: {},
        reached: (abort) => waitFor(`marker ${point.id}`, () => advisoryWaiter(db.sql, GATE_CLASS, point.id), 20_000, abort),
        release: () => holder.end({ timeout: 1 }),
      };
    }
    case 'concurrently': {
      const gate = postgres(db.url, { max: 1, onnotice: () => {} });
      const holder = postgres(db.url, { max: 1, onnotice: () => {} });
      await gate`SELECT pg_advisory_lock(${GATE_CLASS}, ${point.gateBefore})`;
      return {
        env: {},
        async reached(abort) {
          const pid = await waitFor(`marker ${point.gateBefore}`, () => advisoryWaiter(db.sql, GATE_CLASS, point.gateBefore), 20_000, abort);
          // Taken before the statement starts: an old snapshot (CREATE) or a table lock (DROP) it must wait for.
          await holder.unsafe('BEGIN ISOLATION LEVEL REPEATABLE READ');
          await holder.unsafe(point.holdSql);
          await gate.end({ timeout: 1 });
          return waitFor('the INDEX CONCURRENTLY waiting for an older transaction', async () => {
            const [row] = await db.sql<{ pid: number }[]>`
              SELECT pid FROM pg_stat_activity WHERE pid = ${pid} AND wait_event = 'virtualxid' AND query ILIKE '% INDEX CONCURRENTLY%'`;
            return row?.pid;
          }, 20_000, abort);
        },
        async release() {
          await gate.end({ timeout: 1 });
          await holder.end({ timeout: 1 });
        },
      };
    }
    case 'failpoint': {
      const dir = tempDir('strata-failpoint-');
      return {
        env: { NODE_OPTIONS: `--import ${FAILPOINTS}`, STRATA_TEST_FAILPOINT: point.point, STRATA_TEST_FAILPOINT_DIR: dir },
        async reached(abort) {
          await waitFor(`failpoint ${point.point}`, async () => (fs.existsSync(path.join(dir, 'hit')) ? true : undefined), 30_000, abort);
          return waitFor('the run\'s backend', () => runBackend(db.sql, command), 5_000);
        },
        async release() {
          fs.writeFileSync(path.join(dir, 'release'), '');
        },
        dispose() {
          fs.rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    case 'relation':
      return {
        env: {},
        reached: (abort) => waitFor(`a runner waiting for a lock on ${point.table}`, async () => {
          const [row] = await db.sql<{ pid: number }[]>`
            SELECT pid FROM pg_locks WHERE locktype = 'relation' AND NOT granted AND relation = ${point.table}::regclass LIMIT 1`;
          return row?.pid;
        }, 20_000, abort),
        release: await holdInTransaction(db.url, `LOCK TABLE ${point.table} IN SHARE MODE`),
      };
    case 'row':
      return {
        env: {},
        reached: (abort) => waitFor('a COMMIT waiting for a row lock', async () => {
          const [row] = await db.sql<{ pid: number }[]>`
            SELECT pid FROM pg_stat_activity
             WHERE datname = current_database() AND application_name LIKE 'strata %' AND wait_event_type = 'Lock' AND query = 'COMMIT' LIMIT 1`;
          return row?.pid;
        }, 20_000, abort),
        release: await holdInTransaction(db.url, point.lockSql),
      };
  }
}

/** Runs `lockSql` in an open transaction on a connection of its own; the lock is held until the returned release. */
async function holdInTransaction(url: string, lockSql: string): Promise<() => Promise<void>> {
  const holder = postgres(url, { max: 1, onnotice: () => {} });
  const tx = await holder.reserve();
  await tx.unsafe('BEGIN');
  await tx.unsafe(lockSql);
  return async () => {
    await tx.unsafe('ROLLBACK').catch(() => undefined);
    tx.release();
    await holder.end({ timeout: 1 });
  };
}

/** What a stopped-and-hit run left: its CLI result and the backend it had. */
export interface Strike {
  result: CliResult;
  backend: number;
}

/** Waits until a backend has gone from pg_stat_activity (its locks and statement with it). */
export async function backendGone(sql: postgres.Sql, pid: number, timeoutMs = 15_000): Promise<void> {
  await waitFor(`backend ${pid} to go away`, async () => {
    const [row] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = ${pid}`;
    return row?.n === 0 ? true : undefined;
  }, timeoutMs);
}

/**
 * Starts `migrate ARGS`, waits until it reaches `point`, then applies `mode`: SIGKILL (then waits
 * for the server to notice and end the orphaned backend — client_connection_check_interval — before
 * anything the run was blocked on is let go), or pg_terminate_backend (then lets the CLI go on, to
 * see it end cleanly).
 */
export async function strike(point: KillPoint, mode: FaultMode, args: string[], options: { db: TestDatabase; cwd: string; command: string; env?: Record<string, string> }): Promise<Strike> {
  const { db } = options;
  const armed = await arm(point, db, options.command);
  let released = false;
  const release = async () => { if (!released) { released = true; await armed.release(); } };
  const run = startCli(args, { cwd: options.cwd, env: { DATABASE_URL: db.url, ...options.env, ...armed.env }, timeoutMs: 90_000 });
  let ended = false;
  void run.done.finally(() => { ended = true; });
  try {
    const backend = await armed.reached(run.done);
    if (mode === 'sigkill') {
      run.child.kill('SIGKILL');
      const result = await run.done;
      // The server must end the orphan by itself, while the run is still blocked: nothing after the point may run.
      await backendGone(db.sql, backend);
      await release();
      return { result, backend };
    }
    const [terminated] = await db.sql<{ ok: boolean }[]>`SELECT pg_terminate_backend(${backend}) AS ok`;
    if (!terminated?.ok) throw new Error(`pg_terminate_backend(${backend}) failed`);
    await backendGone(db.sql, backend);
    await release();
    return { result: await run.done, backend };
  } finally {
    if (!ended) run.child.kill('SIGKILL');
    await run.done.catch(() => undefined);
    await release();
    armed.dispose?.();
  }
}

/** Whether anything holds or waits for a strata run lock in this database. */
export async function runLockHolders(sql: postgres.Sql): Promise<number> {
  const key = runLockKey();
  const [row] = await sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM pg_locks
     WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
       AND classid = ${key.classId >>> 0}::bigint::oid AND objid = ${key.objId >>> 0}::bigint::oid`;
  return row?.n ?? -1;
}

/** Lines that betray a crash rather than a clean exit. */
export const CRASH = /TypeError|ReferenceError|RangeError|Unhandled|unhandled|uncaught|\n\s+at .+:\d+:\d+/;
