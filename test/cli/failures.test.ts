/**
 * Every way a run can go wrong (SPEC §5): the exit code, the message, and a database with nothing
 * half-written.
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

describe('a migration that fails halfway', () => {
  it('rolls that migration back completely, keeps earlier ones, and names file and line', () => withTestDatabase(async (db) => {
    const dir = writeMigrations({
      '001_ok': { up: 'CREATE TABLE kept (id int);\n', down: 'DROP TABLE kept;' },
      '002_broken': { up: 'CREATE TABLE half_a (id int);\nINSERT INTO half_a VALUES (1);\n\nCREATE TABLE half_b (id int);\nINSERT INTO half_b\n  SELECT id FROM no_such_table;\n', down: 'SELECT 1;' },
      '003_never': { up: 'CREATE TABLE never (id int);\n' },
    });
    const cli = cliFor(db, dir);
    const result = await cli('up');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`error: ${path.join('002_broken', 'up.sql')}:6: relation "no_such_table" does not exist (SQLSTATE 42P01)`);
    expect(result.stdout).toContain('001_ok applied');
    const tables = await db.sql`SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`;
    expect(tables.map((t) => t.tablename)).toEqual(['kept', 'schema_migrations']);
    expect((await historyRows(db.sql)).map((r) => r.name)).toEqual(['001_ok']);
    const json = await cli('up', '--json');
    expect(json.code).toBe(1);
    const doc = json.json<{ error: { code: number; message: string }; applied: string[] }>();
    expect(doc.error.code).toBe(1);
    expect(doc.error.message).toContain('002_broken');
    expect(doc.applied).toEqual([]);
  }));

  it('an error without a position points at the statement\'s first line', () => withTestDatabase(async (db) => {
    const dir = writeMigrations({ '001_dup': { up: 'CREATE TABLE u (id int PRIMARY KEY);\n\nINSERT INTO u VALUES (1),\n  (1);\n' } });
    const result = await cliFor(db, dir)('up');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${path.join('001_dup', 'up.sql')}:3: duplicate key value violates unique constraint "u_pkey" (SQLSTATE 23505)`);
    expect(result.stderr).toContain('hint: Key (id)=(1) already exists.');
  }));
});

describe('drift', () => {
  it('an edited applied migration shows as changed and blocks up (exit 5) unless --allow-changed', () => withTestDatabase(async (db) => {
    const dir = writeMigrations({ '001_a': { up: 'CREATE TABLE a (id int);\n' }, '002_b': { up: 'CREATE TABLE b (id int);\n' } });
    const cli = cliFor(db, dir);
    expect((await cli('a')).code).toBe(0);
    fs.writeFileSync(path.join(dir, '001_a', 'up.sql'), 'CREATE TABLE a (id bigint);\n');
    const status = await cli('status', '--json');
    expect(status.json<{ migrations: { name: string; state: string }[] }>().migrations.map((m) => m.state)).toEqual(['changed', 'pending']);
    const refused = await cli('up');
    expect(refused.code).toBe(5);
    expect(refused.stderr).toContain('applied migrations differ from the files on disk: 001_a (changed)');
    expect((await historyRows(db.sql)).map((r) => r.name)).toEqual(['001_a']);
    const verify = await cli('verify', '--json');
    expect(verify.code).toBe(5);
    expect(verify.json<{ checks: { check: string; ok: boolean }[] }>().checks[0]).toMatchObject({ check: 'checksum', ok: false });
    const allowed = await cli('up', '--allow-changed');
    expect(allowed.code).toBe(0);
    expect(allowed.stderr).toContain('001_a (changed)');
    expect((await historyRows(db.sql)).map((r) => r.name)).toEqual(['001_a', '002_b']);
  }));

  it('a CRLF-only edit is not a change (checksum normalises line endings)', () => withTestDatabase(async (db) => {
    const dir = writeMigrations({ '001_a': { up: 'CREATE TABLE a (id int);\nSELECT 1;\n' } });
    const cli = cliFor(db, dir);
    expect((await cli('up')).code).toBe(0);
    fs.writeFileSync(path.join(dir, '001_a', 'up.sql'), 'CREATE TABLE a (id int);\r\nSELECT 1;\r\n');
    expect((await cli('up')).code).toBe(0);
  }));

  it('an applied migration whose files are gone shows as missing and blocks up', () => withTestDatabase(async (db) => {
    const dir = writeMigrations({ '001_a': { up: 'CREATE TABLE a (id int);\n' }, '002_b': { up: 'SELECT 1;\n' } });
    const cli = cliFor(db, dir);
    expect((await cli('up')).code).toBe(0);
    fs.rmSync(path.join(dir, '002_b'), { recursive: true });
    expect((await cli('status', '--json')).json<{ migrations: { state: string }[] }>().migrations.map((m) => m.state)).toEqual(['applied', 'missing']);
    expect((await cli('up')).code).toBe(5);
  }));
});

describe('no-transaction migrations', () => {
  it('a failure is recorded as failed, blocks up with exit 5 until repair lists the leftovers and resolves it', () => withTestDatabase(async (db) => {
    const dir = writeMigrations({
      '001_table': { up: "CREATE TABLE t (v int);\nINSERT INTO t VALUES (1), (1), (2);\n" },
      '002_index': { up: '-- strata: no-transaction\nCREATE TABLE t_log (id int);\nCREATE UNIQUE INDEX CONCURRENTLY t_v ON t (v);\n', down: '-- strata: no-transaction\nDROP INDEX CONCURRENTLY t_v;\nDROP TABLE t_log;\n' },
    });
    const cli = cliFor(db, dir);
    const failed = await cli('up');
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain(`${path.join('002_index', 'up.sql')}:3: could not create unique index "t_v"`);
    expect(failed.stderr).toContain('migrate repair 002_index');
    expect((await historyRows(db.sql)).map((r) => [r.name, r.state])).toEqual([['001_table', 'applied'], ['002_index', 'failed']]);
    // The first statement ran in autocommit and stays: that is what "dirty" means.
    expect((await db.sql`SELECT to_regclass('t_log') AS t`)[0]!.t).toBe('t_log');
    const status = await cli('status', '--json');
    expect(status.json<{ migrations: { state: string }[] }>().migrations.map((m) => m.state)).toEqual(['applied', 'failed']);
    const blocked = await cli('up', '--allow-changed');
    expect(blocked.code).toBe(5);
    expect(blocked.stderr).toContain('a previous run failed part-way: 002_index (failed)');

    // A human fixes the data and the leftovers; repair shows what PostgreSQL reports first.
    const repair = await cli('repair', '002_index');
    expect(repair.code).toBe(0);
    expect(repair.stdout).toContain('INVALID index "public".t_v on "public".t'.replace('"public"', 'public').replace('"public"', 'public'));
    expect(repair.stdout).toContain('002_index: failed record removed; it is pending again');
    await db.sql`DROP INDEX t_v`;
    await db.sql`DROP TABLE t_log`;
    await db.sql`DELETE FROM t WHERE v = 1 AND ctid <> (SELECT min(ctid) FROM t WHERE v = 1)`;
    const again = await cli('up');
    expect(again.code).toBe(0);
    expect((await historyRows(db.sql)).map((r) => [r.name, r.state])).toEqual([['001_table', 'applied'], ['002_index', 'applied']]);
    expect((await cli('repair', '002_index')).code).toBe(2);
    // and it rolls back statement by statement too
    expect((await cli('down')).code).toBe(0);
    expect((await db.sql`SELECT to_regclass('t_v') AS t`)[0]!.t).toBeNull();
  }));

  it('a statement that cannot run in a transaction, in a transactional file, is exit 2 before anything runs', () => withTestDatabase(async (db) => {
    const dir = writeMigrations({
      '001_a': { up: 'CREATE TABLE a (id int);\n' },
      '002_b': { up: 'CREATE TABLE b (id int);\nCREATE INDEX CONCURRENTLY b_id ON b (id);\n' },
    });
    const before = await catalogSnapshot(db.sql);
    const result = await cliFor(db, dir)('up');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${path.join('002_b', 'up.sql')}:2: this statement cannot run inside a transaction`);
    expect(result.stderr).toContain('-- strata: no-transaction');
    // SPEC §5: a refusal means nothing of the run was applied, not even 001.
    expect((await catalogSnapshot(db.sql)).replace(/schema_migrations[^\]]*/g, '')).toBe(before.replace(/schema_migrations[^\]]*/g, ''));
    expect(await historyRows(db.sql)).toEqual([]);
  }));
});

