/**
 * Racing deploys and lock safety (SPEC §5): one advisory lock per run; every migration statement
 * under lock_timeout, retried with backoff.
 */
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { historyRows } from '../support/catalog.js';
import { runCli, startCli } from '../support/cli.js';
import { withTestDatabase } from '../support/database.js';
import { writeMigrations } from '../support/migrations.js';

const slowSet = () => writeMigrations({
  '001_slow': { up: 'CREATE TABLE slow (id int);\nSELECT pg_sleep(1.5);\n', down: 'DROP TABLE slow;' },
  '002_counted': { up: 'CREATE TABLE counted (id int);\nINSERT INTO counted VALUES (1);\n', down: 'DROP TABLE counted;' },
});

describe('two deploys at once', () => {
  it('apply each migration exactly once; the second waits and finds nothing to do', () => withTestDatabase(async (db) => {
    const dir = slowSet();
    const env = { DATABASE_URL: db.url };
    const [a, b] = await Promise.all([
      runCli(['--migrations', dir, 'up', '--json'], { env }),
      runCli(['--migrations', dir, 'up', '--json'], { env }),
    ]);
    expect([a.code, b.code]).toEqual([0, 0]);
    const applied = [a, b].map((r) => r.json<{ applied: string[] }>().applied);
    expect(applied.flat().sort()).toEqual(['001_slow', '002_counted']);
    expect(applied.some((list) => list.length === 0)).toBe(true);
    expect((await db.sql`SELECT count(*)::int AS n FROM counted`)[0]!.n).toBe(1);
    expect((await historyRows(db.sql)).map((r) => r.name)).toEqual(['001_slow', '002_counted']);
  }));

  it('with a short --lock-timeout the loser exits 4 saying who holds the lock', () => withTestDatabase(async (db) => {
    const dir = slowSet();
    const env = { DATABASE_URL: db.url };
    const first = startCli(['--migrations', dir, 'up'], { env });
    // Wait until the first runner holds the lock.
    const probe = postgres(db.url, { max: 1 });
    for (let i = 0; i < 100; i++) {
      const [row] = await probe`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND granted`;
      if (row!.n > 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await probe.end();
    const loser = await runCli(['--migrations', dir, 'up', '--lock-timeout', '200'], { env });
    expect(loser.code).toBe(4);
    expect(loser.stderr).toMatch(/error: another migration is running: lock not acquired after 200 ms; pid \d+ \(strata up\)/);
    expect((await first.done).code).toBe(0);
    expect((await historyRows(db.sql)).map((r) => r.name)).toEqual(['001_slow', '002_counted']);
  }));
});

describe('--ddl-lock-timeout and --retries', () => {
  const tableSet = () => writeMigrations({
    '001_table': { up: 'CREATE TABLE busy (id int);\n', down: 'DROP TABLE busy;' },
    '002_alter': { up: 'ALTER TABLE busy ADD COLUMN note text;\n', down: 'ALTER TABLE busy DROP COLUMN note;' },
  });

  it('a migration queued behind a long transaction fails fast, retries with backoff, and succeeds once the lock is gone', () => withTestDatabase(async (db) => {
    const dir = tableSet();
    const env = { DATABASE_URL: db.url };
    expect((await runCli(['--migrations', dir, 'table'], { env })).code).toBe(0);
    const holder = postgres(db.url, { max: 1 });
    const release = holder.begin(async (tx) => {
      await tx`SELECT * FROM busy`; // ACCESS SHARE, held until commit: blocks ALTER TABLE
      await new Promise((r) => setTimeout(r, 1500));
    });
    await new Promise((r) => setTimeout(r, 200));
    const result = await runCli(['--migrations', dir, 'up', '--ddl-lock-timeout', '300', '--retries', '3', '--json'], { env });
    await release;
    await holder.end();
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/002_alter: lock not acquired within 300 ms; retrying in 1 s \(retry 1 of 3\)/);
    const doc = result.json<{ applied: string[]; steps: { name: string; retries: number }[] }>();
    expect(doc.applied).toEqual(['002_alter']);
    expect(doc.steps[0]!.retries).toBeGreaterThanOrEqual(1);
    const columns = await db.sql`SELECT column_name FROM information_schema.columns WHERE table_name = 'busy' ORDER BY 1`;
    expect(columns.map((c) => c.column_name)).toEqual(['id', 'note']);
  }));

  it('when the retries run out it fails with exit 1 and nothing applied', () => withTestDatabase(async (db) => {
    const dir = tableSet();
    const env = { DATABASE_URL: db.url };
    expect((await runCli(['--migrations', dir, 'table'], { env })).code).toBe(0);
    const holder = postgres(db.url, { max: 1 });
    let finish!: () => void;
    const hold = new Promise<void>((r) => { finish = r; });
    const release = holder.begin(async (tx) => { await tx`LOCK TABLE busy IN ACCESS EXCLUSIVE MODE`; await hold; });
    await new Promise((r) => setTimeout(r, 200));
    const result = await runCli(['--migrations', dir, 'up', '--ddl-lock-timeout', '100', '--retries', '1'], { env });
    finish();
    await release;
    await holder.end();
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('retrying in 1 s (retry 1 of 1)');
    expect(result.stderr).toMatch(/002_alter\/up\.sql:1: canceling statement due to lock timeout \(SQLSTATE 55P03\)/);
    expect((await historyRows(db.sql)).map((r) => r.name)).toEqual(['001_table']);
  }));
});
