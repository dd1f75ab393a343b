/**
 * Killed runners, `restore` (issue 9): `migrate restore DIR --truncate --yes` replaces three tables
 * in one transaction. It is stopped while waiting for the run lock, while waiting for its table
 * locks, inside the safety backup of what --truncate empties (three file-system steps), while
 * loading the second and the third table (a CHECK constraint calls a marker), and in COMMIT (a
 * deferred foreign key waiting for a row lock) — killed with SIGKILL, and separately with its
 * connection terminated. All or nothing: after each, the three tables hold exactly their rows from
 * before, with their triggers enabled; the lock is free; every backup directory that looks complete
 * is complete; and a plain restore then completes, value for value.
 */
import fs from 'node:fs';
import path from 'node:path';
import type postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyBackup } from '../../src/backup/verify.js';
import { runCli } from '../support/cli.js';
import { createDatabase, dropDatabase, type TestDatabase } from '../support/database.js';
import { tempDir } from '../support/migrations.js';
import { cloneDatabase, describePoint, runLockHolders, sealTemplate, strike, type FaultMode, type KillPoint } from './support/faults.js';
import { GATE_CLASS } from './support/gates.js';
import { expectBackupsSound, expectCleanEnd } from './support/kill-checks.js';

const TABLES = ['r1', 'r2', 'r3'] as const;

const SCHEMA = `
  CREATE TABLE parent (id int PRIMARY KEY);
  INSERT INTO parent VALUES (1);
  -- A marker inside the load: every row of r2 / r3 passes through it.
  CREATE FUNCTION fault_gate(k int) RETURNS boolean LANGUAGE plpgsql AS $$
    BEGIN PERFORM pg_advisory_xact_lock_shared(${GATE_CLASS}, k); RETURN true; END $$;
  CREATE TABLE r1 (id serial PRIMARY KEY, v text, n numeric, tags text[]);
  CREATE TABLE r2 (id int PRIMARY KEY, r1_id int REFERENCES r1, v text CHECK (fault_gate(202)));
  CREATE TABLE r3 (id int PRIMARY KEY, parent_id int REFERENCES parent DEFERRABLE, v jsonb CHECK (fault_gate(203)));
  CREATE TABLE audit (at timestamptz DEFAULT now(), what text);
  CREATE FUNCTION audit_r1() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO audit (what) VALUES (TG_OP); RETURN NEW; END $$;
  CREATE TRIGGER r1_audit AFTER INSERT ON r1 FOR EACH ROW EXECUTE FUNCTION audit_r1();
  INSERT INTO r1 (v, n, tags) SELECT 'backup ' || g || E'\\n,"q"', g / 7.0, ARRAY['a', NULL, 'c,' || g] FROM generate_series(1, 3000) g;
  INSERT INTO r2 SELECT g, g, CASE WHEN g % 5 = 0 THEN NULL WHEN g % 5 = 1 THEN '' ELSE 'r2 ' || g END FROM generate_series(1, 2000) g;
  INSERT INTO r3 SELECT g, 1, jsonb_build_object('g', g, 's', 'é"\\') FROM generate_series(1, 1000) g;`;

/** After the backup: different rows, so "all or nothing" is visible either way. */
const LIVE_CHANGES = `
  DELETE FROM r3 WHERE id > 500; DELETE FROM r2 WHERE id > 1000; DELETE FROM r1 WHERE id > 1500;
  UPDATE r1 SET v = 'live ' || id WHERE id % 3 = 0; UPDATE r2 SET v = 'live' WHERE id % 4 = 0;
  INSERT INTO r3 SELECT g, 1, '{"live": true}' FROM generate_series(5001, 5100) g;
  TRUNCATE audit;`;

/** Every row of the three tables, as text, in order: equal snapshots are equal value for value. */
async function contents(sql: postgres.Sql): Promise<string[][]> {
  const out: string[][] = [];
  for (const table of TABLES) {
    const rows = await sql.unsafe<{ r: string }[]>(`SELECT t::text AS r FROM ${table} t ORDER BY id`);
    out.push(rows.map((row) => row.r));
  }
  return out;
}

