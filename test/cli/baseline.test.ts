/**
 * `migrate baseline TARGET`: adopting a database whose schema already exists.
 */
import { describe, expect, it } from 'vitest';
import { historyRows } from '../support/catalog.js';
import { runCli } from '../support/cli.js';
import { withTestDatabase } from '../support/database.js';
import { writeMigrations } from '../support/migrations.js';

describe('migrate baseline', () => {
  it('records migrations up to TARGET with their checksums without running them; later ones run with up', () => withTestDatabase(async (db) => {
    const dir = writeMigrations({
      '001_legacy': { up: 'CREATE TABLE legacy (id int);\n', down: 'DROP TABLE legacy;\n' },
      '002_more': { up: 'CREATE TABLE more (id int);\n', down: 'DROP TABLE more;\n' },
      '003_new': { up: 'ALTER TABLE legacy ADD COLUMN note text;\n', down: 'ALTER TABLE legacy DROP COLUMN note;\n' },
    });
    const cli = (...args: string[]) => runCli(['--migrations', dir, ...args], { env: { DATABASE_URL: db.url } });
    await db.sql`CREATE TABLE legacy (id int)`;
    await db.sql`CREATE TABLE more (id int)`;
    const dry = await cli('baseline', 'more', '--dry-run', '--json');
    expect(dry.json()).toEqual({ dryRun: true, baselined: ['001_legacy', '002_more'] });
    expect(await historyRows(db.sql)).toEqual([]);
    const result = await cli('baseline', 'more');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('recorded 001_legacy as applied (not run)');
    const status = await cli('status', '--json');
    expect(status.json<{ migrations: { state: string }[] }>().migrations.map((m) => m.state)).toEqual(['applied', 'applied', 'pending']);
    expect((await cli('up')).code).toBe(0);
    expect((await historyRows(db.sql)).map((r) => r.name)).toEqual(['001_legacy', '002_more', '003_new']);
    const again = await cli('baseline', 'legacy');
    expect(again.code).toBe(5);
    expect(again.stderr).toContain('cannot baseline: public.schema_migrations already records 3 migrations');
  }));
});
