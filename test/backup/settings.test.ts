/**
 * SPEC §6 "a restored table is equal, value for value": whatever DateStyle, TimeZone,
 * extra_float_digits, IntervalStyle, bytea_output or xmloption the database, the role or the
 * session has, backups are written with fixed settings and restores parse with the same.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupInTransaction, createBackup, restoreBackup } from '../../src/backup/index.js';
import type { TestDatabase } from '../support/database.js';
import { expectSameRows, ODD_SETTINGS, setUpOddFixture, tearDownOddFixture, type OddRole } from '../support/odd-settings.js';
import { backupOptions, tempDir } from './helpers.js';

let role: OddRole;
let odd: TestDatabase;
let oddTarget: TestDatabase;
let plain: TestDatabase;
let original: Record<string, unknown>[];

const SETTING_NAMES = Object.keys(ODD_SETTINGS);
async function settingsOf(sql: postgres.Sql | postgres.ReservedSql): Promise<Record<string, string>> {
  const rows = await sql<{ name: string; value: string }[]>`
    SELECT n AS name, current_setting(n) AS value FROM unnest(${SETTING_NAMES}::text[]) AS n`;
  return Object.fromEntries(rows.map((r) => [r.name, r.value]));
}

beforeAll(async () => {
  ({ role, odd, oddTarget, plain, original } = await setUpOddFixture(['vals', 'vals2']));
});

afterAll(async () => {
  await tearDownOddFixture({ role, plain });
});

describe('backups under odd session settings', () => {
  it('the fixture really has the odd settings (database- and role-level)', async () => {
    expect(await settingsOf(odd.sql)).toEqual(ODD_SETTINGS);
    // …and they garble COPY's text: what the backup must not depend on.
    const [row] = await odd.sql<{ f8: string; tstz: string }[]>`SELECT f8::text, tstz::text FROM vals WHERE id = 1`;
    expect(row).toEqual({ f8: '0.3', tstz: '02/01/2024 08:34:05.678 IST' });
  });

  it('migrate backup (parallel connections) writes exact, unambiguous text and records its settings', async () => {
    const connect = async () => postgres(odd.url, { max: 1, onnotice: () => {} });
    const { dir, manifest } = await createBackup(odd.sql, ['vals', 'vals2'], { ...backupOptions(await tempDir()), connect, jobs: 2 });
    expect(manifest.copySettings).toMatchObject({ DateStyle: 'ISO, YMD', TimeZone: 'UTC', extra_float_digits: '3', IntervalStyle: 'postgres', bytea_output: 'hex' });
    for (const file of ['public.vals.csv', 'public.vals2.csv']) {
      const text = await fs.readFile(path.join(dir, file), 'utf8');
      expect(text).toContain('0.30000000000000004');
      expect(text).toContain('2024-01-02 03:04:05.678+00');
      expect(text).toContain(',2024-01-02,');
      expect(text).toContain('1 year 2 mons -3 days +04:05:06.789');
      expect(text).toContain('\\x00ff5c27');
    }
    for (const target of [plain, oddTarget]) {
      await target.sql.unsafe('TRUNCATE vals, vals2');
      await restoreBackup(target.sql, dir);
      await expectSameRows(target.sql, original);
      await expectSameRows(target.sql, original, 'vals2');
    }
    // The restore's settings were its transaction's only.
    expect(await settingsOf(oddTarget.sql)).toEqual(ODD_SETTINGS);
  });

  it('the automatic backup in the caller\'s transaction gives it back its own settings, SET LOCAL and SET alike', async () => {
    const tx = await odd.sql.reserve();
    let dir: string | undefined;
    try {
      await tx.unsafe('BEGIN');
      await tx.unsafe(`SET LOCAL TimeZone = 'America/St_Johns'`);
      await tx.unsafe(`SET DateStyle = 'German'`); // session-level, inside the transaction
      const { backup } = await backupInTransaction(tx, ['vals'], backupOptions(await tempDir()));
      dir = backup?.dir;
      expect(await settingsOf(tx)).toEqual({ ...ODD_SETTINGS, TimeZone: 'America/St_Johns', DateStyle: 'German, DMY' });
      await tx.unsafe('COMMIT');
      // After COMMIT: the SET LOCAL is gone, the SET stays, as if no backup had run in between.
      expect(await settingsOf(tx)).toEqual({ ...ODD_SETTINGS, DateStyle: 'German, DMY' });
    } finally {
      await tx.unsafe('ROLLBACK').catch(() => undefined); // a failed expectation must not hand back an open transaction
      await tx.unsafe('RESET DateStyle').catch(() => undefined);
      tx.release();
    }
    expect(dir).toBeDefined();
    await plain.sql.unsafe('TRUNCATE vals');
    await restoreBackup(plain.sql, dir as string);
    await expectSameRows(plain.sql, original);
  });

  it('refuses a manifest whose recorded settings differ from the ones restores parse with (exit 5, nothing loaded)', async () => {
    const { dir } = await createBackup(odd.sql, ['vals'], backupOptions(await tempDir()));
    const file = path.join(dir, 'manifest.json');
    const manifest = JSON.parse(await fs.readFile(file, 'utf8')) as { copySettings: Record<string, string> };
    manifest.copySettings.DateStyle = 'SQL, DMY';
    await fs.writeFile(file, JSON.stringify(manifest));
    await plain.sql.unsafe('TRUNCATE vals');
    await expect(restoreBackup(plain.sql, dir)).rejects.toMatchObject({ exitCode: 5, message: expect.stringMatching(/DateStyle "SQL, DMY" \(expected "ISO, YMD"\)/) });
    expect(await plain.sql`SELECT 1 FROM vals`).toHaveLength(0);
  });

  it('reads a manifest written before row_security was fixed (the setting absent): it changes no text', async () => {
    const { dir } = await createBackup(odd.sql, ['vals'], backupOptions(await tempDir()));
    const file = path.join(dir, 'manifest.json');
    const manifest = JSON.parse(await fs.readFile(file, 'utf8')) as { copySettings: Record<string, string> };
    delete manifest.copySettings.row_security;
    await fs.writeFile(file, JSON.stringify(manifest));
    await plain.sql.unsafe('TRUNCATE vals');
    await restoreBackup(plain.sql, dir);
    await expectSameRows(plain.sql, original);
  });
});
