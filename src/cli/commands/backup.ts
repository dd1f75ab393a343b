/**
 * `migrate backup TABLE... [--out DIR]` (SPEC §6): a verified CSV backup of the tables, all in one
 * snapshot. `--out DIR` is the backup root for this run (default `--backup-dir`, `./backups`); the
 * backup itself is `<root>/<UTC yyyymmddThhmmssZ>_manual/`.
 */
import os from 'node:os';
import path from 'node:path';
import { openDatabase } from '../../db/connect.js';
import { UsageError } from '../../errors.js';
import { wholeNumber } from '../options.js';
import { groupDigits } from '../render.js';
import { connectionTarget, withDatabase, type CommandContext } from '../session.js';

export async function run(ctx: CommandContext, tables: string[], options: { out?: string; jobs?: string }): Promise<number> {
  const { settings, out } = ctx;
  if (tables.length === 0) throw new UsageError('name at least one table to back up');
  // Parallel COPY helps while there are cores for it: on 2 cores, 4 streams lost to 2 (BENCHMARKS.md).
  const jobs = options.jobs === undefined ? Math.min(4, Math.max(1, os.availableParallelism())) : wholeNumber(options.jobs, '--jobs', { min: 1, max: 32 });
  const { createBackup } = await import('../../backup/index.js');
  const root = path.resolve(ctx.cwd, options.out ?? settings.backupDir);
  const progress = await out.spinner(`backing up ${tables.join(', ')}`);
  const result = await withDatabase(ctx, connectionTarget(ctx), async (db) => createBackup(db.sql, tables, {
    root,
    reason: 'manual',
    database: db.redactedUrl,
    jobs,
    lockTimeoutMs: settings.lockTimeout,
    // Extra connections export the same snapshot and COPY in parallel, as pg_dump -j does.
    // Probed (not lazy): postgres 3.4.9's reserve() hangs on a pool that never connected without fetch_types.
    connect: async () => (await openDatabase(db.parts, { connectTimeoutSeconds: settings.connectTimeout, applicationName: 'strata backup' })).sql,
    onTable: (t: { table: string; rows: number; bytes: number }) => progress.update(`backed up ${t.table}: ${groupDigits(t.rows)} rows, ${(t.bytes / 1e6).toFixed(1)} MB`),
    onWarning: (message: string) => out.warn(message),
  })).finally(() => progress.stop());
  const dir = path.relative(ctx.cwd, result.dir) || result.dir;
  const tablesOut = result.manifest.tables.map((t) => ({ table: t.table, rows: t.rows, bytes: t.bytes, sha256: t.sha256 }));
  if (out.json) {
    out.document({ dir, tables: tablesOut });
  } else {
    for (const t of tablesOut) out.result(`${t.table}: ${groupDigits(t.rows)} rows, ${groupDigits(t.bytes)} bytes, sha256 ${t.sha256.slice(0, 12)}…`);
    out.result(`backup written and verified: ${dir}`);
  }
  return 0;
}
