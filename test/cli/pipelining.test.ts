/**
 * Plain steps are sent ahead of the running one (src/core/execute.ts). Whatever the client does,
 * the server must never run a step whose predecessor did not commit; reports, notices and retries
 * must belong to the right step.
 */
import fs from 'node:fs';
import path from 'node:path';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { historyRows } from '../support/catalog.js';
import { runCli, startCli } from '../support/cli.js';
import { withTestDatabase, type TestDatabase } from '../support/database.js';
import { writeMigrations, type MigrationFiles } from '../support/migrations.js';

const cliFor = (db: TestDatabase, dir: string) => (...args: string[]) =>
  runCli(['--migrations', dir, ...args], { env: { DATABASE_URL: db.url } });

const tables = async (db: TestDatabase): Promise<string[]> =>
  (await db.sql`SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations' ORDER BY 1`).map((t) => t.tablename as string);

/** `count` migrations `NNN_tK` creating table tK, with `overrides` by index (1-based). */
function manyTables(count: number, overrides: Record<number, MigrationFiles> = {}): Record<string, MigrationFiles> {
  const spec: Record<string, MigrationFiles> = {};
  for (let k = 1; k <= count; k++) {
    spec[`${String(k).padStart(3, '0')}_t${k}`] = overrides[k] ?? { up: `CREATE TABLE t${k} (id int);\n`, down: `DROP FUNCTION IF EXISTS nothing_${k}();\n` };
  }
  return spec;
}

