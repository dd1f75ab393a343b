/**
 * SPEC §6 through the CLI: `backup`, `restore`, and the automatic backup before every destructive
 * step — the promise that nothing is lost.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogSnapshot, historyRows } from '../support/catalog.js';
import { runCli, type CliResult } from '../support/cli.js';
import { createDatabase, dropDatabase, withTestDatabase, type TestDatabase } from '../support/database.js';
import { tempDir, writeMigrations } from '../support/migrations.js';

let db: TestDatabase;
beforeAll(async () => { db = await createDatabase(); });
afterAll(async () => { await dropDatabase(db); });

const rowsOf = async (table: string) => (await db.sql.unsafe(`SELECT * FROM ${table} ORDER BY 1`)).map((r) => ({ ...r }));

/** The manifest of a backup directory (`dir` relative to `cwd`). */
function manifestOf(cwd: string, dir: string): { reason: string; tables: { table: string; rows: number }[] } {
  return JSON.parse(fs.readFileSync(path.join(cwd, dir, 'manifest.json'), 'utf8')) as { reason: string; tables: { table: string; rows: number }[] };
}

/** Each table of a backup with its row count. */
const tablesIn = (cwd: string, dir: string) => manifestOf(cwd, dir).tables.map((t) => [t.table, t.rows]);

/** The run's JSON names exactly one backup, taken for `reason`, holding `tables` ([name, rows]). */
function expectOneBackup(result: CliResult, cwd: string, reason: string, tables: [string, number][]): void {
  const backups = result.json<{ backups: string[] }>().backups;
  expect(backups).toHaveLength(1);
  const manifest = manifestOf(cwd, backups[0]!);
  expect(manifest.reason).toBe(reason);
  expect(manifest.tables.map((t) => [t.table, t.rows])).toEqual(tables);
}

describe('migrate backup / restore', () => {
  const cwd = tempDir('strata-backups-');
  const cli = (...args: string[]) => runCli(args, { cwd, env: { DATABASE_URL: db.url } });

  beforeAll(async () => {
    await db.sql.unsafe(`
      CREATE TABLE "weird""name" (id serial PRIMARY KEY, note text);
      INSERT INTO "weird""name" (note) VALUES ('a,b'), (NULL), (''), (E'line\\nbreak');
      CREATE TABLE "Mixed Case" (id int PRIMARY KEY REFERENCES "weird""name" (id), v jsonb);
      INSERT INTO "Mixed Case" VALUES (1, '{"k": "x,\\"y\\""}');`);
  });

  it('backs up several tables in one verified directory with SPEC §6 modes and JSON', async () => {
    const result = await cli('backup', 'weird"name', 'Mixed Case', '--json');
    expect(result.code).toBe(0);
    const doc = result.json<{ dir: string; tables: { table: string; rows: number; bytes: number; sha256: string }[] }>();
    expect(doc.dir).toMatch(/^backups\/\d{8}T\d{6}Z_manual$/);
    expect(doc.tables.map((t) => [t.table, t.rows])).toEqual([['public."weird""name"', 4], ['public."Mixed Case"', 1]]);
    const dir = path.join(cwd, doc.dir);
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    for (const file of fs.readdirSync(dir)) expect(fs.statSync(path.join(dir, file)).mode & 0o777).toBe(0o600);
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { database: string; reason: string; tables: { columns: { name: string; type: string }[] }[] };
    expect(manifest.database).toMatch(/:\*\*\*@/);
    expect(manifest.tables[1]!.columns).toEqual([{ name: 'id', type: 'integer' }, { name: 'v', type: 'jsonb' }]);
  });

  it('treats input that looks like SQL as an unknown table name, never as SQL', async () => {
    const result = await cli('backup', 'users; drop table x');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('users; drop table x');
  });

  it('restores into emptied tables, refuses conflicts (exit 1, nothing loaded), and --truncate needs --yes then backs up first', async () => {
    const made = (await cli('backup', 'weird"name', 'Mixed Case', '--json')).json<{ dir: string }>().dir;
    const original = { weird: await rowsOf('"weird""name"'), mixed: await rowsOf('"Mixed Case"') };

    const conflict = await cli('restore', made);
    expect(conflict.code).toBe(1);
    expect(conflict.stderr).toMatch(/duplicate key|already exist/);

    const refused = await cli('restore', made, '--truncate');
    expect(refused.code).toBe(6);
    expect(await rowsOf('"weird""name"')).toEqual(original.weird);

    await db.sql.unsafe('DELETE FROM "Mixed Case"; DELETE FROM "weird""name";');
    const restored = await cli('restore', made, '--json');
    expect(restored.code).toBe(0);
    expect(await rowsOf('"weird""name"')).toEqual(original.weird);
    expect(await rowsOf('"Mixed Case"')).toEqual(original.mixed);
    // sequences are moved past the restored values
    await db.sql.unsafe(`INSERT INTO "weird""name" (note) VALUES ('after restore')`);

    const truncated = await cli('restore', made, '--truncate', '--yes', '--json');
    expect(truncated.code).toBe(0);
    const doc = truncated.json<{ backups: string[]; truncated: string[] }>();
    expect(doc.backups).toHaveLength(1);
    const safety = manifestOf(cwd, doc.backups[0]!);
    expect(safety.reason).toBe('restore_truncate');
    expect(safety.tables.find((t) => t.table === 'public."weird""name"')?.rows).toBe(5);
    expect(await rowsOf('"weird""name"')).toEqual(original.weird);
  });

  it('a tampered backup is exit 5 and loads nothing', async () => {
    const made = (await cli('backup', 'weird"name', '--json')).json<{ dir: string }>().dir;
    const file = path.join(cwd, made, 'public.weird%22name.csv');
    const bytes = fs.readFileSync(file);
    bytes[bytes.length - 3] = bytes[bytes.length - 3]! ^ 0x01;
    fs.writeFileSync(file, bytes);
    await db.sql.unsafe('DELETE FROM "Mixed Case"; DELETE FROM "weird""name";');
    const result = await cli('restore', made);
    expect(result.code).toBe(5);
    expect((await rowsOf('"weird""name"'))).toEqual([]);
  });
});

