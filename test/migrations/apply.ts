/**
 * Runs steps of the bundled migrations through the real runner, and their checks on any connection
 * or transaction (so crafted violations can be rolled back).
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import type postgres from 'postgres';
import { createBackupGuard } from '../../src/backup/guard.js';
import { resolveMigrations } from '../../src/core/resolver.js';
import { runMigrations } from '../../src/core/runner.js';
import { openDatabase } from '../../src/db/connect.js';
import { parseDatabaseUrl } from '../../src/db/url.js';
import { parseChecks } from '../../src/sql/checks.js';
import { loadSqlParser } from '../../src/sql/parser.js';
import type { Direction, MigrationContext, MigrationModule, ModuleCheckResult } from '../../src/core/types.js';
import type { Sql } from '../../src/db/connect.js';
import { tempDir } from '../support/temp.js';

/** A connection or a transaction of one. */
export type Client = postgres.Sql | postgres.TransactionSql;

const migrationsDir = new URL('../../migrations/', import.meta.url);

/** What a step printed: server NOTICEs and the module's log lines. */
export interface StepOutput {
  notices: string[];
  info: string[];
  warnings: string[];
}

function moduleUrl(name: string): URL | undefined {
  const url = new URL(`${name}.js`, migrationsDir);
  return fs.existsSync(url) ? url : undefined;
}

/** Loads a JS migration module (dynamic import: the module is plain JS with JSDoc types). */
export async function loadModule<T = MigrationModule>(name: string): Promise<T> {
  const url = moduleUrl(name);
  if (!url) throw new Error(`no module migration ${name}`);
  return (await import(url.href)) as T;
}

function context(sql: Client, direction: Direction, output: StepOutput): MigrationContext {
  return {
    sql: sql as unknown as Sql,
    direction,
    dryRun: false,
    schema: 'public',
    options: {},
    log: { info: (m) => output.info.push(m), warn: (m) => output.warnings.push(m), debug: () => {} },
  };
}

/**
 * Runs `up` or `down` of the bundled migration `name` through strata's real runner (lock, history,
 * one transaction per step, backups of what a down drops into a temp dir), and returns what it
 * printed. `down` reverts everything applied after `name` too, like `migrate NAME --rollback`.
 */
export async function runStep(url: string, name: string, direction: Direction): Promise<StepOutput> {
  const output: StepOutput = { notices: [], info: [], warnings: [] };
  const db = await openDatabase(parseDatabaseUrl(url), { applicationName: 'strata test' });
  try {
    const migrations = await resolveMigrations(fileURLToPath(migrationsDir));
    const backups = tempDir('strata-step-backups-');
    const result = await runMigrations(db, migrations, {
      direction, target: name, dryRun: false, allowChanged: false, yes: true, noBackup: false, interactive: false,
      lockTimeoutMs: 10_000, ddlLockTimeoutMs: 5_000, retries: 0, schema: 'public', historyTable: 'schema_migrations', options: {},
    }, {
      log: { info: () => {}, warn: () => {}, debug: () => {} },
      guard: createBackupGuard({ root: backups, cwd: backups, database: db.redactedUrl }),
    });
    for (const step of result.steps) {
      // Server NOTICEs arrive as "NOTICE: …"; module log lines as they were written.
      for (const line of step.notices) (line.startsWith('NOTICE: ') ? output.notices : output.info).push(line.replace(/^NOTICE: /, ''));
      output.warnings.push(...step.warnings);
    }
  } finally {
    await db.close();
  }
  return output;
}

/** Runs the checks of migration `name` (verify.sql or `verify(ctx)`) on `sql`. */
export async function runChecks(sql: Client, name: string): Promise<ModuleCheckResult[]> {
  if (moduleUrl(name)) {
    const mod = await loadModule(name);
    return mod.verify ? mod.verify(context(sql, 'up', { notices: [], info: [], warnings: [] })) : [];
  }
  const text = fs.readFileSync(new URL(`${name}/verify.sql`, migrationsDir), 'utf8');
  await loadSqlParser();
  const results: ModuleCheckResult[] = [];
  for (const { title, sql: query } of parseChecks(text, `${name}/verify.sql`)) {
    results.push({ check: title, violations: [...(await sql.unsafe(query))] });
  }
  return results;
}

/** Runs `fn` in a transaction that is always rolled back (crafted violations leave no trace). */
export async function inRollback(sql: postgres.Sql, fn: (tx: postgres.TransactionSql) => Promise<void>): Promise<void> {
  const rollback = new Error('rollback');
  await sql.begin(async (tx) => {
    await fn(tx);
    throw rollback;
  }).catch((error: unknown) => {
    if (error !== rollback) throw error;
  });
}
