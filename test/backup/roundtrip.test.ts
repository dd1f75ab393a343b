import fs from 'node:fs/promises';
import path from 'node:path';
import postgres from 'postgres';
import { beforeAll, describe, expect, it } from 'vitest';
import { createBackup, restoreBackup, verifyBackup } from '../../src/backup/index.js';
import { useDatabase } from '../support/database.js';
import { backupOptions, list, snapshot, tempDir } from './helpers.js';

const db = useDatabase();
const SCHEMA = 'my.schema';
const TABLE = 'weird"name with space';
const COLUMN = 'col "quoted", with\ncomma';

beforeAll(async () => {
  const sql = db.current.sql;
  await sql.unsafe(`
    CREATE SCHEMA "my.schema";
    CREATE TYPE mood AS ENUM ('happy', 'it''s "complicated"');
    CREATE TABLE "my.schema"."weird""name with space" (
      id serial PRIMARY KEY,
      t text, j jsonb, arr text[], b bytea, n numeric, iv interval, ts timestamptz,
      u uuid, flag boolean, m mood, "col ""quoted"", with
comma" text,
      doubled int GENERATED ALWAYS AS (id * 2) STORED
    );
    CREATE TABLE "Single" (v text);`);
  await sql.unsafe(`
    INSERT INTO "my.schema"."weird""name with space" (t, j, arr, b, n, iv, ts, u, flag, m, "col ""quoted"", with
comma") VALUES
      (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
      ('', '""', '{}', '\\x', 0, '0', 'epoch', '00000000-0000-0000-0000-000000000000', false, 'happy', ''),
      ('quote " and , comma', '{"a": {"b": [1, "x,\\"y\\"\\n", null, {"c": "d\\r\\n"}]}, "e,": "\\\\N"}',
       ARRAY['x', NULL, 'y,z', '"q"', '', 'NULL'], '\\x00ff000a0d22', 1234567890123456789012345678901234567890.0123456789,
       '1 year 2 mons 3 days 04:05:06.789', '2024-02-29 23:59:59.999999+05:30', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
       true, 'it''s "complicated"', E'multi\\nline'),
      (E'line1\\r\\nline2\\rline3\\n', '{"emoji 😀": "日本語", "csv": "a,b\\n\\"c\\""}', ARRAY[E'new\\nline', 'back\\\\slash'],
       '\\x5c4e', -0.000000000000000000000000000000000000001, '-1 days +02:00', 'infinity', NULL, NULL, NULL, '\\N'),
      ('\\N', '[]', ARRAY[NULL]::text[], '\\x00', 'NaN', '1 microsecond', '-infinity', NULL, true, NULL, '\\.'),
      ('Zoë 😀 日本語 ‮rtl', '"just a string"', ARRAY['{}', '{"a"}'], '\\x', 1e-20, '100 years', '1999-12-31 23:59:59+00', NULL, false, NULL, ' spaces ');
    INSERT INTO "Single" VALUES (NULL), (''), ('\\.'), ('\\N'), ('"'), (',');`);
});