describe('automatic backups before destructive steps', () => {
  const cwd = tempDir('strata-auto-');
  const legacy = writeMigrations({
    '001_legacy': {
      up: `CREATE TABLE goals (id int PRIMARY KEY, title text);
CREATE TABLE check_ins (id int PRIMARY KEY, goal_id int REFERENCES goals (id));
CREATE TABLE audit (id int);
INSERT INTO goals SELECT g, 'goal ' || g FROM generate_series(1, 7) g;
INSERT INTO check_ins SELECT g, 1 + g % 7 FROM generate_series(1, 30) g;
`,
      down: 'DROP TABLE check_ins, goals, audit;\n',
    },
    '002_simplify': {
      up: '-- the AI-first simplification: these move to the memory service\nDROP TABLE check_ins;\nDROP TABLE goals;\nDROP TABLE audit;\n',
      down: 'CREATE TABLE goals (id int PRIMARY KEY, title text);\nCREATE TABLE check_ins (id int PRIMARY KEY, goal_id int REFERENCES goals (id));\nCREATE TABLE audit (id int);\n',
    },
  });
  const cli = (...args: string[]) => runCli(['--migrations', legacy, ...args], { cwd, env: { DATABASE_URL: db.url } });

  it('refuses a destructive step without --yes when not on a terminal (exit 6), touching nothing', async () => {
    expect((await cli('legacy')).code).toBe(0);
    const before = await catalogSnapshot(db.sql);
    const result = await cli('up');
    expect(result.code).toBe(6);
    expect(result.stderr).toContain('refusing to run a destructive step without confirmation');
    expect(result.stderr).toMatch(/public\.check_ins.*public\.goals/);
    expect(await catalogSnapshot(db.sql)).toBe(before);
    expect(fs.existsSync(path.join(cwd, 'backups'))).toBe(false);
    expect((await cli('up', '--no-backup')).code).toBe(6);
  });

  it('a dry run reports what would be backed up, with row counts, and writes nothing', async () => {
    const result = await cli('up', '--dry-run', '--json');
    expect(result.code).toBe(0);
    const notices = result.json<{ steps: { notices: string[] }[] }>().steps[0]!.notices;
    expect(notices).toEqual([
      'would back up public.check_ins (30 rows) before 002_simplify up destroys it',
      'would back up public.goals (7 rows) before 002_simplify up destroys it',
      'public.audit is empty: nothing to back up before 002_simplify up destroys it',
    ]);
    expect(fs.existsSync(path.join(cwd, 'backups'))).toBe(false);
  });

  it('with --yes, backs up exactly the tables holding rows, in one directory, before dropping them', async () => {
    const result = await cli('up', '--yes', '--json');
    expect(result.code).toBe(0);
    const doc = result.json<{ backups: string[]; applied: string[] }>();
    expect(doc.applied).toEqual(['002_simplify']);
    expect(doc.backups).toHaveLength(1);
    const manifest = manifestOf(cwd, doc.backups[0]!);
    expect(manifest.reason).toBe('002_simplify_up');
    expect(manifest.tables.map((t) => [t.table, t.rows])).toEqual([['public.check_ins', 30], ['public.goals', 7]]);
  });

  it('after rolling back (down recreates the tables), restore brings every row back', async () => {
    const backups = fs.readdirSync(path.join(cwd, 'backups'));
    expect(backups).toHaveLength(1);
    expect((await cli('simplify', '--rollback', '--yes')).code).toBe(0);
    expect((await historyRows(db.sql)).map((r) => r.name)).toEqual(['001_legacy']);
    const restored = await cli('restore', path.join('backups', backups[0]!), '--json');
    expect(restored.code).toBe(0);
    expect((await db.sql`SELECT count(*)::int AS n FROM goals`)[0]!.n).toBe(7);
    expect((await db.sql`SELECT count(*)::int AS n FROM check_ins`)[0]!.n).toBe(30);
    expect((await db.sql`SELECT title FROM goals WHERE id = 3`)[0]!.title).toBe('goal 3');
  });

  it('a rollback that drops tables with data backs them up too (the common case)', async () => {
    const result = await cli('legacy', '--rollback', '--yes', '--json');
    expect(result.code).toBe(0);
    const doc = result.json<{ reverted: string[]; backups: string[] }>();
    expect(doc.reverted).toEqual(['001_legacy']);
    const manifest = manifestOf(cwd, doc.backups[0]!);
    expect(manifest.reason).toBe('001_legacy_down');
    expect(manifest.tables.map((t) => [t.table, t.rows]).sort()).toEqual([['public.check_ins', 30], ['public.goals', 7]]);
  });
});

