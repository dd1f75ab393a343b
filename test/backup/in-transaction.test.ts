import { beforeAll, describe, expect, it } from 'vitest';
import { backupInTransaction, restoreBackup, verifyBackup } from '../../src/backup/index.js';
import { useDatabase } from '../support/database.js';
import { backupOptions, list, snapshot, tempDir } from './helpers.js';

const db = useDatabase();

beforeAll(async () => {
  await db.current.sql.unsafe(`
    CREATE TABLE goals (id serial PRIMARY KEY, title text);
    INSERT INTO goals (title) VALUES ('run'), ('read'), (NULL), ('');
    CREATE TABLE check_ins (id int PRIMARY KEY, goal_id int REFERENCES goals);`);
});

describe('backupInTransaction', () => {
  it('backs up, on the migration\'s own transaction, exactly the rows the drop destroys', async () => {
    const sql = db.current.sql;
    const options = backupOptions(await tempDir(), '003_add_program_tables down');
    const before = await snapshot(sql, 'public', 'goals');
    const result = await sql.begin(async (tx) => {
      await tx`LOCK TABLE goals, check_ins IN ACCESS EXCLUSIVE MODE`;
      await tx`INSERT INTO goals (title) VALUES ('added by this migration')`; // not committed: only this transaction sees it
      const auto = await backupInTransaction(tx, ['check_ins', 'goals', 'smart_goals'], { ...options, skipMissing: true });
      await tx`DROP TABLE check_ins, goals`;
      return auto;
    });
    expect(result.skipped).toEqual([{ table: 'smart_goals', reason: 'missing' }, { table: 'public.check_ins', reason: 'empty' }]);
    const backup = result.backup;
    if (!backup) throw new Error('expected a backup');
    expect(backup.dir).toMatch(/_003_add_program_tables_down$/);
    expect(backup.manifest.reason).toBe('003_add_program_tables down');
    expect(backup.manifest.tables.map((t) => [t.table, t.rows])).toEqual([['public.goals', 5]]);
    await verifyBackup(backup.dir, { full: true });

    // The table is gone: restore says what to do; re-created, the rows come back.
    await expect(restoreBackup(sql, backup.dir)).rejects.toMatchObject({ exitCode: 1, hint: expect.stringMatching(/re-apply the migration/) });
    await sql`CREATE TABLE goals (id serial PRIMARY KEY, title text)`;
    await restoreBackup(sql, backup.dir);
    expect(await snapshot(sql, 'public', 'goals')).toEqual([...before, '(5,"added by this migration")'].sort());
  });

  it('writes nothing when every table is empty', async () => {
    const sql = db.current.sql;
    const options = backupOptions(await tempDir());
    await sql`CREATE TABLE IF NOT EXISTS empty_one (id int)`;
    const result = await sql.begin((tx) => backupInTransaction(tx, ['empty_one'], options));
    expect(result).toEqual({ backup: undefined, skipped: [{ table: 'public.empty_one', reason: 'empty' }] });
    expect(await list(options.root)).toEqual([]);
  });

  it('fails with a usage error for unknown tables unless asked to skip them', async () => {
    const options = backupOptions(await tempDir());
    await expect(db.current.sql.begin((tx) => backupInTransaction(tx, ['no_such_table'], options)))
      .rejects.toMatchObject({ exitCode: 2, message: 'unknown table: no_such_table' });
  });

  it('refuses when the disk is too small, before writing, and the caller can roll back', async () => {
    const sql = db.current.sql;
    const options = backupOptions(await tempDir());
    await sql`CREATE TABLE IF NOT EXISTS kept (id int); INSERT INTO kept VALUES (1)`.simple();
    await expect(sql.begin(async (tx) => {
      await backupInTransaction(tx, ['kept'], { ...options, freeSpace: async () => 0 });
      await tx`DROP TABLE kept`;
    })).rejects.toMatchObject({ exitCode: 1, message: expect.stringMatching(/^backup refused: .*nothing was written$/) });
    expect(await snapshot(sql, 'public', 'kept')).toEqual(['(1)']);
    expect(await list(options.root)).toEqual([]);
  });
});
