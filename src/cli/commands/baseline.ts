/** `migrate baseline TARGET [--dry-run]`: record migrations up to TARGET as applied without running them. */
import { baselineMigrations } from '../../core/baseline.js';
import { connectionTarget, migrationsSource, withDatabase, type CommandContext } from '../session.js';

export async function run(ctx: CommandContext, target: string): Promise<number> {
  const { settings, out } = ctx;
  const connection = connectionTarget(ctx);
  const source = await migrationsSource(ctx, connection);
  const result = await withDatabase(ctx, connection, (db) => baselineMigrations(db.sql, source.migrations,
    { schema: settings.schema, table: settings.historyTable }, target, { dryRun: settings.dryRun, lockTimeoutMs: settings.lockTimeout }));
  if (out.json) {
    out.document(result);
    if (result.dryRun) out.progress('dry run: nothing was changed');
    return 0;
  }
  for (const name of result.baselined) out.result(`${result.dryRun ? 'would record' : 'recorded'} ${name} as applied (not run)`);
  out.result(result.dryRun ? 'dry run: nothing was changed' : `baselined ${result.baselined.length} migration${result.baselined.length === 1 ? '' : 's'}: later ones run with migrate up`);
  return 0;
}