interface Case { point: KillPoint; label: string }
const CASES: Case[] = [
  { point: { kind: 'runlock' }, label: 'waiting for the run lock' },
  { point: { kind: 'relation', table: 'r1' }, label: 'waiting for its table locks' },
  { point: { kind: 'failpoint', point: 'backup.mkdir#1' }, label: 'safety backup of what --truncate empties: directory created' },
  { point: { kind: 'failpoint', point: 'backup.csv.write#1' }, label: 'safety backup: first CSV written, not fsynced' },
  { point: { kind: 'failpoint', point: 'backup.rename.after#1' }, label: 'safety backup complete, tables not yet emptied' },
  { point: { kind: 'gate', id: 202 }, label: 'loading r2 (r1 loaded, all three emptied)' },
  { point: { kind: 'gate', id: 203 }, label: 'loading r3 (r1 and r2 loaded)' },
  { point: { kind: 'row', lockSql: 'SELECT * FROM parent WHERE id = 1 FOR UPDATE' }, label: 'in COMMIT (deferred foreign key)' },
];

const MODES: FaultMode[] = ['sigkill', 'terminate'];

let template: TestDatabase;
let backupDir: string;
let backedUp: string[][];
let live: string[][];

beforeAll(async () => {
  template = await createDatabase('strata_kill_restore_tpl');
  await template.sql.unsafe(SCHEMA);
  const root = tempDir('strata-kill-restore-');
  const made = await runCli(['backup', ...TABLES, '--out', root, '--json'], { cwd: root, env: { DATABASE_URL: template.url } });
  if (made.code !== 0) throw new Error(`backup: ${made.stderr}`);
  backupDir = path.join(root, made.json<{ dir: string }>().dir);
  backedUp = await contents(template.sql);
  await template.sql.unsafe(LIVE_CHANGES);
  live = await contents(template.sql);
  await sealTemplate(template);
});
afterAll(async () => {
  if (template) await dropDatabase(template);
  if (backupDir) fs.rmSync(path.dirname(backupDir), { recursive: true, force: true });
});

describe('killed runners: restore --truncate', () => {
  for (const mode of MODES) {
    describe(mode === 'sigkill' ? 'SIGKILL of the CLI' : 'pg_terminate_backend of its connection', () => {
      for (const c of CASES) {
        it.concurrent(`${c.label} [${describePoint(c.point)}]`, async () => {
          const db = await cloneDatabase(template.name, 'strata_kill_restore');
          const cwd = tempDir('strata-kill-restore-cwd-');
          try {
            const run = ['restore', backupDir, '--truncate', '--yes', '--json', '--lock-timeout', '60000', '--ddl-lock-timeout', '60000'];
            const { result } = await strike(c.point, mode, run, { db, cwd, command: 'restore' });
            expectCleanEnd(result, mode);

            // All or nothing: the rows from before, the trigger enabled again, no lock left.
            expect(await contents(db.sql)).toEqual(live);
            expect(await db.sql`SELECT tgenabled FROM pg_trigger WHERE tgname = 'r1_audit'`).toEqual([{ tgenabled: 'O' }]);
            expect(await db.sql`SELECT count(*)::int AS n FROM audit`).toEqual([{ n: 0 }]);
            expect(await runLockHolders(db.sql)).toBe(0);
            await expectBackupsSound(path.join(cwd, 'backups'));
            await verifyBackup(backupDir);

            const finished = await runCli(['restore', backupDir, '--truncate', '--yes', '--json'], { cwd, env: { DATABASE_URL: db.url } });
            expect(finished.code, finished.stderr).toBe(0);
            expect(await contents(db.sql)).toEqual(backedUp);
            expect(await db.sql`SELECT count(*)::int AS n FROM audit`).toEqual([{ n: 0 }]); // triggers were off during the load
            const safety = await expectBackupsSound(path.join(cwd, 'backups'));
            expect(safety.complete).toBeGreaterThanOrEqual(1);
          } finally {
            await dropDatabase(db);
            fs.rmSync(cwd, { recursive: true, force: true });
          }
        });
      }
    });
  }
});
