/**
 * Killed runners, `up` (issue 9): the five-migration fixture (a backfill, a no-transaction
 * CREATE INDEX CONCURRENTLY, a destructive step that backs up first) is stopped at every statement
 * boundary — a marker before each statement and after the last — plus inside both index builds,
 * at every step of the automatic backup, and while waiting for the run lock. At each point the
 * runner is killed with SIGKILL, and separately its connection is terminated by the server.
 * After each: status tells the truth, history matches the schema migration by migration, the lock
 * is free, no half-written backup looks complete, and a plain `up` (after `repair` for the cut
 * no-transaction migration) completes. The recovery run is made from every distinct post-kill state:
 * the markers of one transactional step all leave the same state (checked at each), so only its last
 * marker runs the recovery; every other point runs it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { historyRows } from '../support/catalog.js';
import { runCli } from '../support/cli.js';
import { createDatabase, dropDatabase } from '../support/database.js';
import { tempDir } from '../support/migrations.js';
import { describePoint, strike, type FaultMode, type KillPoint } from './support/faults.js';
import { markerCases, markerId, NAMES, NO_TRANSACTION, presence, writeFixture, type KillCase } from './support/fixture.js';
import { expectBackupsSound, expectCleanEnd, expectedStates, expectTruth, repairCut, type State } from './support/kill-checks.js';

const migrations = writeFixture(tempDir('strata-kill-up-'));
afterAll(() => fs.rmSync(migrations, { recursive: true, force: true }));

const marker = (migration: string, before: number) => markerId('up', migration, before);

const CASES: KillCase[] = [
  { point: { kind: 'runlock' }, cut: -1, label: 'waiting for the run lock' },
  ...markerCases('up', NAMES),
  // Inside each CREATE INDEX CONCURRENTLY: the index exists, INVALID.
  ...(['orders_account_idx', 'accounts_last_name_idx'] as const).map((index, i) => ({
    point: { kind: 'concurrently', gateBefore: marker(NO_TRANSACTION, 1 + 2 * i), holdSql: 'SELECT 1' } as KillPoint,
    cut: 3,
    label: `${NO_TRANSACTION}, inside CREATE INDEX CONCURRENTLY ${index}`,
    invalidIndex: index,
  })),
  // 005 drops a column of a table holding rows: the automatic backup, stopped between each of its file operations.
  ...['backup.mkdir', 'backup.csv.write', 'backup.csv.synced', 'backup.manifest.synced', 'backup.rename.before', 'backup.rename.after'].map((point) => ({
    point: { kind: 'failpoint', point: `${point}#1` } as KillPoint,
    cut: 4,
    label: `005_drop_full_name, automatic backup: ${point}`,
  })),
];

const MODES: FaultMode[] = ['sigkill', 'terminate'];
const allApplied = Object.fromEntries(NAMES.map((n) => [n, 'applied' as State]));

describe('killed runners: up', () => {
  it('has at least 20 kill points per mode', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(20);
  });

  for (const mode of MODES) {
    describe(mode === 'sigkill' ? 'SIGKILL of the CLI' : 'pg_terminate_backend of its connection', () => {
      for (const c of CASES) {
        it.concurrent(`${c.label} [${describePoint(c.point)}]`, async () => {
          const db = await createDatabase('strata_kill');
          const cwd = tempDir('strata-kill-up-cwd-');
          const cli = (...args: string[]) => runCli(['--migrations', migrations, ...args], { cwd, env: { DATABASE_URL: db.url } });
          try {
            const run = ['--migrations', migrations, 'up', '--yes', '--json', '--lock-timeout', '60000', '--ddl-lock-timeout', '60000'];
            const { result } = await strike(c.point, mode, run, { db, cwd, command: 'up' });
            expectCleanEnd(result, mode);

            const expected = expectedStates(NAMES, c.cut, 'pending', 'applied');
            await expectTruth(db, cli, expected);
            await expectBackupsSound(path.join(cwd, 'backups'));
            if (c.recover === false) return;

            if (expected[NO_TRANSACTION] === 'failed') await repairCut(db, cli, ['up', '--yes'], c.invalidIndex);
            const finished = await cli('up', '--yes', '--json');
            expect(finished.code, finished.stderr).toBe(0);
            expect(finished.json<{ applied: string[] }>().applied).toEqual(NAMES.filter((n) => expected[n] !== 'applied'));
            expect(Object.fromEntries((await historyRows(db.sql)).map((r) => [r.name, r.state]))).toEqual(allApplied);
            expect(Object.values(await presence(db.sql))).toEqual(NAMES.map(() => 'present'));
            const backups = await expectBackupsSound(path.join(cwd, 'backups'));
            expect(backups.complete).toBeGreaterThanOrEqual(1); // 005's, taken by the run that finished
          } finally {
            await dropDatabase(db);
            fs.rmSync(cwd, { recursive: true, force: true });
          }
        });
      }
    });
  }
});
