/**
 * A reader that goes away (`migrate up | head -1`) is no failure of the run: strata drops the rest
 * of its output, finishes the work and exits as it would have.
 */
import { describe, expect, it } from 'vitest';
import { historyRows } from '../support/catalog.js';
import { startCli } from '../support/cli.js';
import { withTestDatabase } from '../support/database.js';
import { writeMigrations } from '../support/migrations.js';

describe('stdout closed by its reader', () => {
  it('up still applies everything and exits 0; status exits 0 without a stack trace', () => withTestDatabase(async (db) => {
    const dir = writeMigrations(Object.fromEntries(Array.from({ length: 60 }, (_, i) => [
      `${String(i + 1).padStart(3, '0')}_t${i + 1}`, { up: `CREATE TABLE t${i + 1} (id int);\n` },
    ])));
    for (const args of [['up'], ['status'], ['status', '--json']]) {
      const run = startCli(['--migrations', dir, ...args], { env: { DATABASE_URL: db.url } });
      // Close our end of the pipe at the first byte, like `head -c 1`.
      run.child.stdout!.once('data', () => run.child.stdout!.destroy());
      const result = await run.done;
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(0);
      expect(result.stderr).not.toMatch(/EPIPE|Error:|at /);
    }
    expect(await historyRows(db.sql)).toHaveLength(60);
  }));
});
