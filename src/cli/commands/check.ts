/**
 * `migrate check [TARGET]` (SPEC §5): apply, verify, roll back, compare, re-apply, verify — each
 * migration on a throwaway database that is dropped afterwards, even on failure or Ctrl-C.
 */
import { checkMigrations } from '../../core/check.js';
import { createThrowawayDatabase, startEphemeralServer, type Throwaway } from '../../db/throwaway.js';
import { openDatabase } from '../../db/connect.js';
import { moduleOptions } from '../options.js';
import { givenServer, migrationsSource, warnAboutConnection, type CommandContext } from '../session.js';

export async function run(ctx: CommandContext, target: string | undefined): Promise<number> {
  const { settings, out } = ctx;
  const given = givenServer(ctx); // none given: an ephemeral server of its own
  const source = await migrationsSource(ctx, given ?? { kind: 'embedded' });
  if (given) warnAboutConnection(ctx, given.parts);
  const throwaway: Throwaway = given
    ? await createThrowawayDatabase(given.parts, settings.connectTimeout)
    : await startEphemeralServer(ctx.env, (line) => out.progress(line));
  out.addSecret(throwaway.parts.password);
  // Ctrl-C or a kill must not leave strata_check_* databases or temp servers behind.
  const onSignal = (signal: NodeJS.Signals) => {
    void throwaway.dispose().finally(() => { process.kill(process.pid, signal); });
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    out.progress(`checking ${source.migrations.length} migrations on ${throwaway.description}`);
    const db = await openDatabase(throwaway.parts, { connectTimeoutSeconds: settings.connectTimeout, applicationName: 'strata check' });
    const report = await checkMigrations(db, source.migrations, {
      target, schema: settings.schema, historyTable: settings.historyTable, ddlLockTimeoutMs: settings.ddlLockTimeout,
      retries: settings.retries, statementTimeoutMs: settings.statementTimeout, options: moduleOptions(settings),
    }, { ...out.logger, info: (m) => out.debug(m) }).finally(() => db.close());
    if (out.json) out.document({ ...report, database: throwaway.description });
    else {
      for (const step of report.steps) {
        const mark = step.ok ? out.paint.green('✓') : out.paint.red('✗');
        out.result(`${mark} ${step.migration} ${step.action} (${step.durationMs} ms)${step.detail ? ` — ${step.detail}` : ''}`);
        for (const line of step.diff ?? []) out.result(`    ${line}`);
      }
      const failed = report.steps.find((s) => !s.ok);
      const count = new Set(report.steps.map((s) => s.migration)).size;
      out.result(failed ? `check failed at ${failed.migration} (${failed.action})` : `check passed: ${count} migration${count === 1 ? '' : 's'} apply, verify, roll back cleanly and re-apply`);
    }
    return report.ok ? 0 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await throwaway.dispose();
  }
}
