/**
 * A stand-in for the runner while it is being written: runs one step of a bundled migration (SQL
 * directory or JS module) in its own transaction, and its checks. The lead switches these tests to
 * the real runner later.
 */
import fs from 'node:fs';
import postgres from 'postgres';
import type { Direction, MigrationContext, MigrationModule, ModuleCheckResult } from '../../src/core/types.js';
import type { Sql } from '../../src/db/connect.js';

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

/** Runs `up` or `down` of migration `name` in one transaction on a connection of its own. */
export async function runStep(url: string, name: string, direction: Direction): Promise<StepOutput> {
  const output: StepOutput = { notices: [], info: [], warnings: [] };
  const sql = postgres(url, { max: 1, onnotice: (notice) => output.notices.push(String(notice.message)) });
  try {
    const mod = moduleUrl(name) ? await loadModule(name) : undefined;
    await sql.begin(async (tx) => {
      if (mod) {
        const step = direction === 'up' ? mod.up : mod.down;
        if (!step) throw new Error(`${name} has no ${direction}`);
        await step(context(tx, direction, output));
      } else {
        await tx.unsafe(fs.readFileSync(new URL(`${name}/${direction}.sql`, migrationsDir), 'utf8'));
      }
    });
  } finally {
    await sql.end();
  }
  return output;
}

/** Splits a verify.sql into its `-- check: <title>` sections. */
export function parseChecks(text: string): { check: string; sql: string }[] {
  const parts = text.split(/^-- check: (.*)$/m);
  const checks: { check: string; sql: string }[] = [];
  for (let i = 1; i < parts.length; i += 2) checks.push({ check: parts[i]!.trim(), sql: parts[i + 1]!.trim() });
  return checks;
}

/** Runs the checks of migration `name` (verify.sql or `verify(ctx)`) on `sql`. */
export async function runChecks(sql: Client, name: string): Promise<ModuleCheckResult[]> {
  if (moduleUrl(name)) {
    const mod = await loadModule(name);
    return mod.verify ? mod.verify(context(sql, 'up', { notices: [], info: [], warnings: [] })) : [];
  }
  const text = fs.readFileSync(new URL(`${name}/verify.sql`, migrationsDir), 'utf8');
  const results: ModuleCheckResult[] = [];
  for (const { check, sql: query } of parseChecks(text)) {
    results.push({ check, violations: [...(await sql.unsafe(query))] });
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