describe('no-transaction files that manage their own transaction blocks', () => {
  const ownBlock = '-- strata: no-transaction\nCREATE TABLE t_a (x int);\nBEGIN;\nCREATE TABLE t_b (x int);\nINSERT INTO t_b VALUES (1);\nCOMMIT;\n';

  it('a dry run skips their BEGIN and COMMIT: nothing persists (their COMMIT would end the rehearsal\'s transaction)', () => withTestDatabase(async (db) => {
    const dir = writeMigrations({ '001_own': { up: ownBlock, down: 'DROP TABLE t_b;\nDROP TABLE t_a;\n' } });
    const before = await catalogSnapshot(db.sql);
    const result = await cliFor(db, dir)('up', '--dry-run', '--json');
    expect(result.code, result.stderr).toBe(0);
    const statements = result.json<{ steps: { statements: { sql: string; rowCount: number | null; skipped?: string }[] }[] }>().steps[0]!.statements;
    expect(statements.filter((s) => s.skipped).map((s) => s.sql)).toEqual(['BEGIN', 'COMMIT']);
    expect(statements.find((s) => s.sql.startsWith('INSERT'))?.rowCount).toBe(1);
    expect(result.stderr).not.toMatch(/WARNING|SAVEPOINT/);
    expect(await catalogSnapshot(db.sql)).toBe(before);
    expect((await db.sql`SELECT to_regclass('t_a') AS a, to_regclass('t_b') AS b`)[0]).toEqual({ a: null, b: null });
  }));

  it('a destructive statement inside their block is backed up inside it: the block stays one transaction', () => withTestDatabase(async (db) => {
    await db.sql`CREATE TABLE victim (id int)`;
    await db.sql`INSERT INTO victim SELECT generate_series(1, 3)`;
    const dir = writeMigrations({
      '001_swap': { up: '-- strata: no-transaction\nBEGIN;\nCREATE TABLE victim_new (id int);\nDROP TABLE victim;\nINSERT INTO victim_new VALUES (1), (2);\nSELECT 1 / 0;\nCOMMIT;\n' },
    });
    const cwd = tempDir('strata-own-block-');
    const result = await runCli(['--migrations', dir, 'up', '--yes'], { cwd, env: { DATABASE_URL: db.url } });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${path.join('001_swap', 'up.sql')}:6: division by zero`);
    expect(result.stderr).not.toContain('there is already a transaction in progress');
    // Had the backup committed the block half-way, victim would be gone and victim_new there.
    expect((await db.sql`SELECT count(*)::int AS n FROM victim`)[0]!.n).toBe(3);
    expect((await db.sql`SELECT to_regclass('victim_new') AS t`)[0]!.t).toBeNull();
    expect((await historyRows(db.sql)).map((r) => [r.name, r.state])).toEqual([['001_swap', 'failed']]);
    expect(fs.readdirSync(path.join(cwd, 'backups'))).toHaveLength(1); // the backup was taken before the drop
  }));

  it('one that ends inside its own block is refused before anything runs (exit 2)', () => withTestDatabase(async (db) => {
    const dir = writeMigrations({ '001_open': { up: '-- strata: no-transaction\nCREATE TABLE t_a (x int);\nBEGIN;\nCREATE TABLE t_b (x int);\n' } });
    const result = await cliFor(db, dir)('up');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${path.join('001_open', 'up.sql')}:3: this transaction block is never closed`);
    expect((await db.sql`SELECT to_regclass('t_a') AS t`)[0]!.t).toBeNull();
  }));

  it('runs them for real: the block commits as a whole', () => withTestDatabase(async (db) => {
    const dir = writeMigrations({ '001_own': { up: ownBlock } });
    const result = await cliFor(db, dir)('up');
    expect(result.code, result.stderr).toBe(0);
    expect((await db.sql`SELECT count(*)::int AS n FROM t_b`)[0]!.n).toBe(1);
    expect((await historyRows(db.sql)).map((r) => [r.name, r.state])).toEqual([['001_own', 'applied']]);
  }));
});