describe('steps sent ahead', () => {
  it('a failure in the middle of a long plain run stops it there: nothing after it ran', () => withTestDatabase(async (db) => {
    const dir = writeMigrations(manyTables(40, { 17: { up: 'CREATE TABLE t17 (id int);\nINSERT INTO t17 SELECT * FROM missing_17;\n' } }));
    const result = await cliFor(db, dir)('up', '--json');
    expect(result.code).toBe(1);
    const doc = result.json<{ error: { message: string }; applied: string[] }>();
    expect(doc.error.message).toContain(`${path.join('017_t17', 'up.sql')}:2: relation "missing_17" does not exist`);
    expect(doc.applied).toHaveLength(16);
    expect(await tables(db)).toEqual(Array.from({ length: 16 }, (_, i) => `t${i + 1}`).sort());
    expect((await historyRows(db.sql)).map((r) => r.name)).toEqual(doc.applied);
    // Once fixed, the run carries on from there.
    const fixed = writeMigrations(manyTables(40), dir);
    expect((await cliFor(db, fixed)('up')).code).toBe(0);
    expect(await tables(db)).toHaveLength(40);
  }));

  it('a step whose COMMIT fails (deferred constraint) stops the run: the step after it never ran', () => withTestDatabase(async (db) => {
    const dir = writeMigrations(manyTables(6, {
      3: {
        up: [
          'CREATE TABLE parent (id int PRIMARY KEY);',
          'CREATE TABLE child (parent_id int REFERENCES parent DEFERRABLE INITIALLY DEFERRED);',
          // Fine until COMMIT checks the deferred foreign key.
          'INSERT INTO child VALUES (42);',
        ].join('\n'),
      },
    }));
    const result = await cliFor(db, dir)('up', '--json');
    expect(result.code).toBe(1);
    const doc = result.json<{ error: { message: string }; applied: string[] }>();
    expect(doc.error.message).toContain('003_t3');
    expect(doc.error.message).toContain('violates foreign key constraint');
    expect(doc.applied).toEqual(['001_t1', '002_t2']);
    expect(await tables(db)).toEqual(['t1', 't2']);
    expect((await historyRows(db.sql)).map((r) => r.name)).toEqual(['001_t1', '002_t2']);
  }));

  it('notices and row counts belong to the step that produced them', () => withTestDatabase(async (db) => {
    const notice = (k: number) => ({ up: `CREATE TABLE t${k} (id int);\nINSERT INTO t${k} SELECT generate_series(1, ${k});\nDO $$ BEGIN RAISE NOTICE 'from step ${k}'; END $$;\n` });
    const dir = writeMigrations(manyTables(12, Object.fromEntries(Array.from({ length: 12 }, (_, i) => [i + 1, notice(i + 1)]))));
    const result = await cliFor(db, dir)('up', '--json');
    expect(result.code).toBe(0);
    const steps = result.json<{ steps: { name: string; notices: string[]; statements: { rowCount: number | null }[] }[] }>().steps;
    expect(steps).toHaveLength(12);
    for (const [i, step] of steps.entries()) {
      expect(step.notices).toEqual([`NOTICE: from step ${i + 1}`]);
      expect(step.statements[1]!.rowCount).toBe(i + 1);
    }
  }));

  it('a lock timeout in a step sent ahead is retried, and the run completes in order', () => withTestDatabase(async (db) => {
    await db.sql`CREATE TABLE busy (id int)`;
    const dir = writeMigrations(manyTables(8, { 5: { up: 'ALTER TABLE busy ADD COLUMN note text;\nCREATE TABLE t5 (id int);\n' } }));
    const holder = postgres(db.url, { max: 1 });
    const reserved = await holder.reserve();
    await reserved`BEGIN`;
    await reserved`LOCK TABLE busy IN ACCESS SHARE MODE`;
    const run = startCli(['--migrations', dir, 'up', '--json', '--ddl-lock-timeout', '200', '--retries', '3'], { env: { DATABASE_URL: db.url } });
    // Hold the lock across the first attempt (200 ms) and into the 1 s backoff, then let go.
    await new Promise((r) => setTimeout(r, 700));
    await reserved`COMMIT`;
    reserved.release();
    await holder.end();
    const result = await run.done;
    expect(result.code).toBe(0);
    const steps = result.json<{ steps: { name: string; retries: number }[] }>().steps;
    expect(steps.map((s) => s.name)).toEqual(Object.keys(manyTables(8)));
    expect(steps.map((s) => s.retries)).toEqual([0, 0, 0, 0, 1, 0, 0, 0]);
    expect(await tables(db)).toEqual(['busy', 't1', 't2', 't3', 't4', 't5', 't6', 't7', 't8']);
    expect((await db.sql`SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'busy' AND column_name = 'note'`)[0]!.n).toBe(1);
  }));

  it('--statement-timeout and --ddl-lock-timeout hold in steps sent ahead', () => withTestDatabase(async (db) => {
    const dir = writeMigrations(manyTables(6, {
      4: { up: "CREATE TABLE t4 AS SELECT current_setting('lock_timeout') AS lock_timeout, current_setting('statement_timeout') AS statement_timeout;\n" },
      5: { up: 'CREATE TABLE t5 (id int);\nSELECT pg_sleep(2);\n' },
    }));
    const result = await cliFor(db, dir)('up', '--json', '--statement-timeout', '700', '--ddl-lock-timeout', '1234');
    expect(result.code).toBe(1);
    const doc = result.json<{ error: { message: string }; applied: string[] }>();
    expect(doc.error.message).toContain(`${path.join('005_t5', 'up.sql')}:2: canceling statement due to statement timeout`);
    expect(doc.applied).toEqual(['001_t1', '002_t2', '003_t3', '004_t4']);
    expect(await tables(db)).toEqual(['t1', 't2', 't3', 't4']);
    // Step 4 ran sent ahead of step 1 (and chained): its SET LOCALs came with its chain check.
    expect(await db.sql`SELECT lock_timeout, statement_timeout FROM t4`).toEqual([{ lock_timeout: '1234ms', statement_timeout: '700ms' }]);
  }));

  it('a failing down in the middle of a plain rollback leaves everything before it applied', () => withTestDatabase(async (db) => {
    const fn = (k: number, down?: string) => ({ up: `CREATE FUNCTION f${k}() RETURNS int LANGUAGE sql AS 'SELECT ${k}';\n`, down: down ?? `DROP FUNCTION f${k}();\n` });
    const spec = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`${String(i + 1).padStart(3, '0')}_f${i + 1}`, fn(i + 1)]));
    const dir = writeMigrations(spec);
    const cli = cliFor(db, dir);
    expect((await cli('up')).code).toBe(0);
    writeMigrations({ '004_f4': fn(4, 'DROP FUNCTION f4();\nDROP FUNCTION no_such_function();\n') }, dir);
    const result = await cli('down', '001_f1', '--json');
    expect(result.code).toBe(1);
    const doc = result.json<{ error: { message: string }; reverted: string[] }>();
    expect(doc.error.message).toContain(`${path.join('004_f4', 'down.sql')}:2:`);
    expect(doc.reverted).toEqual(['010_f10', '009_f9', '008_f8', '007_f7', '006_f6', '005_f5']);
    expect((await historyRows(db.sql)).map((r) => r.name)).toEqual(['001_f1', '002_f2', '003_f3', '004_f4']);
    const functions = await db.sql`SELECT proname FROM pg_proc WHERE proname ~ '^f[0-9]+$' ORDER BY length(proname), proname`;
    expect(functions.map((f) => f.proname)).toEqual(['f1', 'f2', 'f3', 'f4']);
  }));
});

