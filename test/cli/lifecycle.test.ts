/**
 * The everyday loop through the real binary: status, up, dry run, verify, rollback, re-apply.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogSnapshot, historyRows } from '../support/catalog.js';
import { runCli } from '../support/cli.js';
import { createDatabase, dropDatabase, type TestDatabase } from '../support/database.js';
import { writeMigrations } from '../support/migrations.js';

const migrations = writeMigrations({
  '001_accounts': {
    up: 'CREATE TABLE accounts (id serial PRIMARY KEY, email text NOT NULL UNIQUE);\nINSERT INTO accounts (email) VALUES (\'a@x\'), (\'b@x\');\n',
    down: 'DROP TABLE accounts;\n',
    verify: '-- check: emails are lowercase\nSELECT id, email FROM accounts WHERE email <> lower(email);\n',
  },
  '002_orders': {
    up: 'CREATE TABLE orders (id serial PRIMARY KEY, account_id int NOT NULL REFERENCES accounts(id));\nCREATE INDEX orders_account ON orders (account_id);\n',
    down: 'DROP TABLE orders;\n',
  },
  '003_order_total': {
    up: 'ALTER TABLE orders ADD COLUMN total numeric NOT NULL DEFAULT 0;\nUPDATE accounts SET email = email;\n',
    down: 'ALTER TABLE orders DROP COLUMN total;\n',
  },
});

describe('migrate lifecycle', () => {
  let db: TestDatabase;
  const cli = (...args: string[]) => runCli(['--migrations', migrations, ...args], { env: { DATABASE_URL: db.url } });
  beforeAll(async () => { db = await createDatabase(); });
  afterAll(async () => { await dropDatabase(db); });

  it('status lists every migration as pending, with JSON of SPEC §5 shape', async () => {
    const result = await cli('status', '--json');
    expect(result.code).toBe(0);
    const doc = result.json<{ database: string; migrations: { name: string; phase: string; state: string; appliedAt: null; checksum: string }[] }>();
    expect(doc.database).toMatch(/^postgres:\/\/[^:]+:\*\*\*@127\.0\.0\.1:\d+\/strata_test_/);
    expect(doc.migrations.map((m) => [m.name, m.phase, m.state, m.appliedAt])).toEqual([
      ['001_accounts', 'accounts', 'pending', null], ['002_orders', 'orders', 'pending', null], ['003_order_total', 'order_total', 'pending', null],
    ]);
    expect(doc.migrations[0]!.checksum).toMatch(/^[0-9a-f]{64}$/);
  });

  it('a dry run reports statements and row counts and leaves the database byte-for-byte unchanged', async () => {
    const before = await catalogSnapshot(db.sql);
    const result = await cli('up', '--dry-run', '--json');
    expect(result.code).toBe(0);
    const doc = result.json<{ dryRun: boolean; applied: string[]; steps: { name: string; statements: { sql: string; rowCount: number | null }[] }[] }>();
    expect(doc.dryRun).toBe(true);
    expect(doc.steps.map((s) => s.name)).toEqual(['001_accounts', '002_orders', '003_order_total']);
    expect(doc.steps[0]!.statements[1]).toEqual(expect.objectContaining({ sql: "INSERT INTO accounts (email) VALUES ('a@x'), ('b@x')", rowCount: 2 }));
    expect(doc.steps[2]!.statements[1]).toEqual(expect.objectContaining({ rowCount: 2 }));
    expect(result.stderr.trim().split('\n').at(-1)).toBe('dry run: nothing was changed');
    expect(await catalogSnapshot(db.sql)).toBe(before);
    expect(await historyRows(db.sql)).toEqual([]);
    const human = await cli('up', '--dry-run');
    expect(human.stdout.trim().split('\n').at(-1)).toBe('dry run: nothing was changed');
  });

  it('PHASE applies up to and including the phase', async () => {
    const result = await cli('orders');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('applied 2 migrations');
    expect((await historyRows(db.sql)).map((r) => [r.name, r.state])).toEqual([['001_accounts', 'applied'], ['002_orders', 'applied']]);
  });

  it('up applies the rest, records duration and user, and a second up has nothing to do', async () => {
    const result = await cli('up', '--json');
    expect(result.code).toBe(0);
    expect(result.json()).toMatchObject({ dryRun: false, applied: ['003_order_total'], reverted: [], backups: [] });
    const [row] = await db.sql`SELECT duration_ms, applied_by, applied_at FROM schema_migrations WHERE name = '003_order_total'`;
    expect(row!.duration_ms).toBeGreaterThanOrEqual(0);
    expect(row!.applied_by).toBeTruthy();
    const again = await cli('up');
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('nothing to apply');
  });

  it('verify passes with checks and checksums, and fails with exit 1 and a sample when data breaks a check', async () => {
    const ok = await cli('verify', '--json');
    expect(ok.code).toBe(0);
    const doc = ok.json<{ ok: boolean; checks: { migration: string; check: string; ok: boolean; violations: number }[] }>();
    expect(doc.ok).toBe(true);
    expect(doc.checks.filter((c) => c.check === 'checksum')).toHaveLength(3);
    expect(doc.checks).toContainEqual(expect.objectContaining({ migration: '001_accounts', check: 'emails are lowercase', ok: true, violations: 0 }));
    await db.sql`INSERT INTO accounts (email) VALUES ('Upper@X')`;
    const bad = await cli('verify', '--json');
    expect(bad.code).toBe(1);
    const failed = bad.json<{ ok: boolean; checks: { check: string; ok: boolean; violations: number; sample: { email: string }[] }[] }>().checks.find((c) => !c.ok);
    expect(failed).toMatchObject({ check: 'emails are lowercase', violations: 1, sample: [{ email: 'Upper@X' }] });
    const human = await cli('verify');
    expect(human.stdout).toContain('✗ 001_accounts: emails are lowercase — 1 violation');
    await db.sql`DELETE FROM accounts WHERE email = 'Upper@X'`;
  });

  it('PHASE --rollback reverts newest first down to the phase; re-applying restores the same schema', async () => {
    const applied = await catalogSnapshot(db.sql);
    const result = await cli('orders', '--rollback', '--yes', '--json');
    expect(result.code).toBe(0);
    expect(result.json()).toMatchObject({ reverted: ['003_order_total', '002_orders'] });
    expect((await historyRows(db.sql)).map((r) => r.name)).toEqual(['001_accounts']);
    expect((await db.sql`SELECT to_regclass('orders') AS t`)[0]!.t).toBeNull();
    expect((await cli('up')).code).toBe(0);
    expect(await catalogSnapshot(db.sql)).toBe(applied);
  });

  it('down with no target reverts only the newest migration', async () => {
    const result = await cli('down', '--json');
    expect(result.code).toBe(0);
    expect(result.json()).toMatchObject({ reverted: ['003_order_total'] });
    expect((await cli('up')).code).toBe(0);
  });

  it('an unknown phase is exit 2 and lists the known ones', async () => {
    const result = await cli('add_nothing');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('error: unknown phase "add_nothing"');
    expect(result.stderr).toContain('hint: known phases: accounts, orders, order_total');
    const json = await cli('add_nothing', '--rollback', '--json');
    expect(json.code).toBe(2);
    expect(json.json()).toEqual({ error: { code: 2, message: 'unknown phase "add_nothing"', hint: 'known phases: accounts, orders, order_total' } });
  });

  it('an unknown flag or a bad value is exit 2', async () => {
    expect((await cli('status', '--bogus')).code).toBe(2);
    const bad = await cli('status', '--lock-timeout', 'soon');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('invalid --lock-timeout "soon"');
  });
});