describe('refusals before anything runs', () => {
  it('rolling back an irreversible migration is exit 1 and touches nothing', () => withTestDatabase(async (db) => {
    const dir = writeMigrations({ '001_a': { up: 'CREATE TABLE a (id int);\n', down: 'DROP TABLE a;\n' }, '002_b': { up: 'CREATE TABLE b (id int);\n' } });
    const cli = cliFor(db, dir);
    expect((await cli('up')).code).toBe(0);
    const result = await cli('a', '--rollback', '--yes');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('002_b has no down.sql (irreversible)');
    expect((await historyRows(db.sql)).map((r) => r.name)).toEqual(['001_a', '002_b']);
  }));

  it('invalid migrations directories are exit 2 naming the files', () => withTestDatabase(async (db) => {
    const dup = writeMigrations({ '001_a': { up: 'SELECT 1;' }, '001_b': { up: 'SELECT 1;' } });
    const result = await cliFor(db, dup)('status');
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/two migrations have the number 001: 001_a and 001_b/);
    const syntax = writeMigrations({ '001_a': { up: 'CREATE TABLE a (id int);\nCREATE TABEL b (id int);\n' } });
    const bad = await cliFor(db, syntax)('up');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(`${path.join('001_a', 'up.sql')}:2: syntax error at or near "TABEL"`);
    const none = await runCli(['status'], { env: { DATABASE_URL: db.url }, cwd: path.dirname(dup) });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('no migrations directory: pass --migrations DIR, or --bundled for the coaching schema');
  }));
});

