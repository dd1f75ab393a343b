/**
 * A database whose DateStyle is not ISO (`ALTER DATABASE … SET DateStyle = 'SQL, DMY'`): the server
 * writes timestamps as `24/11/2026 00:58:54.680117 IST`, which the driver's `new Date(text)` cannot
 * read. strata reads its own timestamps as epoch milliseconds, and leaves such text of the user's
 * data as the server wrote it: `status` once printed `appliedAt: null` (JSON) or crashed with
 * "Invalid time value", and verify samples showed null.
 */
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { withTestDatabase } from '../support/database.js';
import { writeMigrations } from '../support/migrations.js';

describe('a database with a non-ISO DateStyle', () => {
  it('status shows the right instants, human and JSON; a verify sample keeps the server\'s text', () => withTestDatabase(async (db) => {
    const name = (await db.sql<{ d: string }[]>`SELECT current_database() AS d`)[0]!.d;
    await db.sql.unsafe(`ALTER DATABASE "${name}" SET DateStyle = 'SQL, DMY'; ALTER DATABASE "${name}" SET TimeZone = 'Asia/Kolkata'`);
    const dir = writeMigrations({
      '001_events': { up: "CREATE TABLE events (at timestamptz);\nINSERT INTO events VALUES ('2024-01-02 03:04:05+00');\n", verify: '-- check: no events\nSELECT at FROM events;\n' },
    });
    const cli = (...args: string[]) => runCli(['--migrations', dir, ...args], { env: { DATABASE_URL: db.url } });
    expect((await cli('up')).code).toBe(0);
    const [row] = await db.sql<{ ms: number }[]>`SELECT round(extract(epoch FROM applied_at) * 1000)::float8 AS ms FROM schema_migrations`;

    const json = await cli('status', '--json');
    expect(json.code, json.stderr).toBe(0);
    expect(json.json<{ migrations: { appliedAt: string | null }[] }>().migrations[0]!.appliedAt).toBe(new Date(row!.ms).toISOString());
    const human = await cli('status');
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain(new Date(row!.ms).toISOString().slice(0, 19).replace('T', ' '));

    const verify = await cli('verify', '--json');
    expect(verify.code).toBe(1);
    const sample = verify.json<{ checks: { check: string; sample: Record<string, unknown>[] }[] }>().checks.find((c) => c.check === 'no events')!.sample;
    expect(sample).toEqual([{ at: '02/01/2024 08:34:05 IST' }]);
  }));
});