describe('automatic backups reach what PostgreSQL will destroy, not only the tables named', () => {
  it('TRUNCATE … CASCADE, a DELETE through ON DELETE CASCADE, inheritance children and a lossy timestamptz change: confirmation, then every table backed up', () => withTestDatabase(async (db) => {
    const cwd = tempDir('strata-reach-');
    const dir = writeMigrations({
      '001_schema': {
        up: `CREATE SCHEMA reach;
CREATE TABLE reach.a (id int PRIMARY KEY); INSERT INTO reach.a SELECT generate_series(1, 10);
CREATE TABLE reach.b (id int PRIMARY KEY, a_id int REFERENCES reach.a ON DELETE CASCADE); INSERT INTO reach.b SELECT g, g FROM generate_series(1, 5) g;
CREATE TABLE reach.ip (id int); INSERT INTO reach.ip VALUES (1);
CREATE TABLE reach.ic (extra int) INHERITS (reach.ip); INSERT INTO reach.ic VALUES (2, 2), (3, 3);
CREATE TABLE reach.ts (v varchar); INSERT INTO reach.ts VALUES ('hello'), ('world');
`,
      },
      '002_truncate': { up: 'TRUNCATE reach.a CASCADE;\n' },
      '003_inherit': { up: 'DELETE FROM reach.ip;\n' },
      '004_retype': { up: 'ALTER TABLE reach.ts ALTER COLUMN v TYPE timestamptz USING now();\n' },
      '005_do_block': { up: 'INSERT INTO reach.a VALUES (99);\nDO $$ BEGIN DELETE FROM reach.a; END $$;\n' },
    });
    const cli = (...args: string[]) => runCli(['--migrations', dir, ...args], { cwd, env: { DATABASE_URL: db.url } });
    expect((await cli('schema')).code).toBe(0);
    const refused = await cli('up');
    expect(refused.code).toBe(6);
    expect(refused.stderr).toMatch(/reach\.b/);
    expect(refused.stderr).toMatch(/reach\.ic/);
    expect(refused.stderr).toMatch(/reach\.ts/);

    const result = await cli('up', '--yes', '--json');
    expect(result.code, result.stderr).toBe(0);
    const tablesOf = (backup: string) => tablesIn(cwd, backup);
    const backups = result.json<{ backups: string[] }>().backups;
    expect(backups.map(tablesOf)).toEqual([
      [['reach.a', 10], ['reach.b', 5]],
      [['reach.ip', 1], ['reach.ic', 2]],
      [['reach.ts', 2]],
      [['reach.a', 1]], // 002 emptied it; 005 refilled it, then deletes in a DO block
    ]);
  }));
});