describe('usage errors come first, once, in strata\'s words', () => {
  const dir = () => writeMigrations({ '001_add_users': { up: 'CREATE TABLE users (id int);\n' }, '002_add_goals': { up: 'CREATE TABLE goals (id int);\n' } });

  it('an unknown phase is exit 2 even with no database or an unreachable one, with the closest phase', async () => {
    const migrations = dir();
    for (const env of [{}, { DATABASE_URL: 'postgres://u:p@127.0.0.1:1/nowhere' }]) {
      const result = await runCli(['--migrations', migrations, 'add_goal'], { env });
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toContain('error: unknown phase "add_goal"');
      expect(result.stderr).toContain('hint: did you mean "add_goals"? known phases: add_users, add_goals');
    }
    // A known phase without a database is still the connection's problem (exit 3).
    expect((await runCli(['--migrations', migrations, 'add_goals'], { env: { DATABASE_URL: 'postgres://u:p@127.0.0.1:1/nowhere' } })).code).toBe(3);
  });

  it('a long list of phases is cut in the hint', () => withTestDatabase(async (db) => {
    const many = writeMigrations(Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`${String(i + 1).padStart(3, '0')}_p${i + 1}`, { up: 'SELECT 1;\n' }])));
    const result = await cliFor(db, many)('zzz');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('p12, … (28 more: migrate status lists them)');
  }));

  it('an unknown option or an extra argument is said once, with the subcommand named', async () => {
    const migrations = dir();
    const unknown = await runCli(['--migrations', migrations, 'status', '--frob']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.match(/unknown option '--frob'/g)).toHaveLength(1);
    const extra = await runCli(['--migrations', migrations, 'status', 'extra']);
    expect(extra.code).toBe(2);
    expect(extra.stderr).toContain("error: too many arguments for 'status'");
    expect(extra.stderr).not.toContain('unknown command');
    const word = await runCli(['--migrations', migrations, 'frobnicate', 'x']);
    expect(word.code).toBe(2);
    expect(word.stderr).toContain('error: unknown command "frobnicate"');
  });
});
