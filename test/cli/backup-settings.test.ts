/**
 * SPEC §6 through the CLI, in a database whose settings change COPY's text (DateStyle 'SQL, DMY',
 * TimeZone 'Asia/Kolkata', extra_float_digits 0, xmloption document; the role: IntervalStyle
 * 'sql_standard', bytea_output 'escape'): `migrate backup` and the automatic backup before a DROP
 * restore exactly into a database with default settings and into one with the same odd settings,
 * and the migration's own statements still see the user's settings after its backup.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import type { TestDatabase } from '../support/database.js';
import { tempDir, writeMigrations } from '../support/migrations.js';
import { expectSameRows, ODD_SETTINGS, setUpOddFixture, tearDownOddFixture, type OddRole } from '../support/odd-settings.js';

let role: OddRole;
let odd: TestDatabase;
let oddTarget: TestDatabase;
let plain: TestDatabase;
let original: Record<string, unknown>[];

beforeAll(async () => {
  ({ role, odd, oddTarget, plain, original } = await setUpOddFixture());
});

afterAll(async () => {
  await tearDownOddFixture({ role, plain });
});

describe('backups of a database with odd settings', () => {
  const cwd = tempDir('strata-settings-');
  const cli = (url: string, ...args: string[]) => runCli(args, { cwd, env: { DATABASE_URL: url } });

  async function restoreEverywhere(dir: string): Promise<void> {
    for (const target of [plain, oddTarget]) {
      await target.sql.unsafe('TRUNCATE vals');
      const restored = await cli(target.url, 'restore', dir, '--json');
      expect(restored.code, restored.stderr).toBe(0);
      await expectSameRows(target.sql, original);
    }
  }

  it('migrate backup restores exactly into default and odd settings', async () => {
    const result = await cli(odd.url, 'backup', 'vals', '--json');
    expect(result.code, result.stderr).toBe(0);
    const dir = result.json<{ dir: string }>().dir;
    const csv = fs.readFileSync(path.join(cwd, dir, 'public.vals.csv'), 'utf8');
    expect(csv).toContain('0.30000000000000004');
    expect(csv).toContain('2024-01-02 03:04:05.678+00');
    await restoreEverywhere(dir);
  });

  it('the automatic backup before a DROP restores exactly, and the migration still sees the user\'s settings after it', async () => {
    const migrations = writeMigrations({
      '001_drop_vals': {
        up: `DROP TABLE vals;
CREATE TABLE seen AS SELECT current_setting('DateStyle') AS date_style, current_setting('extra_float_digits') AS extra_float_digits,
  current_setting('TimeZone') AS time_zone, current_setting('IntervalStyle') AS interval_style,
  current_setting('bytea_output') AS bytea_output, current_setting('xmloption') AS xmloption;
`,
      },
    });
    const result = await cli(odd.url, '--migrations', migrations, 'up', '--yes', '--json');
    expect(result.code, result.stderr).toBe(0);
    const backups = result.json<{ backups: string[] }>().backups;
    expect(backups).toHaveLength(1);
    const [seen] = await odd.sql`SELECT * FROM seen`;
    expect(seen).toEqual({
      date_style: ODD_SETTINGS.DateStyle, extra_float_digits: ODD_SETTINGS.extra_float_digits, time_zone: ODD_SETTINGS.TimeZone,
      interval_style: ODD_SETTINGS.IntervalStyle, bytea_output: ODD_SETTINGS.bytea_output, xmloption: ODD_SETTINGS.xmloption,
    });
    await restoreEverywhere(backups[0] as string);
  });
});