describe('a DROP … CASCADE of an object that holds no rows itself', () => {
  it('a view whose row type a column uses, a text search configuration behind a generated column: refused without --yes, nothing changed; backed up with it', () => withTestDatabase(async (db) => {
    const cwd = tempDir('strata-cascade-');
    const dir = writeMigrations({
      '001_schema': {
        up: `CREATE VIEW spot AS SELECT 1 AS x, 2 AS y;
CREATE TABLE drawings (id int, p spot); INSERT INTO drawings VALUES (1, ROW(3, 4)), (2, ROW(5, 6));
CREATE TEXT SEARCH CONFIGURATION notes_cfg (COPY = pg_catalog.simple);
CREATE TABLE notes (id int, body text, tsv tsvector GENERATED ALWAYS AS (to_tsvector('notes_cfg', body)) STORED);
INSERT INTO notes (id, body) VALUES (1, 'call the coach');
`,
      },
      '002_drop': { up: 'DROP VIEW spot CASCADE;\nDROP TEXT SEARCH CONFIGURATION notes_cfg CASCADE;\n' },
    });
    const cli = (...args: string[]) => runCli(['--migrations', dir, ...args], { cwd, env: { DATABASE_URL: db.url } });
    const schema = await cli('001_schema');
    expect(schema.code, schema.stderr).toBe(0);
    const columns = async () => (await db.sql<{ c: string }[]>`
      SELECT attrelid::regclass || '.' || attname AS c FROM pg_attribute
      WHERE attrelid IN ('drawings'::regclass, 'notes'::regclass) AND attnum > 0 AND NOT attisdropped ORDER BY 1`).map((r) => r.c);
    const before = await columns();
    expect(before).toEqual(['drawings.id', 'drawings.p', 'notes.body', 'notes.id', 'notes.tsv']);

    const refused = await cli('up');
    expect(refused.code).toBe(6);
    expect(refused.stderr).toMatch(/public\.drawings, public\.notes/);
    expect(await columns()).toEqual(before);

    const result = await cli('up', '--yes', '--json');
    expect(result.code, result.stderr).toBe(0);
    expectOneBackup(result, cwd, '002_drop_up', [['public.drawings', 2], ['public.notes', 1]]);
    expect(await columns()).toEqual(['drawings.id', 'notes.body', 'notes.id']);
  }));
});

