/**
 * The storage contract every UmzugStorage of ours passes (STYLE: one shared contract test, like
 * golang-migrate's database/testing), plus the history table's own rules (SPEC §4).
 */
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { HistoryStore } from '../../src/core/history.js';
import type { Sql } from '../../src/db/connect.js';
import { useDatabase } from '../support/database.js';

/** The contract: executed() reflects log/unlog in order, idempotently readable, empty at first. */
export async function storageContract(store: HistoryStore): Promise<void> {
  expect(await store.executed()).toEqual([]);
  await store.logMigration({ name: '001_a' });
  await store.logMigration({ name: '002_b' });
  expect(await store.executed()).toEqual(['001_a', '002_b']);
  await store.unlogMigration({ name: '001_a' });
  expect(await store.executed()).toEqual(['002_b']);
  await store.load();
  expect(await store.executed()).toEqual(['002_b']);
}

describe('HistoryStore', () => {
  const db = useDatabase();
  const open = () => postgres(db.current.url, { max: 1, onnotice: () => {} }) as unknown as Sql;

  it('passes the umzug storage contract against a real table', async () => {
    const sql = open();
    const store = new HistoryStore(sql, { schema: 'contract', table: 'history' });
    await store.ensure();
    await storageContract(store);
    await sql.end();
  });

  it('creates its schema and a table with no timestamp-without-time-zone column (SPEC §4)', async () => {
    const sql = open();
    const store = new HistoryStore(sql, { schema: 'Odd "Schema"', table: 'my history' });
    expect(await store.load()).toEqual([]); // a missing table reads as empty history
    await store.ensure();
    await store.ensure(); // idempotent
    const columns = await db.current.sql<{ column_name: string; data_type: string }[]>`
      SELECT column_name, data_type FROM information_schema.columns
      WHERE table_schema = 'Odd "Schema"' AND table_name = 'my history' ORDER BY ordinal_position`;
    expect(columns.map((c) => c.column_name)).toEqual(['name', 'checksum', 'applied_at', 'duration_ms', 'applied_by', 'state']);
    expect(columns.find((c) => c.column_name === 'applied_at')?.data_type).toBe('timestamp with time zone');
    expect(columns.some((c) => c.data_type === 'timestamp without time zone')).toBe(false);
    await sql.end();
  });

  it('records applied rows in the caller\'s transaction with a server-measured duration', async () => {
    const sql = open();
    const store = new HistoryStore(sql, { schema: 'public', table: 'schema_migrations' });
    await store.ensure();
    await sql.unsafe('BEGIN');
    await sql.unsafe(store.insertAppliedSql("001_it's", 'abc'));
    await sql.unsafe('ROLLBACK');
    expect(await store.load()).toEqual([]);
    await sql.unsafe(store.insertAppliedSql('001_ok', 'abc'));
    const [row] = await store.load();
    expect(row).toMatchObject({ name: '001_ok', checksum: 'abc', state: 'applied' });
    expect(row!.appliedBy).toBe((await sql`SELECT current_user AS u`)[0]!.u);
    await sql.end();
  });

  it('marks a no-transaction migration failed before it starts, applied when it ends', async () => {
    const sql = open();
    const store = new HistoryStore(sql, { schema: 'public', table: 'notx_history' });
    await store.ensure();
    await store.markStarted('003_index', 'def');
    expect((await store.load())[0]).toMatchObject({ name: '003_index', state: 'failed' });
    await store.markApplied('003_index', 12);
    expect((await store.load())[0]).toMatchObject({ state: 'applied', durationMs: 12 });
    await sql.end();
  });
});
