/**
 * Killed runners, `import-profiles` (issue 9, SPEC §9): an import of 1,100 profiles (two batches
 * of 1,000 in one transaction) is stopped while waiting for the run lock, while waiting for its lock on
 * user_profiles, in the middle of the writes (a trigger on user_profiles calls a marker for the
 * 1,050th user) and after the last row was written (a marker for the last user, before
 * COMMIT) — killed with SIGKILL, and separately with its connection terminated. All or nothing:
 * after each, users and user_profiles are exactly as before and the lock is free; then a plain
 * import completes and `--verify` finds the database equal to the files.
 */
import fs from 'node:fs';
import path from 'node:path';
import type postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { createDatabase, dropDatabase, type TestDatabase } from '../support/database.js';
import { tempDir } from '../support/migrations.js';
import { cloneDatabase, describePoint, runLockHolders, sealTemplate, strike, type FaultMode, type KillPoint } from './support/faults.js';
import { GATE_CLASS } from './support/gates.js';
import { expectCleanEnd } from './support/kill-checks.js';

const USERS = 1100;
const externalId = (i: number) => `user_${String(i).padStart(4, '0')}`;
const userId = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;


let template: TestDatabase;
let profiles: string;

async function state(sql: postgres.Sql): Promise<string[]> {
  const rows = await sql<{ r: string }[]>`
    SELECT concat_ws('|', u.user_id, u.external_id, p.profile, p.preferences, p.patterns, p.timezone) AS r
      FROM users u LEFT JOIN user_profiles p USING (user_id) ORDER BY u.user_id`;
  return rows.map((row) => row.r);
}

beforeAll(async () => {
  template = await createDatabase('strata_kill_import_tpl');
  const applied = await runCli(['--bundled', 'up', 'user_profiles', '--yes'], { cwd: tempDir(), env: { DATABASE_URL: template.url } });
  if (applied.code !== 0) throw new Error(`bundled migrations: ${applied.stderr}`);
  await template.sql.unsafe(`
    INSERT INTO users (user_id, external_id) SELECT ('00000000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid, 'user_' || lpad(g::text, 4, '0') FROM generate_series(1, ${USERS}) g;
    CREATE FUNCTION fault_gate_profiles() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.user_id = '${userId(1050)}' THEN PERFORM pg_advisory_xact_lock_shared(${GATE_CLASS}, 401); END IF;
        IF NEW.user_id = '${userId(USERS)}' THEN PERFORM pg_advisory_xact_lock_shared(${GATE_CLASS}, 402); END IF;
        RETURN NEW;
      END $$;
    CREATE TRIGGER fault_gate_profiles BEFORE INSERT OR UPDATE ON user_profiles FOR EACH ROW EXECUTE FUNCTION fault_gate_profiles();`);
  await sealTemplate(template);
  profiles = tempDir('strata-kill-import-');
  for (let i = 1; i <= USERS; i++) {
    const dir = path.join(profiles, externalId(i));
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'profile.md'), `# Profile\n\n- **Name:** User ${i}\n- **Age:** ${20 + (i % 50)}\n\n## Goals\n\n- Walk ${i} steps\n`);
    fs.writeFileSync(path.join(dir, 'preferences.md'), `- Reminder time: 08:${String(i % 60).padStart(2, '0')}\n- Timezone: Europe/London\n`);
  }
});
afterAll(async () => {
  if (template) await dropDatabase(template);
  if (profiles) fs.rmSync(profiles, { recursive: true, force: true });
});

const CASES: { point: KillPoint; label: string }[] = [
  { point: { kind: 'runlock' }, label: 'waiting for the run lock' },
  { point: { kind: 'relation', table: 'user_profiles' }, label: 'waiting for its lock on user_profiles' },
  { point: { kind: 'gate', id: 401 }, label: 'in the middle of the writes (user 1,050 of 1,100)' },
  { point: { kind: 'gate', id: 402 }, label: 'after the last row, before COMMIT' },
];
const MODES: FaultMode[] = ['sigkill', 'terminate'];

describe('killed runners: import-profiles', () => {
  for (const mode of MODES) {
    describe(mode === 'sigkill' ? 'SIGKILL of the CLI' : 'pg_terminate_backend of its connection', () => {
      for (const c of CASES) {
        it.concurrent(`${c.label} [${describePoint(c.point)}]`, async () => {
          const db = await cloneDatabase(template.name, 'strata_kill_import');
          const cwd = tempDir('strata-kill-import-cwd-');
          try {
            const before = await state(db.sql);
            const run = ['import-profiles', profiles, '--json', '--lock-timeout', '60000', '--ddl-lock-timeout', '60000'];
            const { result } = await strike(c.point, mode, run, { db, cwd, command: 'import-profiles' });
            expectCleanEnd(result, mode);
            expect(await state(db.sql)).toEqual(before);
            expect(await runLockHolders(db.sql)).toBe(0);

            const env = { DATABASE_URL: db.url };
            const finished = await runCli(['import-profiles', profiles, '--json'], { cwd, env });
            expect(finished.code, finished.stderr).toBe(0);
            expect(finished.json<{ imported: number; errors: unknown[] }>()).toMatchObject({ imported: USERS, errors: [] });
            const verified = await runCli(['import-profiles', profiles, '--verify', '--json'], { cwd, env });
            expect(verified.code, verified.stdout).toBe(0);
          } finally {
            await dropDatabase(db);
            fs.rmSync(cwd, { recursive: true, force: true });
          }
        });
      }
    });
  }
});