describe('destructive steps on tables that were empty when the run was assessed', () => {
  const backupsOf = (dir: string) => (fs.existsSync(path.join(dir, 'backups')) ? fs.readdirSync(path.join(dir, 'backups')) : []);

  it('are sent ahead like plain steps: a rollback of empty tables backs up nothing and says so', () => withTestDatabase(async (db) => {
    const dir = writeMigrations(Object.fromEntries(Array.from({ length: 12 }, (_, i) => [
      `${String(i + 1).padStart(3, '0')}_t${i + 1}`, { up: `CREATE TABLE t${i + 1} (id int);\n`, down: `DROP TABLE t${i + 1};\n` },
    ])));
    const cli = (...args: string[]) => runCli(['--migrations', dir, ...args], { env: { DATABASE_URL: db.url }, cwd: dir });
    expect((await cli('up')).code).toBe(0);
    const down = await cli('down', '001_t1', '--yes', '--json');
    expect(down.code, down.stderr).toBe(0);
    const doc = down.json<{ reverted: string[]; backups: string[] }>();
    expect(doc.reverted).toHaveLength(12);
    expect(doc.backups).toEqual([]);
    expect(backupsOf(dir)).toEqual([]);
    expect(await tables(db)).toEqual([]);
    expect(down.stderr).toContain('public.t7: empty, nothing to back up');
  }));

  it('rows that arrive before the drop (here: from an earlier step of the same run) are backed up first', () => withTestDatabase(async (db) => {
    const dir = writeMigrations({
      '001_a': { up: 'CREATE TABLE a (id int);\n', down: 'DROP TABLE a;\n' },
      '002_fill': { up: 'SELECT 1;\n', down: 'INSERT INTO a VALUES (1), (2);\n' },
      '003_b': { up: 'CREATE TABLE b (id int);\n', down: 'DROP TABLE b;\n' },
    });
    const cli = (...args: string[]) => runCli(['--migrations', dir, ...args], { env: { DATABASE_URL: db.url }, cwd: dir });
    expect((await cli('up')).code).toBe(0);
    const down = await cli('down', '001_a', '--yes', '--json');
    expect(down.code, down.stderr).toBe(0);
    const doc = down.json<{ reverted: string[]; backups: string[] }>();
    expect(doc.reverted).toEqual(['003_b', '002_fill', '001_a']);
    expect(doc.backups).toHaveLength(1);
    const csv = fs.readFileSync(path.join(dir, doc.backups[0]!, 'public.a.csv'), 'utf8');
    expect(csv.trim().split('\n')).toEqual(['id', '1', '2']);
    expect(await tables(db)).toEqual([]);
  }));

  it('a table dropped by an earlier step of the run is no error for a later DROP TABLE IF EXISTS', () => withTestDatabase(async (db) => {
    const dir = writeMigrations({
      '001_a': { up: 'CREATE TABLE a (id int);\n', down: 'DROP TABLE IF EXISTS a;\n' },
      '002_b': { up: 'CREATE TABLE b (id int);\n', down: 'DROP TABLE a;\nDROP TABLE b;\n' },
    });
    const cli = (...args: string[]) => runCli(['--migrations', dir, ...args], { env: { DATABASE_URL: db.url }, cwd: dir });
    expect((await cli('up')).code).toBe(0);
    const down = await cli('down', '001_a', '--yes', '--json');
    expect(down.code, down.stderr).toBe(0);
    expect(down.json<{ reverted: string[] }>().reverted).toEqual(['002_b', '001_a']);
    expect(await tables(db)).toEqual([]);
    expect(await historyRows(db.sql)).toEqual([]);
  }));
});
