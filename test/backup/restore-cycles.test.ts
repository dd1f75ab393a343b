/**
 * SPEC §6 "in foreign-key order": tables whose foreign keys reference each other (cx.y_id → cy,
 * cy.x_id → cx). DEFERRABLE keys are deferred; a cycle of keys that are not DEFERRABLE loads with
 * their check triggers off (superuser) and every row is checked before COMMIT; anyone else gets a
 * clear refusal. Whatever the path, the restored rows satisfy every foreign key, or nothing loads.
 */
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { createBackup, restoreBackup } from '../../src/backup/index.js';
import type { ForeignKey } from '../../src/backup/restore-catalog.js';
import { orderForLoad } from '../../src/backup/restore-cycles.js';
import { useDatabase } from '../support/database.js';
import { backupOptions, snapshot, tempDir } from './helpers.js';

const db = useDatabase();

/** Schema `s` with cx ⇄ cy and `rows`, then the foreign keys (`null`: none yet, so the rows may break them). */
async function cycle(s: string, rows: string, keys: { xy?: string; yx?: string } | null = {}): Promise<void> {
  await db.current.sql.unsafe(`CREATE SCHEMA ${s};
    CREATE TABLE ${s}.cx (id int PRIMARY KEY, y_id int, note text);
    CREATE TABLE ${s}.cy (id int PRIMARY KEY, x_id int);
    ${rows}`);
  if (keys) await addKeys(s, keys);
}

async function addKeys(s: string, keys: { xy?: string; yx?: string }): Promise<void> {
  await db.current.sql.unsafe(`ALTER TABLE ${s}.cx ADD CONSTRAINT cx_y_id_fkey FOREIGN KEY (y_id) REFERENCES ${s}.cy ${keys.xy ?? ''};
    ALTER TABLE ${s}.cy ADD CONSTRAINT cy_x_id_fkey FOREIGN KEY (x_id) REFERENCES ${s}.cx ${keys.yx ?? ''}`);
}

const ROWS = (s: string) => `INSERT INTO ${s}.cx VALUES (1, NULL, 'a'), (2, NULL, 'b'), (3, NULL, 'c');
  INSERT INTO ${s}.cy VALUES (10, 1), (20, 2), (30, NULL);
  UPDATE ${s}.cx SET y_id = 10 WHERE id IN (1, 3); UPDATE ${s}.cx SET y_id = 20 WHERE id = 2;`;

async function backupOf(s: string): Promise<string> {
  return (await createBackup(db.current.sql, [`${s}.cx`, `${s}.cy`], backupOptions(await tempDir()))).dir;
}

async function rowsOf(s: string): Promise<string[][]> {
  return [await snapshot(db.current.sql, s, 'cx'), await snapshot(db.current.sql, s, 'cy')];
}

async function disabledInternalTriggers(): Promise<number> {
  const [row] = await db.current.sql`SELECT count(*)::int AS n FROM pg_trigger WHERE tgisinternal AND tgenabled = 'D'`;
  return row?.n ?? -1;
}

/** A login role (not superuser) owning the schema's tables; `fn` gets a connection as that role. */
async function asOwner(s: string, fn: (sql: postgres.Sql) => Promise<void>): Promise<void> {
  const sql = db.current.sql;
  const role = `strata_cyc_${db.current.name.slice(-10)}_${s}`;
  await sql.unsafe(`CREATE ROLE ${role} LOGIN PASSWORD 'owner-pw' NOSUPERUSER; GRANT USAGE ON SCHEMA ${s} TO ${role};
    ALTER TABLE ${s}.cx OWNER TO ${role}; ALTER TABLE ${s}.cy OWNER TO ${role}`);
  const url = new URL(db.current.url);
  url.username = role;
  url.password = 'owner-pw';
  const owner = postgres(url.toString(), { max: 1, onnotice: () => {} });
  try {
    await fn(owner);
  } finally {
    await owner.end();
    await sql.unsafe(`REASSIGN OWNED BY ${role} TO CURRENT_USER; DROP OWNED BY ${role}; DROP ROLE ${role}`);
  }
}

