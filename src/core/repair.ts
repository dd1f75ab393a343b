/**
 * `repair NAME` (SPEC §5): after a human fixed what a failed no-transaction migration left behind,
 * remove its `failed` history row so `up` can run again; first list what PostgreSQL can tell us
 * the failed run left (INVALID indexes from CREATE INDEX CONCURRENTLY, and the like).
 */
import type { Sql } from '../db/connect.js';
import { UsageError } from '../errors.js';
import { HistoryStore, type HistoryLocation } from './history.js';
import { withRunLock } from './lock.js';
import { findTarget, migrationStatus } from './plan.js';
import type { ResolvedMigration } from './resolver.js';

/** Something a failed run may have left behind. */
export interface Leftover {
  kind: 'invalid_index';
  name: string;
  table: string;
  hint: string;
}

/** What `repair` did. */
export interface RepairResult {
  migration: string;
  removed: boolean;
  leftovers: Leftover[];
}

/** INVALID indexes of the schema: the trace a cut CREATE INDEX CONCURRENTLY leaves. */
export async function findLeftovers(sql: Sql, schema: string): Promise<Leftover[]> {
  const rows = await sql<{ index: string; table: string }[]>`
    SELECT format('%I.%I', n.nspname, ci.relname) AS index, format('%I.%I', n.nspname, ct.relname) AS table
    FROM pg_index i
    JOIN pg_class ci ON ci.oid = i.indexrelid
    JOIN pg_class ct ON ct.oid = i.indrelid
    JOIN pg_namespace n ON n.oid = ci.relnamespace
    WHERE NOT i.indisvalid AND n.nspname = ${schema}
    ORDER BY 1`;
  return rows.map((r) => ({
    kind: 'invalid_index', name: r.index, table: r.table,
    hint: `DROP INDEX CONCURRENTLY ${r.index}; (then re-run the migration) or REINDEX INDEX CONCURRENTLY ${r.index};`,
  }));
}

/** Removes the `failed` row of NAME under the run lock. */
export async function repairMigration(sql: Sql, migrations: ResolvedMigration[], location: HistoryLocation, name: string, lockTimeoutMs: number): Promise<RepairResult> {
  const history = new HistoryStore(sql, location);
  return withRunLock(sql, location, lockTimeoutMs, async () => {
    const entries = migrationStatus(migrations, await history.load());
    const entry = entries.find((e) => e.name === name || e.phase === name) ?? findTarget(entries, name);
    if (entry.state !== 'failed') {
      throw new UsageError(`${entry.name} is ${entry.state}, not failed: nothing to repair`, {
        hint: 'repair only resolves migrations that status shows as failed',
      });
    }
    const leftovers = await findLeftovers(sql, location.schema);
    await history.remove(entry.name);
    return { migration: entry.name, removed: true, leftovers };
  });
}
