/**
 * A runner killed in the middle of a long statement (issue 9): PostgreSQL only notices a vanished
 * client when it next talks to it, unless the session sets client_connection_check_interval
 * (PostgreSQL 14+), which strata does. So the killed statement stops, its transaction rolls back,
 * the advisory lock is freed, and the next runner proceeds within seconds.
 */
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { historyRows } from '../support/catalog.js';
import { runCli, startCli } from '../support/cli.js';
import { createDatabase, dropDatabase } from '../support/database.js';
import { writeMigrations } from '../support/migrations.js';

describe('a runner killed mid-statement', () => {
  it('releases its lock and statement within seconds; the migration is not recorded', async () => {
    const db = await createDatabase();
    const watcher = postgres(db.url, { max: 1 });
    try {
      const dir = writeMigrations({
        '001_long': { up: 'CREATE TABLE long_running (id int);\nSELECT pg_sleep(30);\n', down: 'DROP TABLE long_running;' },
      });
      const env = { DATABASE_URL: db.url };
      const victim = startCli(['--migrations', dir, 'up'], { env });
      // Wait until the sleep is running on the server.
      let backend: number | undefined;
      for (let i = 0; i < 200 && backend === undefined; i++) {
        const [row] = await watcher`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'SELECT pg_sleep(30)%' AND state = 'active'`;
        backend = row?.pid as number | undefined;
        if (backend === undefined) await new Promise((r) => setTimeout(r, 50));
      }
      expect(backend).toBeDefined();
      victim.child.kill('SIGKILL');
      await victim.done;
      const next = await runCli(['--migrations', dir, 'status', '--json'], { env });
      expect(next.json<{ migrations: { state: string }[] }>().migrations[0]!.state).toBe('pending');
      // A second runner gets the lock within its 10 s lock timeout: without the check interval the
      // orphaned pg_sleep(30) would hold it for 30 s and this run would exit 4.
      const fixed = writeMigrations({ '001_long': { up: 'CREATE TABLE long_running (id int);\n', down: 'DROP TABLE long_running;' } });
      const second = await runCli(['--migrations', fixed, 'up', '--lock-timeout', '10000'], { env });
      expect(second.code).toBe(0);
      const [gone] = await watcher`SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = ${backend!}`;
      expect(gone!.n).toBe(0);
      expect((await historyRows(db.sql)).map((r) => r.name)).toEqual(['001_long']);
    } finally {
      await watcher.end();
      await dropDatabase(db);
    }
  });
});