describe('a DROP COLUMN of a table whose row type another table stores', () => {
  it('backs up that table too: PostgreSQL removes the field from its values without a word', () => withTestDatabase(async (db) => {
    const cwd = tempDir('strata-rowtype-');
    const dir = writeMigrations({
      '001_schema': {
        up: `CREATE TABLE addresses (street text, city text); INSERT INTO addresses VALUES ('Main St', 'Springfield');
CREATE TABLE orders (id int, ship_to addresses); INSERT INTO orders VALUES (1, ROW('Elm St', 'Shelbyville')), (2, ROW('Oak St', 'Ogdenville'));
`,
      },
      '002_drop_city': { up: 'ALTER TABLE addresses DROP COLUMN city;\n' },
    });
    const cli = (...args: string[]) => runCli(['--migrations', dir, ...args], { cwd, env: { DATABASE_URL: db.url } });
    const schema = await cli('001_schema');
    expect(schema.code, schema.stderr).toBe(0);
    const dryRun = await cli('up', '--dry-run');
    expect(dryRun.code, dryRun.stderr).toBe(0);
    expect(dryRun.stdout + dryRun.stderr).toMatch(/would back up public\.orders \(2 rows\)/);
    const result = await cli('up', '--yes', '--json');
    expect(result.code, result.stderr).toBe(0);
    expectOneBackup(result, cwd, '002_drop_city_up', [['public.addresses', 1], ['public.orders', 2]]);
    expect((await db.sql<{ s: string }[]>`SELECT ship_to::text AS s FROM orders ORDER BY id`).map((r) => r.s)).toEqual(['("Elm St")', '("Oak St")']);
  }));
});

describe('a table the plan could not see holding rows', () => {
  it('renamed or found through the migration\'s own search_path: refused at its statement without --yes (exit 6, the step rolled back), backed up with it', () => withTestDatabase(async (db) => {
    const cwd = tempDir('strata-unforeseen-');
    const dir = writeMigrations({
      '001_tables': { up: 'CREATE SCHEMA hidden;\nCREATE TABLE hidden.x (id int);\nINSERT INTO hidden.x VALUES (1), (2);\nCREATE TABLE b (id int);\nINSERT INTO b SELECT generate_series(1, 5);\n' },
      '002_rename_drop': { up: 'ALTER TABLE b RENAME TO b_old;\nDROP TABLE b_old;\n' },
      '003_search_path': { up: 'SET LOCAL search_path = hidden, public;\nDELETE FROM x;\n' },
    });
    const cli = (...args: string[]) => runCli(['--migrations', dir, ...args], { cwd, env: { DATABASE_URL: db.url } });
    expect((await cli('tables')).code).toBe(0);

    const refused = await cli('rename_drop');
    expect(refused.code).toBe(6);
    expect(refused.stderr).toContain('refusing to run 002_rename_drop (up) without confirmation: it destroys data in public.b_old');
    expect((await db.sql`SELECT count(*)::int AS n FROM b`)[0]!.n).toBe(5);
    expect((await historyRows(db.sql)).map((r) => r.name)).toEqual(['001_tables']);
    expect(fs.existsSync(path.join(cwd, 'backups'))).toBe(false);

    const rename = await cli('rename_drop', '--yes', '--json');
    expect(rename.code, rename.stderr).toBe(0);
    expect(rename.json<{ backups: string[] }>().backups).toHaveLength(1);

    const searchPath = await cli('up');
    expect(searchPath.code).toBe(6);
    expect(searchPath.stderr).toContain('hidden.x');
    expect((await db.sql`SELECT count(*)::int AS n FROM hidden.x`)[0]!.n).toBe(2);
  }));

  it('an empty table of the same name on the search path the plan saw: the statement is judged again where its name leads (refused without --yes)', () => withTestDatabase(async (db) => {
    const cwd = tempDir('strata-shadowed-');
    const dir = writeMigrations({
      '001_tables': { up: 'CREATE TABLE t (id int);\nCREATE SCHEMA other;\nCREATE TABLE other.t (id int);\nINSERT INTO other.t VALUES (1), (2);\n' },
      '002_truncate': { up: 'SET LOCAL search_path = other, public;\nTRUNCATE t;\n' },
    });
    const cli = (...args: string[]) => runCli(['--migrations', dir, ...args], { cwd, env: { DATABASE_URL: db.url } });
    expect((await cli('tables')).code).toBe(0);
    const refused = await cli('up');
    expect(refused.code, refused.stderr).toBe(6);
    expect(refused.stderr).toContain('other.t');
    expect((await db.sql`SELECT count(*)::int AS n FROM other.t`)[0]!.n).toBe(2);
    const result = await cli('up', '--yes', '--json');
    expect(result.code, result.stderr).toBe(0);
    expectOneBackup(result, cwd, '002_truncate_up', [['other.t', 2]]);
  }));

  it('a column renamed earlier in the run, then dropped: the values of its row type stored elsewhere are seen in the plan', () => withTestDatabase(async (db) => {
    const cwd = tempDir('strata-renamed-column-');
    const dir = writeMigrations({
      '001_tables': { up: "CREATE TABLE address (street text, zip text);\nCREATE TABLE customer (id int, ship_to address);\nINSERT INTO customer VALUES (1, ROW('Main St', '12345'));\n" },
      '002_rename': { up: 'ALTER TABLE address RENAME COLUMN zip TO postcode;\n' },
      '003_drop': { up: 'ALTER TABLE address DROP COLUMN postcode;\n' },
    });
    const cli = (...args: string[]) => runCli(['--migrations', dir, ...args], { cwd, env: { DATABASE_URL: db.url } });
    expect((await cli('tables')).code).toBe(0);
    const refused = await cli('up');
    expect(refused.code, refused.stderr).toBe(6);
    expect(refused.stderr).toContain('public.customer');
    expect((await db.sql<{ s: string }[]>`SELECT ship_to::text AS s FROM customer`)[0]!.s).toBe('("Main St",12345)');
    expect((await historyRows(db.sql)).map((r) => r.name)).toEqual(['001_tables']);
  }));
});