describe('backup and restore round trip', () => {
  it('restores every awkward value exactly, names with quotes, dots and spaces included', async () => {
    const sql = db.current.sql;
    const root = await tempDir();
    const before = await snapshot(sql, SCHEMA, TABLE);
    const single = await snapshot(sql, 'public', 'Single');
    expect(before).toHaveLength(6);

    const { dir, manifest } = await createBackup(sql, [{ schema: SCHEMA, table: TABLE }, '"Single"'], backupOptions(root));

    expect(path.basename(dir)).toMatch(/^\d{8}T\d{6}Z_test$/);
    expect(manifest.tables.map((t) => [t.table, t.file, t.rows])).toEqual([
      ['"my.schema"."weird""name with space"', 'my%2Eschema.weird%22name%20with%20space.csv', 6],
      ['public."Single"', 'public.%53ingle.csv', 6],
    ]);
    const columns = manifest.tables[0]?.columns.map((c) => c.name);
    expect(columns).toContain(COLUMN);
    expect(columns).not.toContain('doubled'); // generated: recomputed on restore
    expect(manifest.tables[0]?.columns.find((c) => c.name === 'n')?.type).toBe('numeric');

    await sql.unsafe(`TRUNCATE "my.schema"."weird""name with space", "Single"`);
    const result = await restoreBackup(sql, dir);
    expect(result.tables.map((t) => t.rows)).toEqual([6, 6]);
    expect(await snapshot(sql, SCHEMA, TABLE)).toEqual(before);
    expect(await snapshot(sql, 'public', 'Single')).toEqual(single);
  });

  it('writes NULL as an unquoted empty field and the empty string as ""', async () => {
    const root = await tempDir();
    const { dir } = await createBackup(db.current.sql, ['"Single"'], backupOptions(root));
    const text = await fs.readFile(path.join(dir, 'public.%53ingle.csv'), 'utf8');
    expect(text.split('\n').slice(0, 3)).toEqual(['v', '', '""']);
    expect(text).toContain('"\\."\n'); // the end-of-data marker is quoted when alone on its line
  });

  it('gives the directory mode 0700 and every file 0600', async () => {
    const root = await tempDir();
    const { dir, manifest } = await createBackup(db.current.sql, [{ schema: SCHEMA, table: TABLE }], backupOptions(root));
    expect((await fs.stat(dir)).mode & 0o777).toBe(0o700);
    for (const name of await list(dir)) expect((await fs.stat(path.join(dir, name))).mode & 0o777, name).toBe(0o600);
    expect((await list(dir)).sort()).toEqual([manifest.tables[0]?.file, 'manifest.json'].sort());
    expect(await list(path.dirname(dir))).toEqual([path.basename(dir)]); // no .incomplete left
    await verifyBackup(dir, { full: true });
  });

  it('copies several tables on several connections inside one snapshot', async () => {
    const sql = db.current.sql;
    await sql.unsafe('CREATE TABLE p1 AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 5000) g; CREATE TABLE p2 AS SELECT * FROM p1; CREATE TABLE p3 AS SELECT * FROM p1');
    const extra: postgres.Sql[] = [];
    const connect = async () => { const c = postgres(db.current.url, { max: 1, onnotice: () => {} }); extra.push(c); return c; };
    const root = await tempDir();
    let inserted = false;
    const { manifest } = await createBackup(sql, ['p1', 'p2', 'p3'], {
      ...backupOptions(root), connect, jobs: 3,
      // A row committed while the backup runs is in none of the files: they share the snapshot.
      onTable: () => { if (!inserted) { inserted = true; void sql.unsafe('INSERT INTO p1 VALUES (0, 0), (-1, 1); INSERT INTO p2 VALUES (0, 0); INSERT INTO p3 VALUES (0, 0)'); } },
    });
    expect(manifest.tables.map((t) => [t.table, t.rows])).toEqual([['public.p1', 5000], ['public.p2', 5000], ['public.p3', 5000]]);
    expect(extra.length).toBe(2);
    const shas = new Set(manifest.tables.map((t) => t.sha256));
    expect(shas.size).toBe(1); // same rows, same bytes
  });

  it('round-trips a partitioned table, its partitions\' triggers off during the load', async () => {
    const sql = db.current.sql;
    await sql.unsafe(`
      CREATE TABLE events (id int, at date, note text) PARTITION BY RANGE (at);
      CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
      CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
      CREATE TABLE fired (n int);
      CREATE FUNCTION note_fired() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO fired VALUES (1); RETURN NEW; END $$;
      CREATE TRIGGER events_fired AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION note_fired();
      INSERT INTO events VALUES (1, '2024-05-01', 'a'), (2, '2025-05-01', NULL), (3, '2025-06-01', '');
      TRUNCATE fired;`);
    const before = await snapshot(sql, 'public', 'events');
    const { dir, manifest } = await createBackup(sql, ['events'], backupOptions(await tempDir()));
    expect(manifest.tables[0]?.rows).toBe(3);
    await sql`DELETE FROM events WHERE id = 1`;
    const result = await restoreBackup(sql, dir, { truncate: true });
    expect(result.triggersDisabled).toBeGreaterThanOrEqual(1);
    expect(await snapshot(sql, 'public', 'events')).toEqual(before);
    expect(await snapshot(sql, 'public', 'events_2024')).toHaveLength(1);
    expect(await snapshot(sql, 'public', 'fired')).toEqual([]);
  });

  it('refuses to read an incomplete backup directory', async () => {
    const root = await tempDir();
    const { dir } = await createBackup(db.current.sql, ['"Single"'], backupOptions(root));
    await fs.rename(dir, `${dir}.incomplete`);
    await expect(verifyBackup(`${dir}.incomplete`)).rejects.toMatchObject({ exitCode: 5, message: expect.stringMatching(/is an incomplete backup/) });
  });

  it('refuses unknown tables before writing anything, and never runs their names as SQL', async () => {
    const root = await tempDir();
    const attempt = createBackup(db.current.sql, ['p1', 'users; drop table p1', 'nope', 'pg_catalog.pg_tables'], backupOptions(root));
    await expect(attempt).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/unknown tables: users; drop table p1, nope, pg_catalog\.pg_tables \(is a view\)/) });
    expect(await list(root)).toEqual([]);
    expect(await snapshot(db.current.sql, 'public', 'p1')).not.toHaveLength(0);
  });
});
