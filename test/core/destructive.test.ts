/**
 * The run's assessment of what destructive statements would destroy: which tables exist and hold
 * rows, in two round trips whatever their number.
 */
import { describe, expect, it } from 'vitest';
import { resolveAffectedAll } from '../../src/core/destructive.js';
import type { Sql } from '../../src/db/connect.js';
import type { DestructiveAction } from '../../src/sql/destructive.js';
import { withTestDatabase } from '../support/database.js';

const drop = (...names: string[]): DestructiveAction => ({
  statementIndex: 0, line: 1, kind: 'drop_table', summary: `DROP TABLE ${names.join(', ')}`,
  tables: names.map((n) => (n.includes('.') ? { schema: n.split('.')[0]!, name: n.split('.')[1]! } : { name: n })),
});

describe('resolveAffectedAll', () => {
  it('tells tables with rows from empty, emptied, missing, partitioned and foreign-schema ones', () => withTestDatabase(async (db) => {
    await db.sql.unsafe(`
      CREATE TABLE never_written (id int);
      CREATE TABLE emptied (id int); INSERT INTO emptied VALUES (1); DELETE FROM emptied;
      CREATE TABLE filled (id int); INSERT INTO filled VALUES (1);
      CREATE TABLE parted (id int) PARTITION BY RANGE (id);
      CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (10); INSERT INTO parted VALUES (5);
      CREATE TABLE parted_empty (id int) PARTITION BY RANGE (id);
      CREATE SCHEMA other; CREATE TABLE other."Mixed Case" (id int); INSERT INTO other."Mixed Case" VALUES (1);
    `);
    const [tables] = await resolveAffectedAll(db.sql as unknown as Sql,
      [drop('never_written', 'emptied', 'filled', 'parted', 'parted_empty', 'other.Mixed Case', 'missing')], 'public');
    expect(tables!.map((t) => [t.name, t.exists, t.hasRows])).toEqual([
      ['never_written', true, false], ['emptied', true, false], ['filled', true, true], ['parted', true, true],
      ['parted_empty', true, false], ['Mixed Case', true, true], ['missing', false, false],
    ]);
  }));

  it('a row another session inserted and has not committed is not counted, nor lost from sight later', () => withTestDatabase(async (db) => {
    await db.sql`CREATE TABLE pending (id int)`;
    const other = await db.sql.reserve();
    try {
      await other`BEGIN`;
      await other`INSERT INTO pending VALUES (1)`;
      const before = (await resolveAffectedAll(db.sql as unknown as Sql, [drop('pending')], 'public'))[0]![0]!;
      expect(before.hasRows).toBe(false);
      await other`COMMIT`;
      const after = (await resolveAffectedAll(db.sql as unknown as Sql, [drop('pending')], 'public'))[0]![0]!;
      expect(after.hasRows).toBe(true);
    } finally {
      other.release();
    }
  }));
});
