/**
 * `migrate demo [--users N]`: the coaching backend's story on a database of its own (`strata_demo`,
 * recreated each time): load a messy MVP dataset, rehearse a phase, apply the phases, verify,
 * roll back, re-apply, convert timestamps and import markdown profiles — printing what happened at
 * each step. `npm run demo` runs it on the embedded database.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { runMigrations, type RunRequest, type RunResult } from '../../core/runner.js';
import { readStatus } from '../../core/status.js';
import { verifyMigrations } from '../../core/verify.js';
import { openDatabase, type Database } from '../../db/connect.js';
import { quoteIdent, quoteLiteral } from '../../db/quote.js';
import { moduleOptions, wholeNumber } from '../options.js';
import { renderStatus, renderStep, renderVerify } from '../render.js';
import { BUNDLED_MIGRATIONS, connect, connectionTarget, type CommandContext } from '../session.js';
import { resolveMigrations, type ResolvedMigration } from '../../core/resolver.js';

const DEMO_DATABASE = 'strata_demo';

/** Recreates `strata_demo` on the target server and opens it. */
async function freshDemoDatabase(ctx: CommandContext): Promise<Database> {
  const admin = await connect(ctx, connectionTarget(ctx));
  try {
    await admin.sql.unsafe(`DROP DATABASE IF EXISTS ${quoteIdent(DEMO_DATABASE)} WITH (FORCE)`);
    await admin.sql.unsafe(`CREATE DATABASE ${quoteIdent(DEMO_DATABASE)}`);
  } finally {
    await admin.close();
  }
  return openDatabase({ ...admin.parts, database: DEMO_DATABASE }, {
    connectTimeoutSeconds: ctx.settings.connectTimeout,
    applicationName: 'strata demo',
    onNotice: (message) => ctx.out.debug(message),
  });
}

const BACKFILLED = ['users', 'engagement_analytics', 'smart_goals', 'sessions', 'session_takeaways', 'transcripts'];
const ALL_TABLES = ['conversations', 'messages', ...BACKFILLED];

/** Tables of `names` that exist, in one query. */
async function existing(db: Database, names: string[]): Promise<string[]> {
  const rows = await db.sql<{ name: string }[]>`SELECT name FROM unnest(${names}::text[]) AS name WHERE to_regclass(quote_ident(name)) IS NOT NULL`;
  return names.filter((n) => rows.some((r) => r.name === n));
}

/** A digest of the backfilled rows (without `updated_at`, which defaults to now()). */
async function digest(db: Database): Promise<string> {
  const tables = await existing(db, BACKFILLED);
  const rows = await db.sql.unsafe<{ t: string; d: string | null }[]>(tables.map((t) =>
    `SELECT ${quoteLiteral(t)} AS t, md5(string_agg((to_jsonb(x) - 'updated_at')::text, '|' ORDER BY (to_jsonb(x) - 'updated_at')::text)) AS d FROM ${quoteIdent(t)} x`).join(' UNION ALL '));
  return createHash('sha256').update(JSON.stringify(rows)).digest('hex').slice(0, 16);
}

/** Row counts of the coaching tables that exist. */
async function counts(db: Database): Promise<Record<string, number>> {
  const tables = await existing(db, ALL_TABLES);
  const rows = await db.sql.unsafe<{ t: string; n: number }[]>(tables.map((t) => `SELECT ${quoteLiteral(t)} AS t, count(*)::int AS n FROM ${quoteIdent(t)}`).join(' UNION ALL '));
  return Object.fromEntries(rows.map((r) => [r.t, r.n]));
}