describe('restoring tables that reference each other', () => {
  it('a cycle of keys that are not DEFERRABLE: loaded unchecked by a superuser, every row checked, triggers back on', async () => {
    await cycle('hard', ROWS('hard'));
    const before = await rowsOf('hard');
    const dir = await backupOf('hard');
    await db.current.sql.unsafe('TRUNCATE hard.cx, hard.cy');
    const result = await restoreBackup(db.current.sql, dir);
    expect(result.tables.map((t) => t.table)).toEqual(['hard.cx', 'hard.cy']);
    expect(result.foreignKeysChecked).toEqual(['hard.cx.cx_y_id_fkey']);
    expect(result.foreignKeysDeferred).toEqual([]);
    expect(await rowsOf('hard')).toEqual(before);
    expect(await disabledInternalTriggers()).toBe(0);
    // …and the keys are enforced again afterwards.
    await expect(db.current.sql.unsafe('INSERT INTO hard.cx VALUES (9, 99, NULL)')).rejects.toMatchObject({ code: '23503' });
    // --truncate replaces the rows the same way.
    const again = await restoreBackup(db.current.sql, dir, { truncate: true });
    expect(again.foreignKeysChecked).toEqual(['hard.cx.cx_y_id_fkey']);
    expect(await rowsOf('hard')).toEqual(before);
  });

  it('partitioned tables: the key\'s check triggers on every partition are switched off and back on, and rows are checked', async () => {
    const sql = db.current.sql;
    await sql.unsafe(`CREATE SCHEMA parts;
      CREATE TABLE parts.cx (id int PRIMARY KEY, y_id int) PARTITION BY RANGE (id);
      CREATE TABLE parts.cx_low PARTITION OF parts.cx FOR VALUES FROM (0) TO (100);
      CREATE TABLE parts.cx_high PARTITION OF parts.cx FOR VALUES FROM (100) TO (200);
      CREATE TABLE parts.cy (id int PRIMARY KEY, x_id int);
      INSERT INTO parts.cx VALUES (1, 10), (150, 20);
      INSERT INTO parts.cy VALUES (10, 1), (20, 150)`);
    const before = [await snapshot(sql, 'parts', 'cx'), await snapshot(sql, 'parts', 'cy')];
    const backup = async () => (await createBackup(sql, ['parts.cx', 'parts.cy'], backupOptions(await tempDir()))).dir;
    const good = await backup();
    await sql.unsafe('INSERT INTO parts.cx VALUES (151, 99)');
    const bad = await backup();
    await sql.unsafe(`TRUNCATE parts.cx, parts.cy;
      ALTER TABLE parts.cx ADD CONSTRAINT cx_y_id_fkey FOREIGN KEY (y_id) REFERENCES parts.cy;
      ALTER TABLE parts.cy ADD CONSTRAINT cy_x_id_fkey FOREIGN KEY (x_id) REFERENCES parts.cx`);
    await expect(restoreBackup(sql, bad)).rejects.toMatchObject({ exitCode: 1, message: expect.stringMatching(/1 row of parts\.cx violates foreign key cx_y_id_fkey, e\.g\. key \(y_id\)=\(99\)/) });
    expect((await restoreBackup(sql, good)).foreignKeysChecked).toEqual(['parts.cx.cx_y_id_fkey']);
    expect([await snapshot(sql, 'parts', 'cx'), await snapshot(sql, 'parts', 'cy')]).toEqual(before);
    expect(await disabledInternalTriggers()).toBe(0);
    await expect(sql.unsafe('INSERT INTO parts.cx VALUES (152, 99)')).rejects.toMatchObject({ code: '23503' });
  });

  it('a row that violates an unchecked key fails the whole restore (exit 1), naming the key and a sample key value', async () => {
    // The rows were taken before the keys existed: y_id 99 has no cy row.
    await cycle('dangling', `${ROWS('dangling')} INSERT INTO dangling.cx VALUES (4, 99, 'dangling'), (5, 98, 'also')`, null);
    const dir = await backupOf('dangling');
    await db.current.sql.unsafe('TRUNCATE dangling.cx, dangling.cy');
    await addKeys('dangling', {});
    await expect(restoreBackup(db.current.sql, dir)).rejects.toMatchObject({
      exitCode: 1,
      message: expect.stringMatching(/2 rows of dangling\.cx violate foreign key cx_y_id_fkey, e\.g\. key \(y_id\)=\(9[89]\) is not present in dangling\.cy; nothing was loaded/),
    });
    expect(await rowsOf('dangling')).toEqual([[], []]);
    expect(await disabledInternalTriggers()).toBe(0);
  });

  it('MATCH FULL: a key with some columns NULL violates it, and is reported', async () => {
    const sql = db.current.sql;
    await sql.unsafe(`CREATE SCHEMA full_match;
      CREATE TABLE full_match.p1 (id int PRIMARY KEY, a int, b int);
      CREATE TABLE full_match.p2 (a int, b int, p1_id int, PRIMARY KEY (a, b));
      INSERT INTO full_match.p1 VALUES (1, NULL, NULL), (2, 7, NULL);
      INSERT INTO full_match.p2 VALUES (7, 8, 1);`);
    const { dir } = await createBackup(sql, ['full_match.p1', 'full_match.p2'], backupOptions(await tempDir()));
    await sql.unsafe(`TRUNCATE full_match.p1, full_match.p2;
      ALTER TABLE full_match.p1 ADD FOREIGN KEY (a, b) REFERENCES full_match.p2 MATCH FULL;
      ALTER TABLE full_match.p2 ADD FOREIGN KEY (p1_id) REFERENCES full_match.p1`);
    await expect(restoreBackup(sql, dir)).rejects.toMatchObject({
      exitCode: 1, message: expect.stringMatching(/1 row of full_match\.p1 violates foreign key p1_a_b_fkey, e\.g\. key \(a, b\)=\(7, NULL\)/),
    });
    expect(await snapshot(sql, 'full_match', 'p1')).toEqual([]);
  });

  it('without superuser, a cycle of keys that are not DEFERRABLE is refused before anything loads, naming the cycle and the way out', async () => {
    await cycle('refused', ROWS('refused'));
    const dir = await backupOf('refused');
    await db.current.sql.unsafe('TRUNCATE refused.cx, refused.cy');
    await asOwner('refused', async (owner) => {
      await expect(restoreBackup(owner, dir)).rejects.toMatchObject({
        exitCode: 1,
        message: expect.stringMatching(/refused\.cx and refused\.cy reference each other through foreign keys that are not DEFERRABLE \(cx_y_id_fkey: refused\.cx → refused\.cy; cy_x_id_fkey: refused\.cy → refused\.cx\).*nothing was loaded/),
        hint: expect.stringMatching(/ALTER TABLE "refused"\."cx" ALTER CONSTRAINT "cx_y_id_fkey" DEFERRABLE.*superuser/),
      });
    });
    expect(await rowsOf('refused')).toEqual([[], []]);
  });

  it('one DEFERRABLE key is enough, for anyone: the other table loads first and the deferred key is checked at COMMIT', async () => {
    await cycle('mixed', ROWS('mixed'), { xy: 'DEFERRABLE' });
    const before = await rowsOf('mixed');
    const dir = await backupOf('mixed');
    await db.current.sql.unsafe('TRUNCATE mixed.cx, mixed.cy');
    await asOwner('mixed', async (owner) => {
      const result = await restoreBackup(owner, dir);
      expect(result.tables.map((t) => t.table)).toEqual(['mixed.cx', 'mixed.cy']);
      expect(result.foreignKeysDeferred).toEqual(['mixed.cx.cx_y_id_fkey']);
      expect(result.foreignKeysChecked).toEqual([]);
    });
    expect(await rowsOf('mixed')).toEqual(before);
  });

  it('a DEFERRABLE key that the rows violate fails the restore at COMMIT, naming the key', async () => {
    await cycle('deferred', `${ROWS('deferred')} INSERT INTO deferred.cx VALUES (4, 99, 'dangling')`, null);
    const dir = await backupOf('deferred');
    await db.current.sql.unsafe('TRUNCATE deferred.cx, deferred.cy');
    await addKeys('deferred', { xy: 'DEFERRABLE', yx: 'DEFERRABLE INITIALLY DEFERRED' });
    await expect(restoreBackup(db.current.sql, dir)).rejects.toMatchObject({
      exitCode: 1, message: expect.stringMatching(/cx_y_id_fkey.*\(y_id\)=\(99\).*nothing was loaded/),
    });
    expect(await rowsOf('deferred')).toEqual([[], []]);
  });
});

