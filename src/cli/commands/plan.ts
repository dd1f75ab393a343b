/**
 * `migrate plan [TARGET]` (SPEC §5): the ordered steps and the SQL each would run. It connects only
 * when a database is given explicitly (flag, DATABASE_URL, libpq variables) to learn what is
 * applied; otherwise it plans from an empty history without connecting.
 */
import { HistoryStore } from '../../core/history.js';
import { migrationStatus, selectDown, selectUp, type StatusEntry } from '../../core/plan.js';
import type { ResolvedMigration } from '../../core/resolver.js';
import { givenServer, migrationsSource, withDatabase, type CommandContext } from '../session.js';

interface PlannedStepView {
  name: string;
  direction: 'up' | 'down';
  kind: 'sql' | 'module';
  file: string;
  transactional: boolean;
  sql: string | null;
}

async function stepView(entry: StatusEntry, direction: 'up' | 'down'): Promise<PlannedStepView> {
  const m = entry.migration as ResolvedMigration;
  const source = direction === 'up' ? m.up : m.down;
  const { readDirectives } = await import('../../sql/directives.js');
  const transactional = source ? !readDirectives(source.text, source.displayPath).noTransaction : true;
  return { name: entry.name, direction, kind: m.kind, file: source?.displayPath ?? m.path, transactional, sql: source?.text ?? null };
}

export async function run(ctx: CommandContext, target: string | undefined): Promise<number> {
  const { settings, out } = ctx;
  const connection = givenServer(ctx); // none given: plan offline
  const source = await migrationsSource(ctx, connection ?? (settings.embedded ? { kind: 'embedded' } : undefined));
  const rows = connection !== undefined
    ? await withDatabase(ctx, connection, (db) => new HistoryStore(db.sql, { schema: settings.schema, table: settings.historyTable }).load())
    : [];
  const entries = migrationStatus(source.migrations, rows);
  const direction = settings.rollback ? 'down' : 'up';
  const selection = direction === 'up'
    ? selectUp(entries, target, { allowChanged: true })
    : selectDown(entries, target, { allowChanged: true });
  const steps = await Promise.all(selection.steps.map((e) => stepView(e, direction)));
  if (out.json) {
    out.document({ connected: connection !== undefined, direction, steps, warnings: selection.warnings });
    return 0;
  }
  if (connection === undefined) out.progress('not connected: planning from an empty history (pass --database-url to plan against a database)');
  if (steps.length === 0) out.result(direction === 'up' ? 'nothing to apply' : 'nothing to revert');
  for (const [i, step] of steps.entries()) {
    out.result(out.paint.bold(`${i + 1}. ${step.name} (${direction}${step.transactional ? '' : ', no-transaction'}) — ${step.file}`));
    if (step.sql === null) {
      // Its statements exist only when its code runs: a dry run runs it and lists them.
      const rehearse = `migrate ${entries.find((e) => e.name === step.name)?.phase ?? step.name}${direction === 'down' ? ' --rollback' : ''} --dry-run`;
      out.result(`   (TypeScript/JavaScript module: its ${direction}() builds its statements as it runs; \`${rehearse}\` lists them)`);
    }
    else for (const line of step.sql.trimEnd().split('\n')) out.result(`   ${line}`);
    out.result('');
  }
  return 0;
}
