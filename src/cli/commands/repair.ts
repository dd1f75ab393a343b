/** `migrate repair NAME` (SPEC §5): resolve a failed migration after a human fixed the database. */
import { repairMigration } from '../../core/repair.js';
import { connectionTarget, migrationsSource, withDatabase, type CommandContext } from '../session.js';

export async function run(ctx: CommandContext, name: string): Promise<number> {
  const { settings, out } = ctx;
  const connection = connectionTarget(ctx);
  const source = await migrationsSource(ctx, connection);
  const result = await withDatabase(ctx, connection, (db) =>
    repairMigration(db.sql, source.migrations, { schema: settings.schema, table: settings.historyTable }, name, settings.lockTimeout));
  if (out.json) {
    out.document(result);
    return 0;
  }
  if (result.leftovers.length > 0) {
    out.result('the failed run left these behind (PostgreSQL reports them; decide before re-running):');
    for (const l of result.leftovers) out.result(`  INVALID index ${l.name} on ${l.table} — ${l.hint}`);
  } else {
    out.result('PostgreSQL reports nothing the failed run left behind (no INVALID indexes).');
  }
  out.result(`${result.migration}: failed record removed; it is pending again`);
  return 0;
}
