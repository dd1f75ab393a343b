import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createBackupGuard } from '../../src/backup/guard.js';
import type { PreparedStep } from '../../src/core/steps.js';
import type { Sql } from '../../src/db/connect.js';
import type { DestructiveAction } from '../../src/sql/destructive.js';
import { useDatabase } from '../support/database.js';
import { list, snapshot, tempDir } from './helpers.js';

const db = useDatabase();
const step = { name: '003_add_program_tables', direction: 'down' } as PreparedStep;
const dropBoth: DestructiveAction = { statementIndex: 0, line: 3, kind: 'drop_table', summary: 'DROP TABLE smart_goals, public.sessions, gone', tables: [{ name: 'smart_goals' }, { schema: 'public', name: 'sessions' }, { name: 'gone' }] };

beforeAll(async () => {
  await db.current.sql.unsafe(`
    CREATE TABLE smart_goals (id int PRIMARY KEY, specific text);
    INSERT INTO smart_goals VALUES (1, 'run 5k'), (2, '');
    CREATE TABLE sessions (id int PRIMARY KEY);`);
});

describe('createBackupGuard', () => {
  it('locks and backs up the tables holding rows before the drop, on the migration\'s transaction', async () => {
    const root = await tempDir();
    const lines: string[] = [];
    const guard = createBackupGuard({ root: 'backups', cwd: root, database: 'postgres://u:***@h:5432/d', log: { info: (l) => lines.push(l), warn: () => {}, debug: () => {} } });
    const dirs = await db.current.sql.begin(async (tx) => {
      const made = await guard.protect(tx as unknown as Sql, step, [dropBoth], new Set());
      const [lock] = await tx`SELECT count(*)::int AS n FROM pg_locks WHERE mode = 'AccessExclusiveLock' AND relation = 'smart_goals'::regclass AND pid = pg_backend_pid()`;
      expect(lock?.n).toBe(1);
      await tx`DROP TABLE smart_goals, sessions`;
      return made;
    });
    expect(dirs).toHaveLength(1);
    expect(path.dirname(dirs[0] as string)).toBe('backups'); // relative to cwd, as printed
    expect(path.basename(dirs[0] as string)).toMatch(/^\d{8}T\d{6}Z_003_add_program_tables_down$/);
    expect(await list(path.join(root, dirs[0] as string))).toEqual(['manifest.json', 'public.smart_goals.csv']); // sessions was empty
    expect(lines).toEqual([`public.sessions: empty, nothing to back up`, `backed up public.smart_goals (2 rows) to ${dirs[0]}`]);
    await db.current.sql`CREATE TABLE smart_goals (id int PRIMARY KEY, specific text)`;
  });

  it('rehearses without writing anything', async () => {
    const sql = db.current.sql;
    await sql`INSERT INTO smart_goals VALUES (1, 'a'), (2, 'b'), (3, NULL)`;
    const root = await tempDir();
    const guard = createBackupGuard({ root: 'backups', cwd: root, database: 'x' });
    const lines = await sql.begin((tx) => guard.rehearse(tx as unknown as Sql, step, [dropBoth], new Set()));
    expect(lines).toEqual(['would back up public.smart_goals (3 rows) before 003_add_program_tables down destroys it']);
    expect(await list(root)).toEqual([]);
    expect(await snapshot(sql, 'public', 'smart_goals')).toHaveLength(3);
  });
});
