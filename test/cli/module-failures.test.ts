/**
 * TS/JS migrations that fail (SPEC §3, §5): the file and line of the failing statement (in the
 * module's source, also for TypeScript that tsx transpiles), which function failed, and a module
 * without down(ctx) refused like a directory without down.sql.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { catalogSnapshot, historyRows } from '../support/catalog.js';
import { runCli } from '../support/cli.js';
import { withTestDatabase, type TestDatabase } from '../support/database.js';
import { tempDir, writeMigrations } from '../support/migrations.js';

const cliFor = (db: TestDatabase, dir: string) => (...args: string[]) =>
  runCli(['--migrations', dir, ...args], { env: { DATABASE_URL: db.url } });

/** Types, an interface and a blank line before the failing statement: esbuild drops or moves all of them. */
const failingTs = [
  'type Ctx = { sql: any };',
  'interface Row { id: number }',
  '',
  'export async function up({ sql }: Ctx) {',
  '  await sql`CREATE TABLE t_half (id int)`;',
  '  const row: Row = { id: 1 };',
  '  await sql`INSERT INTO nope_tbl VALUES (${row.id})`;',
  '}',
  '',
].join('\n');

describe('a failing statement of a module names its file and line', () => {
  it('TypeScript loaded as CommonJS (no package.json) and as an ES module ("type": "module"): the source\'s line', () => withTestDatabase(async (db) => {
    const commonjs = writeMigrations({ '001_ok': { up: 'CREATE TABLE ok (id int);\n' }, '002_t.ts': failingTs });
    const result = await cliFor(db, commonjs)('up');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('error: 002_t.ts:7: relation "nope_tbl" does not exist (SQLSTATE 42P01)');
    expect((await historyRows(db.sql)).map((r) => r.name)).toEqual(['001_ok']);
    expect((await db.sql`SELECT to_regclass('t_half') AS t`)[0]!.t).toBeNull();

    const root = tempDir('strata-esm-');
    fs.writeFileSync(path.join(root, 'package.json'), '{ "type": "module" }\n');
    const esm = writeMigrations({ '002_t.ts': failingTs }, path.join(root, 'migrations'));
    const again = await cliFor(db, esm)('--history-table', 'esm_history', 'up', '--dry-run', '--json');
    expect(again.code).toBe(1);
    expect(again.json<{ error: { message: string } }>().error.message).toBe('002_t.ts:7: relation "nope_tbl" does not exist (SQLSTATE 42P01)');
  }));

  it('a query read through a cursor fails at its own line', () => withTestDatabase(async (db) => {
    const dir = writeMigrations({
      '001_cursor.js': [
        'export async function up({ sql }) {',
        '  await sql`CREATE TABLE cur_half (id int)`;',
        '  for await (const rows of sql`SELECT * FROM nope_cursor`.cursor(10)) void rows;',
        '}',
        '',
      ].join('\n'),
    });
    const result = await cliFor(db, dir)('up');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('error: 001_cursor.js:3: relation "nope_cursor" does not exist (SQLSTATE 42P01)');
    expect((await db.sql`SELECT to_regclass('cur_half') AS t`)[0]!.t).toBeNull();
  }));

  it('a query while a cursor is being read is refused at once, never a run that waits for itself forever', () => withTestDatabase(async (db) => {
    const loop = (body: string) => writeMigrations({
      '001_loop.js': [
        'export async function up({ sql }) {',
        '  await sql`CREATE TABLE looped (id int, done boolean DEFAULT false)`;',
        '  await sql`INSERT INTO looped (id) SELECT generate_series(1, 30)`;',
        body,
        '}',
        '',
      ].join('\n'),
    });
    const iterator = loop('  for await (const rows of sql`SELECT id FROM looped`.cursor(10)) await sql`UPDATE looped SET done = true WHERE id IN ${sql(rows.map((r) => r.id))}`;');
    const callback = loop('  await sql`SELECT id FROM looped`.cursor(10, (rows) => sql.unsafe(\'UPDATE looped SET done = true\'));');
    for (const dir of [iterator, callback]) {
      const result = await runCli(['--migrations', dir, 'up'], { env: { DATABASE_URL: db.url }, timeoutMs: 30_000 });
      expect(result.code, result.stderr).toBe(1);
      expect(result.stderr).toMatch(/^error: 001_loop\.js:4: (up\(\) failed: )?a query while a cursor is being read would wait for that cursor forever \(a migration has one connection\)$/m);
      expect(result.stderr).toContain('hint: read the cursor to the end first');
      expect((await db.sql`SELECT to_regclass('looped') AS t`)[0]!.t).toBeNull();
      expect(await historyRows(db.sql)).toEqual([]);
    }
    // Read to the end first, then written: fine.
    const after = loop('  const ids = [];\n  for await (const rows of sql`SELECT id FROM looped`.cursor(10)) ids.push(...rows.map((r) => r.id));\n  await sql`UPDATE looped SET done = true WHERE id IN ${sql(ids)}`;');
    const ok = await runCli(['--migrations', after, 'up'], { env: { DATABASE_URL: db.url }, timeoutMs: 30_000 });
    expect(ok.code, ok.stderr).toBe(0);
    expect((await db.sql`SELECT count(*)::int AS n FROM looped WHERE done`)[0]!.n).toBe(30);
  }));

  it('sql.unsafe, a helper module in between, down(), and an error the module throws itself', () => withTestDatabase(async (db) => {
    const dir = writeMigrations({
      'helpers.mjs': 'export async function insertInto(sql, table) {\n  await sql.unsafe(`INSERT INTO ${table} VALUES (1)`);\n}\n',
      '001_unsafe.js': [
        "import { insertInto } from './helpers.mjs';",
        'export async function up({ sql }) {',
        "  await sql.unsafe('CREATE TABLE u (id int)');",
        "  await insertInto(sql, 'u');",
        '}',
        'export async function down({ sql }) {',
        "  await sql.unsafe('DROP TABLE u');",
        '',
        "  await sql.unsafe('DROP TABLE no_such_u');",
        '}',
        '',
      ].join('\n'),
      '002_helper.js': [
        "import { insertInto } from './helpers.mjs';",
        'export async function up({ sql }) {',
        '',
        "  await insertInto(sql, 'nope_helper');",
        '}',
        '',
      ].join('\n'),
    });
    const cli = cliFor(db, dir);
    const helper = await cli('up');
    expect(helper.code).toBe(1);
    // The line in the migration that called the helper, not the helper's own.
    expect(helper.stderr).toContain('error: 002_helper.js:4: relation "nope_helper" does not exist (SQLSTATE 42P01)');
    const down = await cli('down', '--yes');
    expect(down.code).toBe(1);
    expect(down.stderr).toContain('error: 001_unsafe.js:9: table "no_such_u" does not exist (SQLSTATE 42P01)');
    expect((await db.sql`SELECT count(*)::int AS n FROM u`)[0]!.n).toBe(1); // rolled back with its transaction

    const thrower = writeMigrations({ '001_throws.js': 'export async function up({ sql }) {\n  await sql`SELECT 1`;\n  throw new Error(\'backfill found 3 orphans\');\n}\n' });
    const thrown = await runCli(['--migrations', thrower, '--history-table', 'thrower_history', 'up'], { env: { DATABASE_URL: db.url } });
    expect(thrown.code).toBe(1);
    expect(thrown.stderr).toContain('error: 001_throws.js:3: up() failed: backfill found 3 orphans');
  }));
});

