/**
 * `migrate baseline TARGET`: adopt a database whose schema already exists (built by hand or by
 * another tool) by recording the migrations up to TARGET as applied, with their checksums, without
 * running them — Flyway's baseline, Sqitch's `--log-only`. Only on a database strata never ran on:
 * with any history row it refuses (exit 5), because then the history would stop telling the truth.
 */
import type { Sql } from '../db/connect.js';
import { IntegrityError } from '../errors.js';
import { HistoryStore, type HistoryLocation } from './history.js';
import { withRunLock } from './lock.js';
import { findTarget, migrationStatus } from './plan.js';
import { compareMigrations, type ResolvedMigration } from './resolver.js';
import { quoteLiteral } from '../db/quote.js';

/** What `baseline` recorded (or would record, with `dryRun`). */
export interface BaselineResult {
  dryRun: boolean;
  baselined: string[];
}

/** Records every migration up to TARGET as applied, without running it. */
export async function baselineMigrations(sql: Sql, migrations: ResolvedMigration[], location: HistoryLocation, target: string, options: { dryRun: boolean; lockTimeoutMs: number }): Promise<BaselineResult> {
  const history = new HistoryStore(sql, location);
  return withRunLock(sql, location, options.lockTimeoutMs, async () => {
    const rows = await history.load();
    if (rows.length > 0) {
      throw new IntegrityError(`cannot baseline: ${location.schema}.${location.table} already records ${rows.length} migration${rows.length === 1 ? '' : 's'}`, {
        hint: 'baseline adopts a database strata never ran on; here use migrate up',
      });
    }
    const entries = migrationStatus(migrations, rows);
    const limit = findTarget(entries, target);
    const chosen = entries.filter((e) => compareMigrations(e, limit) <= 0);
    if (!options.dryRun && chosen.length > 0) {
      await history.ensure();
      // One statement: all recorded or none.
      await sql.unsafe(`INSERT INTO ${history.qualified} (name, checksum, duration_ms, state) VALUES ${chosen
        .map((e) => `(${quoteLiteral(e.name)}, ${quoteLiteral(e.checksum)}, 0, 'applied')`).join(', ')}`);
    }
    return { dryRun: options.dryRun, baselined: chosen.map((e) => e.name) };
  });
}
