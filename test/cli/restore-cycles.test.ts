/**
 * SPEC §6 through the CLI: `migrate restore` of two tables whose foreign keys reference each other
 * (not DEFERRABLE) loads them with the forward key unchecked and checks every row before COMMIT;
 * a row that breaks it is exit 1 with nothing loaded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { createDatabase, dropDatabase, type TestDatabase } from '../support/database.js';
import { tempDir } from '../support/migrations.js';

let db: TestDatabase;
beforeAll(async () => { db = await createDatabase(); });
afterAll(async () => { await dropDatabase(db); });

const rows = async () => [
  [...await db.sql`SELECT id, y_id FROM cx ORDER BY id`].map((r) => ({ ...r })),
  [...await db.sql`SELECT id, x_id FROM cy ORDER BY id`].map((r) => ({ ...r })),
];

describe('migrate restore of a foreign-key cycle', () => {
  const cwd = tempDir('strata-cycle-');
  const cli = (...args: string[]) => runCli(args, { cwd, env: { DATABASE_URL: db.url } });

  it('restores it (exit 0) and says which key it checked itself; a dangling reference is exit 1, nothing loaded', async () => {
    await db.sql.unsafe(`CREATE TABLE cx (id int PRIMARY KEY, y_id int);
      CREATE TABLE cy (id int PRIMARY KEY, x_id int REFERENCES cx);
      INSERT INTO cx VALUES (1, NULL), (2, NULL); INSERT INTO cy VALUES (10, 1), (20, 2), (30, NULL);
      UPDATE cx SET y_id = 10 WHERE id = 1; UPDATE cx SET y_id = 30 WHERE id = 2;
      INSERT INTO cx VALUES (3, 77);`);
    const bad = (await cli('backup', 'cx', 'cy', '--json')).json<{ dir: string }>().dir;
    await db.sql.unsafe('DELETE FROM cx WHERE id = 3');
    const before = await rows();
    const good = (await cli('backup', 'cx', 'cy', '--json')).json<{ dir: string }>().dir;
    await db.sql.unsafe('TRUNCATE cx, cy; ALTER TABLE cx ADD CONSTRAINT cx_y_id_fkey FOREIGN KEY (y_id) REFERENCES cy');

    const refused = await cli('restore', bad);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/1 row of public\.cx violates foreign key cx_y_id_fkey, e\.g\. key \(y_id\)=\(77\) is not present in public\.cy; nothing was loaded/);
    expect(await rows()).toEqual([[], []]);

    const restored = await cli('restore', good, '--json');
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.json<{ foreignKeysChecked: string[] }>().foreignKeysChecked).toEqual(['public.cx.cx_y_id_fkey']);
    expect(await rows()).toEqual(before);

    await db.sql.unsafe('TRUNCATE cx, cy');
    const human = await cli('restore', good);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain('reference cycle: public.cx.cx_y_id_fkey loaded with the check off, then every row checked before COMMIT');
  });
});
