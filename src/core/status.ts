/**
 * `status` (SPEC §5): every migration on disk or in history with its state. One query; no lock,
 * no writes (a missing history table reads as "nothing applied").
 */
import type { Sql } from '../db/connect.js';
import { HistoryStore } from './history.js';
import { migrationStatus, type StatusEntry } from './plan.js';
import type { ResolvedMigration } from './resolver.js';

/** Reads history and merges it with the migrations on disk. */
export async function readStatus(sql: Sql, migrations: ResolvedMigration[], location: { schema: string; table: string }): Promise<StatusEntry[]> {
  const history = new HistoryStore(sql, location);
  return migrationStatus(migrations, await history.load());
}
