import { describe, expect, it } from 'vitest';
import { useDatabase } from '../support/database.js';

describe('test harness', () => {
  const db = useDatabase();

  it('gives each file its own empty database on a real server', async () => {
    const [row] = await db.current.sql<{ name: string; tables: number }[]>`
      SELECT current_database() AS name,
             (SELECT count(*)::int FROM pg_tables WHERE schemaname = 'public') AS tables`;
    expect(row?.name).toBe(db.current.name);
    expect(row?.tables).toBe(0);
  });
});