export async function run(ctx: CommandContext, options: { users?: string }): Promise<number> {
  const { out, settings } = ctx;
  const users = options.users === undefined ? 200 : wholeNumber(options.users, '--users', { min: 1, max: 1_000_000 });
  const migrations: ResolvedMigration[] = await resolveMigrations(settings.migrations ?? BUNDLED_MIGRATIONS);
  const heading = (text: string) => out.result(`\n${out.paint.bold(`== ${text}`)}`);
  const db = await freshDemoDatabase(ctx);
  const base: Omit<RunRequest, 'direction' | 'target' | 'dryRun'> = {
    allowChanged: false, yes: true, noBackup: false, interactive: false, lockTimeoutMs: settings.lockTimeout,
    ddlLockTimeoutMs: settings.ddlLockTimeout, retries: settings.retries, statementTimeoutMs: settings.statementTimeout,
    schema: settings.schema, historyTable: settings.historyTable, options: moduleOptions(settings),
  };
  const { createBackupGuard } = await import('../../backup/guard.js');
  const guard = createBackupGuard({ root: settings.backupDir, cwd: ctx.cwd, database: db.redactedUrl, log: out.logger });
  const step = (direction: 'up' | 'down', target: string, dryRun = false): Promise<RunResult> =>
    runMigrations(db, migrations, { ...base, direction, target, dryRun }, {
      log: { ...out.logger, info: () => {} }, guard, onStepEnd: (report) => renderStep(out, report, dryRun),
    });
  try {
    heading(`1. The chat MVP (001_mvp) with ${users} users of messy data, in database ${DEMO_DATABASE}`);
    await step('up', 'mvp');
    const { generateSampleData } = await import('../../sample/generate.js');
    const sample = await generateSampleData(db.sql, { users, seed: 42 });
    out.result(`loaded ${sample.conversations} conversations and ${sample.messages} messages for ${sample.users} users`);

    heading('2. Rehearse phase 3 first: migrate add_program_tables --dry-run');
    await step('up', 'add_program_tables', true);
    out.result(`tables after the rehearsal: ${JSON.stringify(await counts(db))} — dry run: nothing was changed`);

    heading('3. Apply the phases: migrate add_transcripts');
    await step('up', 'add_transcripts');
    out.result(`row counts: ${JSON.stringify(await counts(db))}`);
    const applied = await digest(db);

    heading('4. Prove it: migrate verify');
    renderVerify(out, await verifyMigrations(db, migrations, { schema: settings.schema, historyTable: settings.historyTable, options: moduleOptions(settings) }, out.logger));

    heading('5. Roll back phases 3 and 4: migrate add_program_tables --rollback --yes');
    const rollback = await step('down', 'add_program_tables');
    out.result(rollback.backups.length > 0 ? `backed up before dropping: ${rollback.backups.join(', ')}` : 'no table held rows: nothing to back up');

    heading('6. Re-apply: the backfills are deterministic');
    await step('up', 'add_transcripts');
    const again = await digest(db);
    out.result(again === applied ? `same rows as before the rollback (digest ${again})` : `rows differ after re-applying (${applied} → ${again})`);

    heading('7. Profiles and time zones: migrate timezone_awareness (010 and 011)');
    await step('up', 'timezone_awareness');

    heading('8. Markdown profiles into jsonb: migrate import-profiles examples/profiles --create-users');
    const { importProfiles } = await import('../../profiles/import.js');
    const profiles = path.join(BUNDLED_MIGRATIONS, '..', 'examples', 'profiles');
    const imported = await importProfiles(db.sql, profiles, { dryRun: false, verify: false, createUsers: true, skipInvalid: false, schema: settings.schema }, { info: () => {}, warn: (m) => out.warn(m) });
    out.result(`imported ${imported.imported}, created ${imported.created} users, ${imported.errors.length} errors`);
    const checked = await importProfiles(db.sql, profiles, { dryRun: false, verify: true, createUsers: false, skipInvalid: false, schema: settings.schema });
    out.result(checked.differences?.length ? `${checked.differences.length} differences` : 'import-profiles --verify: the database matches the files');

    heading('9. migrate status');
    renderStatus(out, db.redactedUrl, BUNDLED_MIGRATIONS, await readStatus(db.sql, migrations, { schema: settings.schema, table: settings.historyTable }));
    out.result(`\nthe demo database is ${DEMO_DATABASE}; connect with: psql "$(./bin/migrate db url | sed 's/\\/postgres$/\\/${DEMO_DATABASE}/')"`);
    return again === applied ? 0 : 1;
  } finally {
    await db.close();
  }
}
