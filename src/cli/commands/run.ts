/** `migrate up [TARGET]`, `migrate down [TARGET]`, `migrate PHASE [--rollback]` (SPEC §5, §7). */
import { preloadSqlParser, runMigrations, type RunResult } from '../../core/runner.js';
import type { Direction } from '../../core/types.js';
import { moduleOptions } from '../options.js';
import { renderRunSummary, renderStep } from '../render.js';
import { askYesNo } from '../prompt.js';
import { connectionTarget, migrationsSource, withDatabase, type CommandContext } from '../session.js';

/** Runs up or down to TARGET and renders the result. */
export async function run(ctx: CommandContext, direction: Direction, target: string | undefined): Promise<number> {
  const { settings, out } = ctx;
  const connection = connectionTarget(ctx);
  const source = await migrationsSource(ctx, connection);
  // The parser compiles while we connect, take the lock and read history.
  if (source.migrations.some((m) => m.kind === 'sql')) preloadSqlParser();
  const result: RunResult = await withDatabase(ctx, connection, async (db) => {
    const { createBackupGuard } = await import('../../backup/guard.js');
    const guard = createBackupGuard({ root: settings.backupDir, cwd: ctx.cwd, database: db.redactedUrl, schema: settings.schema, log: out.logger });
    let spinner: Awaited<ReturnType<typeof out.spinner>> | undefined;
    return runMigrations(db, source.migrations, {
      direction,
      target,
      dryRun: settings.dryRun,
      allowChanged: settings.allowChanged,
      yes: settings.yes,
      noBackup: !settings.backup,
      interactive: ctx.interactive,
      lockTimeoutMs: settings.lockTimeout,
      ddlLockTimeoutMs: settings.ddlLockTimeout,
      retries: settings.retries,
      statementTimeoutMs: settings.statementTimeout,
      schema: settings.schema,
      historyTable: settings.historyTable,
      options: moduleOptions(settings),
    }, {
      log: out.logger,
      confirm: (question) => askYesNo(question),
      guard,
      onStepStart: async (name, dir) => {
        spinner = await out.spinner(`${dir === 'up' ? 'applying' : 'reverting'} ${name}`);
      },
      onStepEnd: (report) => {
        spinner?.stop();
        // Streamed as each step commits, so a run that fails later still shows what it applied.
        if (!out.json) renderStep(out, report, settings.dryRun);
      },
    });
  });
  if (out.json) out.document(result);
  renderRunSummary(out, result);
  return 0;
}
