/**
 * Writing migrations: `create`, `plan`, and TS/JS modules with ctx (SPEC §3).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { historyRows } from '../support/catalog.js';
import { runCli } from '../support/cli.js';
import { createDatabase, dropDatabase, type TestDatabase } from '../support/database.js';
import { tempDir, writeMigrations } from '../support/migrations.js';

describe('migrate create', () => {
  it('scaffolds the next number, padded like the others, as SQL or TypeScript', async () => {
    const dir = writeMigrations({ '009_first': { up: 'SELECT 1;' } });
    const sql = await runCli(['--migrations', dir, 'create', 'Add Users']);
    expect(sql.code).toBe(0);
    expect(fs.readdirSync(path.join(dir, '010_add_users')).sort()).toEqual(['down.sql', 'up.sql', 'verify.sql']);
    const ts = await runCli(['--migrations', dir, 'create', 'backfill_users', '--ts', '--json']);
    expect(ts.json()).toMatchObject({ name: '011_backfill_users' });
    expect(fs.existsSync(path.join(dir, '011_backfill_users.ts'))).toBe(true);
    expect((await runCli(['--migrations', dir, 'create', 'add_users'])).code).toBe(2);
    expect((await runCli(['--migrations', dir, 'create', 'bad;name'])).code).toBe(2);
  });

  it('creates ./migrations when none exists', async () => {
    const cwd = tempDir();
    const result = await runCli(['create', 'init'], { cwd });
    expect(result.code).toBe(0);
    expect(fs.existsSync(path.join(cwd, 'migrations', '001_init', 'up.sql'))).toBe(true);
  });
});

describe('migrate plan', () => {
  it('prints the ordered steps and their SQL without a database', async () => {
    const dir = writeMigrations({
      '001_a': { up: 'CREATE TABLE a (id int);\n' },
      '002_b': { up: '-- strata: no-transaction\nCREATE INDEX CONCURRENTLY a_id ON a (id);\n' },
    });
    const result = await runCli(['--migrations', dir, 'plan']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('1. 001_a (up)');
    expect(result.stdout).toContain('2. 002_b (up, no-transaction)');
    expect(result.stdout).toContain('CREATE INDEX CONCURRENTLY a_id ON a (id);');
    expect(result.stderr).toContain('not connected');
    const json = await runCli(['--migrations', dir, 'plan', 'a', '--json']);
    expect(json.json<{ steps: { name: string }[] }>().steps.map((s) => s.name)).toEqual(['001_a']);
  });

  it('points at a dry run for the statements of a TS/JS module, which only running it shows', async () => {
    const dir = writeMigrations({ '001_people.js': 'export async function up({ sql }) { await sql`CREATE TABLE people (id int)`; }\nexport async function down() {}\n' });
    const up = await runCli(['--migrations', dir, 'plan']);
    expect(up.code).toBe(0);
    expect(up.stdout).toContain('1. 001_people (up) — ');
    expect(up.stdout).toContain('`migrate people --dry-run` lists them');
    expect(up.stdout).not.toContain('runs its exported function');
  });
});

describe('TS/JS module migrations', () => {
  let db: TestDatabase;
  beforeAll(async () => { db = await createDatabase(); });
  afterAll(async () => { await dropDatabase(db); });

  it('receive ctx (sql in the transaction, direction, dryRun, schema, log) and report their statements', async () => {
    const dir = writeMigrations({
      '001_people.ts': `
        import type { MigrationContext } from '../../src/core/types.js';
        export async function up({ sql, direction, dryRun, schema, log }: MigrationContext) {
          await sql\`CREATE TABLE people (id int, name text)\`;
          const inserted = await sql\`INSERT INTO people VALUES (1, \${'Ada'}), (2, \${'Grace'})\`;
          log.info(\`inserted \${inserted.count} people (\${direction}, dry run: \${dryRun}, schema: \${schema})\`);
        }
        export async function down({ sql }: MigrationContext) { await sql\`DROP TABLE people\`; }
        export async function verify({ sql }: MigrationContext) {
          return [{ check: 'names are set', violations: [...await sql\`SELECT id FROM people WHERE name IS NULL\`] }];
        }
        export function destroys({ direction }: MigrationContext) { return direction === 'down' ? ['people'] : []; }
      `,
      '002_fails.js': `
        export async function up({ sql }) { await sql\`CREATE TABLE half (id int)\`; throw new Error('backfill found 3 orphans'); }
        export async function down() {}
      `,
    });
    const env = { DATABASE_URL: db.url };
    const dry = await runCli(['--migrations', dir, 'people', '--dry-run', '--json'], { env });
    expect(dry.code).toBe(0);
    const doc = dry.json<{ steps: { statements: { sql: string; rowCount: number | null }[]; notices: string[] }[] }>();
    expect(doc.steps[0]!.statements).toEqual([
      { sql: 'CREATE TABLE people (id int, name text)', rowCount: null },
      { sql: 'INSERT INTO people VALUES (1, $1), (2, $2)', rowCount: 2 },
    ]);
    expect(doc.steps[0]!.notices).toEqual(['inserted 2 people (up, dry run: true, schema: public)']);
    expect((await db.sql`SELECT to_regclass('people') AS t`)[0]!.t).toBeNull();

    const real = await runCli(['--migrations', dir, 'up'], { env });
    expect(real.code).toBe(1);
    // The line it threw from (the file starts with a newline).
    expect(real.stderr).toContain('error: 002_fails.js:2: up() failed: backfill found 3 orphans');
    expect((await historyRows(db.sql)).map((r) => r.name)).toEqual(['001_people']);
    expect((await db.sql`SELECT to_regclass('half') AS t`)[0]!.t).toBeNull(); // rolled back with its transaction
    const verify = await runCli(['--migrations', dir, 'verify', 'people', '--json'], { env });
    expect(verify.json()).toMatchObject({ ok: true, checks: [{ check: 'checksum' }, { check: 'names are set', ok: true }] });
  });

  it('cannot end strata\'s transaction behind its back', async () => {
    const dir = writeMigrations({
      '001_sneaky.js': `export async function up({ sql }) { await sql.begin(async () => {}); }\nexport async function down() {}\n`,
    });
    const result = await runCli(['--migrations', dir, '--history-table', 'sneaky_history', 'up'], { env: { DATABASE_URL: db.url } });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('ctx.sql.begin() is not allowed');
  });
});