describe('a module whose destroys() depends on what the run made before it', () => {
  it('011 with --assume-timezone backs up the tables earlier steps of the same run created and filled (and refuses them without --yes)', () => withTestDatabase(async (db) => {
    const cwd = tempDir('strata-destroys-now-');
    const dir = writeMigrations({
      '001_events': { up: "CREATE TABLE events (id int PRIMARY KEY, at timestamp);\nINSERT INTO events VALUES (1, '2024-01-15 12:00'), (2, '2024-07-15 12:00');\n" },
    });
    fs.copyFileSync(path.join(import.meta.dirname, '..', '..', 'migrations', '011_timezone_awareness.js'), path.join(dir, '002_timezone_awareness.js'));
    const cli = (...args: string[]) => runCli(['--migrations', dir, ...args], { cwd, env: { DATABASE_URL: db.url } });

    // Nothing existed when the run was planned: the step itself finds events holding rows.
    const refused = await cli('up', '--assume-timezone', 'America/New_York');
    expect(refused.code).toBe(6);
    expect(refused.stderr).toContain('refusing to run 002_timezone_awareness (up) without confirmation: it destroys data in public.events');
    expect((await db.sql`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'events'::regclass AND attname = 'at'`)[0]!.t)
      .toBe('timestamp without time zone');
    expect((await historyRows(db.sql)).map((r) => r.name)).toEqual(['001_events']);

    await db.sql`DROP TABLE events`;
    await db.sql`DELETE FROM schema_migrations`;
    const result = await cli('up', '--assume-timezone', 'America/New_York', '--yes', '--json');
    expect(result.code, result.stderr).toBe(0);
    expectOneBackup(result, cwd, '002_timezone_awareness_up', [['public.events', 2]]);
  }));
});

