/** `migrate verify [TARGET]` (SPEC §5): exit 0 all pass, 5 checksum failure, else 1. */
import { verifyMigrations } from '../../core/verify.js';
import { moduleOptions } from '../options.js';
import { renderVerify } from '../render.js';
import { connectionTarget, migrationsSource, withDatabase, type CommandContext } from '../session.js';

export async function run(ctx: CommandContext, target: string | undefined): Promise<number> {
  const { settings, out } = ctx;
  const connection = connectionTarget(ctx);
  const source = await migrationsSource(ctx, connection);
  const result = await withDatabase(ctx, connection, (db) => verifyMigrations(db, source.migrations, {
    target,
    schema: settings.schema,
    historyTable: settings.historyTable,
    statementTimeoutMs: settings.statementTimeout,
    options: moduleOptions(settings),
  }, out.logger), { waitForClose: false }); // read-only, and every check has answered when it returns
  if (out.json) out.document({ ok: result.ok, checks: result.checks });
  else renderVerify(out, result);
  return result.exitCode;
}
