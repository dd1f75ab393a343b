/**
 * 011 raises maintenance_work_mem for its index rebuilds, inside its own transaction only, and
 * never lowers a larger setting.
 */
import { describe, expect, it } from 'vitest';
import type { MigrationContext, MigrationModule } from '../../src/core/types.js';
import type { Sql } from '../../src/db/connect.js';
import { withTestDatabase } from '../support/database.js';
import { inRollback, loadModule } from './apply.js';

const context = (sql: unknown): MigrationContext => ({
  sql: sql as Sql, direction: 'up', dryRun: false, schema: 'public', options: {},
  log: { info: () => {}, warn: () => {}, debug: () => {} },
});

describe('011: sort memory for the index rebuilds', () => {
  it('is raised to 256MB for the migration\'s transaction only, and a larger setting is kept', () => withTestDatabase(async (db) => {
    await db.sql`CREATE TABLE events (id int PRIMARY KEY, at timestamp)`;
    await db.sql`CREATE INDEX events_at ON events (at)`;
    const module = await loadModule<MigrationModule>('011_timezone_awareness');
    const setting = async (sql: { unsafe: Sql['unsafe'] }) => (await sql.unsafe<{ m: string }[]>(`SELECT current_setting('maintenance_work_mem') AS m`))[0]!.m;

    const before = await setting(db.sql);
    await inRollback(db.sql, async (tx) => {
      await tx.unsafe(`SET LOCAL maintenance_work_mem = '64MB'`);
      await module.up(context(tx));
      expect(await setting(tx)).toBe('256MB');
    });
    await inRollback(db.sql, async (tx) => {
      await tx.unsafe(`SET LOCAL maintenance_work_mem = '1GB'`);
      await module.up(context(tx));
      expect(await setting(tx)).toBe('1GB');
    });
    // Outside the migration's transaction, the session keeps its own value.
    expect(before).not.toBe('256MB');
    expect(await setting(db.sql)).toBe(before);
  }));
});