describe('a table whose rows row-level security hides from the migrating role', () => {
  it('counts as holding rows, and its backup fails loudly instead of saving the visible rows only: nothing deleted', () => withTestDatabase(async (db) => {
    const role = `strata_rls_${Math.random().toString(36).slice(2, 8)}`;
    await db.sql.unsafe(`CREATE ROLE ${role} LOGIN PASSWORD 'rls-pass'`);
    try {
      await db.sql.unsafe(`CREATE TABLE secret (id int, owner text);
        INSERT INTO secret VALUES (1, 'someone else'), (2, 'someone else');
        ALTER TABLE secret ENABLE ROW LEVEL SECURITY;
        CREATE POLICY mine ON secret USING (owner = current_user);
        GRANT ALL ON secret TO ${role}; GRANT ALL ON SCHEMA public TO ${role};`);
      const url = new URL(db.url);
      url.username = role;
      url.password = 'rls-pass';
      const cwd = tempDir('strata-rls-');
      const dir = writeMigrations({ '001_purge': { up: 'DELETE FROM secret;\n' } });
      const cli = (...args: string[]) => runCli(['--migrations', dir, '--history-table', 'rls_history', ...args], { cwd, env: { DATABASE_URL: url.toString() } });
      const refused = await cli('up');
      expect(refused.code).toBe(6); // an EXISTS as this role sees no row; the plan does not take that for empty
      const failed = await cli('up', '--yes');
      expect(failed.code).toBe(1);
      expect(failed.stderr).toMatch(/row-level security/);
      expect((await db.sql`SELECT count(*)::int AS n FROM secret`)[0]!.n).toBe(2);
    } finally {
      await db.sql.unsafe(`DROP TABLE IF EXISTS secret; DROP TABLE IF EXISTS rls_history; REVOKE ALL ON SCHEMA public FROM ${role}; DROP ROLE ${role}`);
    }
  }));
});

describe('a timestamptz change the plan judged lossless', () => {
  it('is judged again at its statement: a zone an earlier migration of the run SET makes it a rewrite, backed up (refused without --yes)', () => withTestDatabase(async (db) => {
    await db.sql`CREATE TABLE ev (id int PRIMARY KEY, at timestamp)`;
    await db.sql`INSERT INTO ev VALUES (1, '2024-01-15 00:00')`;
    const cwd = tempDir('strata-tz-session-');
    const dir = writeMigrations({
      '001_zone': { up: "SET TimeZone = 'America/New_York';\n" }, // session-level: it carries into 002, as in one psql session
      '002_convert': { up: 'ALTER TABLE ev ALTER COLUMN at TYPE timestamptz;\n' },
    });
    const cli = (...args: string[]) => runCli(['--migrations', dir, ...args], { cwd, env: { DATABASE_URL: db.url } });
    const refused = await cli('up');
    expect(refused.code).toBe(6);
    expect(refused.stderr).toContain('refusing to run 002_convert (up) without confirmation: it destroys data in public.ev');
    expect((await db.sql`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'ev'::regclass AND attname = 'at'`)[0]!.t)
      .toBe('timestamp without time zone');

    // In a new session 002 alone is lossless again (UTC): run both once more, in one session.
    await db.sql`DELETE FROM schema_migrations`;
    const result = await cli('up', '--yes', '--json');
    expect(result.code, result.stderr).toBe(0);
    expectOneBackup(result, cwd, '002_convert_up', [['public.ev', 1]]);
  }));
});

describe('no-transaction steps that destroy data', () => {
  it('a no-transaction module\'s destroys() is backed up before it runs, and a DO block that COMMITs is backed up before it, outside our transaction', () => withTestDatabase(async (db) => {
    await db.sql`CREATE TABLE big (id int)`;
    await db.sql`INSERT INTO big SELECT generate_series(1, 100)`;
    await db.sql`CREATE TABLE staging (id int)`;
    await db.sql`INSERT INTO staging SELECT generate_series(1, 7)`;
    const cwd = tempDir('strata-notx-destroys-');
    const dir = writeMigrations({
      '001_drop_big.js': "export const transaction = false;\nexport async function destroys() { return ['big']; }\nexport async function up({ sql }) { await sql`DROP TABLE big`; }\n",
      '002_batches': { up: '-- strata: no-transaction\nDO $$ BEGIN DELETE FROM staging; COMMIT; END $$;\n' },
    });
    const result = await runCli(['--migrations', dir, 'up', '--yes', '--json'], { cwd, env: { DATABASE_URL: db.url } });
    expect(result.code, result.stderr).toBe(0);
    const tablesOf = (backup: string) => tablesIn(cwd, backup);
    expect(result.json<{ backups: string[] }>().backups.map(tablesOf)).toEqual([[['public.big', 100]], [['public.staging', 7]]]);
    expect(result.stderr).toContain('002_batches: line 2 manages its own transactions');
    expect((await db.sql`SELECT count(*)::int AS n FROM staging`)[0]!.n).toBe(0);
  }));
});
