/**
 * Killed runners, `down` (issue 9): a full rollback of the five-migration fixture, stopped at every
 * statement boundary of every down.sql, inside a DROP INDEX CONCURRENTLY, at every step of the
 * first automatic backup (003's DROP COLUMN) and in the middle of the later ones (002's DROP TABLE,
 * 001's DROP TABLE), and while waiting for the run lock — killed with SIGKILL, and separately with
 * its connection terminated by the server. After each: status tells the truth, history matches the
 * schema, the lock is free, every backup directory that looks complete is complete, the tables the
 * cut step was dropping still hold every row, and a plain `down` (after `repair` for the cut
 * no-transaction migration) completes — run from every distinct post-kill state (see killed-up).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { historyRows } from '../support/catalog.js';
import { runCli } from '../support/cli.js';
import { createDatabase, dropDatabase, type TestDatabase } from '../support/database.js';
import { tempDir } from '../support/migrations.js';
import { cloneDatabase, describePoint, sealTemplate, strike, type FaultMode, type KillPoint } from './support/faults.js';
import { markerCases, markerId, NAMES, NO_TRANSACTION, presence, writeFixture, type KillCase } from './support/fixture.js';
import { expectBackupsSound, expectCleanEnd, expectedStates, expectTruth, repairCut } from './support/kill-checks.js';

const migrations = writeFixture(tempDir('strata-kill-down-'));
const ORDER = [...NAMES].reverse();

const marker = (migration: string, before: number) => markerId('down', migration, before);

const CASES: KillCase[] = [
  { point: { kind: 'runlock' }, cut: -1, label: 'waiting for the run lock' },
  ...markerCases('down', ORDER),
  // DROP INDEX CONCURRENTLY marks the index INVALID, then waits for transactions using the table.
  {
    point: { kind: 'concurrently', gateBefore: marker(NO_TRANSACTION, 0), holdSql: 'SELECT 1 FROM accounts LIMIT 1' },
    cut: 1,
    label: `${NO_TRANSACTION} down, inside DROP INDEX CONCURRENTLY accounts_last_name_idx`,
    invalidIndex: 'accounts_last_name_idx',
  },
  ...['backup.mkdir', 'backup.csv.write', 'backup.csv.synced', 'backup.manifest.synced', 'backup.rename.before', 'backup.rename.after'].map((point) => ({
    point: { kind: 'failpoint', point: `${point}#1` } as KillPoint,
    cut: 2,
    label: `003_split_names down, automatic backup of accounts: ${point}`,
  })),
  { point: { kind: 'failpoint', point: 'backup.csv.write#2' }, cut: 3, label: '002_orders down, automatic backup of orders: backup.csv.write' },
  { point: { kind: 'failpoint', point: 'backup.csv.write#3' }, cut: 4, label: '001_accounts down, automatic backup of accounts: backup.csv.write' },
];

const MODES: FaultMode[] = ['sigkill', 'terminate'];

let template: TestDatabase;
beforeAll(async () => {
  template = await createDatabase('strata_kill_down_tpl');
  const applied = await runCli(['--migrations', migrations, 'up', '--yes'], { cwd: tempDir(), env: { DATABASE_URL: template.url } });
  if (applied.code !== 0) throw new Error(`template: ${applied.stderr}`);
  await sealTemplate(template);
});
afterAll(async () => {
  if (template) await dropDatabase(template);
  fs.rmSync(migrations, { recursive: true, force: true });
});

describe('killed runners: down', () => {
  it('has at least 20 kill points per mode', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(20);
  });

  for (const mode of MODES) {
    describe(mode === 'sigkill' ? 'SIGKILL of the CLI' : 'pg_terminate_backend of its connection', () => {
      for (const c of CASES) {
        it.concurrent(`${c.label} [${describePoint(c.point)}]`, async () => {
          const db = await cloneDatabase(template.name, 'strata_kill_down');
          const cwd = tempDir('strata-kill-down-cwd-');
          const cli = (...args: string[]) => runCli(['--migrations', migrations, ...args], { cwd, env: { DATABASE_URL: db.url } });
          try {
            const run = ['--migrations', migrations, 'down', '001', '--yes', '--json', '--lock-timeout', '60000', '--ddl-lock-timeout', '60000'];
            const { result } = await strike(c.point, mode, run, { db, cwd, command: 'down' });
            expectCleanEnd(result, mode);

            const expected = expectedStates(ORDER, c.cut, 'applied', 'pending');
            await expectTruth(db, cli, expected);
            await expectBackupsSound(path.join(cwd, 'backups'));
            if (c.recover === false) return;

            if (expected[NO_TRANSACTION] === 'failed') await repairCut(db, cli, ['down', '001', '--yes'], c.invalidIndex);
            const finished = await cli('down', '001', '--yes', '--json');
            expect(finished.code, finished.stderr).toBe(0);
            expect(finished.json<{ reverted: string[] }>().reverted).toEqual(ORDER.filter((n) => expected[n] === 'applied'));
            expect(await historyRows(db.sql)).toEqual([]);
            expect(Object.values(await presence(db.sql))).toEqual(NAMES.map(() => 'absent'));
            const backups = await expectBackupsSound(path.join(cwd, 'backups'));
            expect(backups.complete).toBeGreaterThanOrEqual(1); // 001's DROP TABLE accounts at least
          } finally {
            await dropDatabase(db);
            fs.rmSync(cwd, { recursive: true, force: true });
          }
        });
      }
    });
  }
});