describe('orderForLoad', () => {
  const key = (name: string, child: string, parent: string, deferrable = false): ForeignKey => ({
    oid: name, name, child, parent, deferrable, childTable: { schema: 's', name: child }, parentTable: { schema: 's', name: parent },
  });
  const order = (tables: string[], keys: ForeignKey[]) => {
    const plan = orderForLoad(tables, (t) => t, (t) => ({ schema: 's', name: t }), keys);
    return { order: plan.order, deferred: plan.deferred.map((k) => k.name), unchecked: plan.unchecked.map((k) => k.name) };
  };

  it('parents first, self-references ignored, input order kept otherwise', () => {
    expect(order(['c', 'b', 'a'], [key('cb', 'c', 'b'), key('ba', 'b', 'a'), key('aa', 'a', 'a')])).toEqual({ order: ['a', 'b', 'c'], deferred: [], unchecked: [] });
  });

  it('chooses the order that leaves only DEFERRABLE keys pointing forward', () => {
    // a → b (not deferrable), b → c (not deferrable), c → a (DEFERRABLE): c, b, a would need no deferral of a hard key.
    expect(order(['a', 'b', 'c'], [key('ab', 'a', 'b'), key('bc', 'b', 'c'), key('ca', 'c', 'a', true)]))
      .toEqual({ order: ['c', 'b', 'a'], deferred: ['ca'], unchecked: [] });
  });

  it('a cycle of keys that are not DEFERRABLE: only the keys pointing forward are unchecked; a table outside waits for its parent', () => {
    expect(order(['d', 'a', 'b'], [key('da', 'd', 'a'), key('ab', 'a', 'b'), key('ba', 'b', 'a')]))
      .toEqual({ order: ['a', 'd', 'b'], deferred: [], unchecked: ['ab'] });
    expect(order(['d', 'a', 'b'], [key('db', 'd', 'b'), key('ab', 'a', 'b'), key('ba', 'b', 'a')]))
      .toEqual({ order: ['a', 'b', 'd'], deferred: [], unchecked: ['ab'] });
  });
});