describe('destroys() and down()', () => {
  it('a destroys() that throws is named as such (exit 1), before anything runs', () => withTestDatabase(async (db) => {
    const dir = writeMigrations({
      '001_ok': { up: 'CREATE TABLE ok (id int);\n' },
      '002_y.ts': [
        'export async function up() {}',
        'export async function down() {}',
        'export async function destroys(): Promise<string[]> {',
        '  // nothing yet',
        "  throw new Error('boom in destroys');",
        '}',
        '',
      ].join('\n'),
    });
    const result = await cliFor(db, dir)('up');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('error: 002_y.ts:5: destroys() failed: boom in destroys');
    expect(result.stderr).not.toContain('up() failed');
    expect(await historyRows(db.sql)).toEqual([]);
  }));

  it('a module without down(ctx) is irreversible: exit 1 before anything runs, as a directory without down.sql', () => withTestDatabase(async (db) => {
    const dir = writeMigrations({
      '001_a': { up: 'CREATE TABLE a (id int);\n', down: 'DROP TABLE a;\n' },
      '002_m.ts': 'export async function up({ sql }: { sql: any }) { await sql`CREATE TABLE m (id int)`; }\n',
      '003_c': { up: 'CREATE TABLE c (id int);\n', down: 'DROP TABLE c;\n' },
    });
    const cli = cliFor(db, dir);
    expect((await cli('up')).code).toBe(0);
    const before = await catalogSnapshot(db.sql);
    for (const args of [['a', '--rollback', '--yes'], ['down', 'm', '--yes'], ['down', 'm', '--dry-run']]) {
      const result = await cli(...args);
      expect(result.code, args.join(' ')).toBe(1);
      expect(result.stderr).toContain('error: cannot roll back: 002_m exports no down(ctx) (irreversible)');
      expect(result.stderr).toContain('hint: nothing was changed');
    }
    const json = await cli('down', 'm', '--yes', '--json');
    expect(json.json<{ error: { code: number } }>().error.code).toBe(1);
    // 003_c's down did not run first: nothing was touched.
    expect(await catalogSnapshot(db.sql)).toBe(before);
    expect((await historyRows(db.sql)).map((r) => r.name)).toEqual(['001_a', '002_m', '003_c']);
    // Reverting only what lies after it is fine.
    expect((await cli('down', '--yes')).code).toBe(0);
  }));
});
