/** `migrate up [TARGET]`, `migrate down [TARGET]`, `migrate PHASE [--rollback]` (SPEC §5, §7). */
import { runMigrations, type RunResult } from '../../core/runner.js';
import type { ResolvedMigration } from '../../core/resolver.js';
import type { Database } from '../../db/connect.js';
import { matchTarget, unknownPhase } from '../../core/plan.js';
import type { Direction } from '../../core/types.js';
import { ExitCode, StrataError } from '../../errors.js';
import { moduleOptions } from '../options.js';
import { renderDryRunLine, renderPlan, renderRunSummary, renderStep } from '../render.js';
import { reportError } from '../report-error.js';
import { askYesNo } from '../prompt.js';
import { connectionTarget, migrationsSource, withDatabase, type CommandContext, type MigrationsSource } from '../session.js';

/** Runs up or down to TARGET and renders the result. */
export async function run(ctx: CommandContext, direction: Direction, target: string | undefined): Promise<number> {
  const { out } = ctx;
  let source: MigrationsSource | undefined;
  let result: RunResult;
  try {
    result = await unknownTargetFirst(ctx, target, () => source, async () => {
      const connection = connectionTarget(ctx);
      source = await migrationsSource(ctx, connection);
      const { migrations } = source;
      // The run awaits everything it sends (steps sent ahead are settled, the lock released), so the
      // session ends without waiting for the server's goodbye.
      return withDatabase(ctx, connection, (db) => runOn(ctx, db, migrations, direction, target), { waitForClose: false });
    });
  } catch (error) {
    if (!ctx.settings.dryRun) throw error;
    // SPEC §7: a dry run's last line says nothing was changed — after its error, too (its
    // transaction was rolled back, or never began).
    const code = reportError(out, error);
    renderDryRunLine(out);
    return code;
  }
  if (out.json) out.document(result);
  renderRunSummary(out, result);
  return 0;
}

/** The run on an open database, steps rendered as they commit. */
async function runOn(ctx: CommandContext, db: Database, migrations: ResolvedMigration[], direction: Direction, target: string | undefined): Promise<RunResult> {
  const { settings, out } = ctx;
  const { createBackupGuard } = await import('../../backup/guard.js');
  const guard = createBackupGuard({ root: settings.backupDir, cwd: ctx.cwd, database: db.redactedUrl, schema: settings.schema, log: out.logger });
  let spinner: Awaited<ReturnType<typeof out.spinner>> | undefined;
  try {
    return await runMigrations(db, migrations, {
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
      // SPEC §5: a rollback prints its plan first (stdout: plans are results), before any question
      // or refusal. `up` does not: its steps are printed as they apply, one line each, and `plan`
      // or --dry-run show them beforehand; the JSON carries the plan either way.
      onPlan: (plan, dir) => {
        if (!out.json && dir === 'down') renderPlan(out, plan, settings.dryRun);
      },
      onStepStart: async (name, dir) => {
        spinner = await out.spinner(`${dir === 'up' ? 'applying' : 'reverting'} ${name}`);
      },
      onStepEnd: (report) => {
        spinner?.stop();
        spinner = undefined;
        // Streamed as each step commits, so a run that fails later still shows what it applied.
        if (!out.json) renderStep(out, report, settings.dryRun);
      },
    });
  } finally {
    // A step that failed leaves its spinner running: its timer would keep the process alive.
    spinner?.stop();
  }
}

/**
 * A TARGET that names no migration on disk is a usage error (exit 2) even when no database is given
 * or it cannot be reached: `migrate tyop` says "unknown phase", not "cannot connect". With a
 * database, the run decides as always (a TARGET only in history is a missing migration, exit 5).
 */
async function unknownTargetFirst<T>(ctx: CommandContext, target: string | undefined, resolved: () => MigrationsSource | undefined, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (target === undefined || !(error instanceof StrataError) || error.exitCode !== ExitCode.connection) throw error;
    const migrations = resolved()?.migrations ?? (await migrationsSource(ctx, undefined).catch(() => undefined))?.migrations;
    if (migrations && !matchTarget(migrations, target)) throw unknownPhase(migrations.map((m) => m.phase), target);
    throw error;
  }
}
