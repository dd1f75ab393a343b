/**
 * The command line itself (SPEC §5 exit 2): flags that do not apply to the command given, numeric
 * flags out of range, no command at all, paths of the wrong kind — refused before anything
 * connects or runs, in one line (plus a hint), and as the one JSON document with --json.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { historyRows } from '../support/catalog.js';
import { runCli, type CliResult } from '../support/cli.js';
import { useDatabase } from '../support/database.js';
import { tempDir, writeMigrations } from '../support/migrations.js';

const db = useDatabase();
const dir = writeMigrations({
  '001_init': { up: 'CREATE TABLE people (id int);\n', down: 'DROP TABLE people;\n' },
  '002_more': { up: 'CREATE TABLE pets (id int);\n', down: 'DROP TABLE pets;\n' },
});
const cli = (...args: string[]) => runCli(['--migrations', dir, ...args], { env: { DATABASE_URL: db.current.url } });

/** The history table does not exist: nothing was run, not even the CREATE of history. */
async function nothingRan(): Promise<void> {
  const [row] = await db.current.sql<{ t: string | null }[]>`SELECT to_regclass('public.schema_migrations')::text AS t`;
  expect(row?.t).toBeNull();
}

/** Exit 2 with exactly one error line and (optionally) one hint line on stderr, nothing on stdout. */
function expectUsage(result: CliResult, message: string, hint?: string): void {
  expect(result.code).toBe(2);
  expect(result.stdout).toBe('');
  const lines = result.stderr.trimEnd().split('\n');
  expect(lines[0]).toBe(`error: ${message}`);
  if (hint !== undefined) expect(lines.slice(1)).toEqual([`hint: ${hint}`]);
  else expect(lines.slice(1).every((line) => line.startsWith('hint: ')) && lines.length <= 2).toBe(true);
}

describe('a flag that does not apply to the command is exit 2, naming both', () => {
  it('up TARGET --rollback neither applies nor reverts, and says how to revert', async () => {
    expectUsage(await cli('up', 'init', '--rollback'), '--rollback does not apply to migrate up', 'to revert, use migrate init --rollback or migrate down init');
    expectUsage(await cli('up', '--rollback'), '--rollback does not apply to migrate up', 'to revert, use migrate down (the newest migration) or migrate PHASE --rollback');
    expectUsage(await cli('--rollback', 'down', 'init'), '--rollback does not apply to migrate down', 'migrate down reverts already: drop --rollback');
    await nothingRan();
  });

  it.each([
    [['status', '--dry-run'], '--dry-run', 'status'],
    [['status', '--rollback'], '--rollback', 'status'],
    [['--no-backup', 'status'], '--no-backup', 'status'],
    [['verify', '--rollback'], '--rollback', 'verify'],
    [['verify', '--dry-run'], '--dry-run', 'verify'],
    [['plan', '--dry-run'], '--dry-run', 'plan'],
    [['check', '--allow-changed'], '--allow-changed', 'check'],
    [['repair', '001_init', '--dry-run'], '--dry-run', 'repair'],
    [['backup', 'people', '--rollback'], '--rollback', 'backup'],
    [['restore', 'x', '--dry-run'], '--dry-run', 'restore'],
    [['import-profiles', 'x', '--no-backup'], '--no-backup', 'import-profiles'],
    [['baseline', 'init', '--allow-changed'], '--allow-changed', 'baseline'],
    [['db', 'status', '--dry-run'], '--dry-run', 'db'],
  ])('%j', async (args, flag, command) => {
    const result = await cli(...args);
    expectUsage(result, `${flag} does not apply to migrate ${command}`);
    expect(result.stderr).toMatch(new RegExp(`^hint: ${flag} applies to: migrate PHASE`, 'm'));
    const json = await cli(...args, '--json');
    expect(json.code).toBe(2);
    expect(json.json()).toEqual({ error: { code: 2, message: `${flag} does not apply to migrate ${command}`, hint: expect.stringContaining(`${flag} applies to:`) } });
    await nothingRan();
  });

  it("another command's own option is named as such", async () => {
    expectUsage(await cli('status', '--truncate'), '--truncate does not apply to migrate status', '--truncate is an option of migrate restore');
    expectUsage(await cli('init', '--out', 'x'), '--out does not apply to migrate PHASE', '--out is an option of migrate backup');
    expectUsage(await cli('up', '--skip-invalid'), '--skip-invalid does not apply to migrate up', '--skip-invalid is an option of migrate import-profiles');
    // An option no command has stays commander's "unknown option".
    expect((await cli('status', '--frobnicate')).stderr).toMatch(/^error: unknown option '--frobnicate'/);
    await nothingRan();
  });

  it('the flags that apply still work: PHASE --rollback, up --dry-run, plan --rollback, settings everywhere', async () => {
    const dry = await cli('up', '--dry-run', '--json');
    expect(dry.code).toBe(0);
    await nothingRan();
    expect((await cli('more', '--yes')).code).toBe(0);
    const plan = await cli('plan', 'init', '--rollback', '--json');
    expect(plan.code).toBe(0);
    expect(plan.json<{ direction: string; steps: { name: string }[] }>()).toMatchObject({ direction: 'down', steps: [{ name: '002_more' }, { name: '001_init' }] });
    // Settings (--backup-dir, --assume-timezone) and the SPEC's global options apply to every command.
    expect((await cli('status', '--backup-dir', tempDir(), '--assume-timezone', 'UTC', '--yes')).code).toBe(0);
    expect((await cli('verify', '--backup-dir', tempDir())).code).toBe(0);
    const rollback = await cli('init', '--rollback', '--yes', '--json');
    expect(rollback.code).toBe(0);
    expect(rollback.json<{ reverted: string[] }>().reverted).toEqual(['002_more', '001_init']);
    expect(await historyRows(db.current.sql)).toEqual([]);
    await db.current.sql`DROP TABLE schema_migrations`;
  });
});

describe('numeric flags are range-checked before connecting', () => {
  it.each([
    ['--statement-timeout', '99999999999999', 'milliseconds from 0 to 2147483647'],
    ['--ddl-lock-timeout', '99999999999999', 'milliseconds from 0 to 2147483647'],
    ['--ddl-lock-timeout', '2147483648', 'milliseconds from 0 to 2147483647'],
    ['--lock-timeout', '1e3', 'milliseconds from 0 to 2147483647'],
    ['--connect-timeout', '3000000', 'seconds from 0 to 2147483'],
    ['--connect-timeout', '-1', 'seconds from 0 to 2147483'],
    ['--retries', '11', 'a whole number from 0 to 10'],
    ['--retries', '1.5', 'a whole number from 0 to 10'],
  ])('%s %s', async (flag, value, expected) => {
    const result = await cli('up', `${flag}=${value}`);
    expectUsage(result, `invalid ${flag} "${value}": expected ${expected}`);
    expect(result.stderr).not.toContain('TimeoutOverflowWarning');
    await nothingRan();
  });

  it('the limits themselves are accepted: PostgreSQL takes them, and the timer fits', async () => {
    const result = await cli('up', '--dry-run', '--json', '--statement-timeout', '2147483647', '--ddl-lock-timeout', '2147483647',
      '--lock-timeout', '2147483647', '--connect-timeout', '2147483', '--retries', '10');
    expect(result.code).toBe(0);
    expect(result.stderr).not.toContain('Warning');
    // 0 is PostgreSQL's "no limit" for the two timeouts, "do not wait" for the run lock, and libpq's "no limit" for connecting.
    expect((await cli('status', '--statement-timeout', '0', '--ddl-lock-timeout', '0', '--lock-timeout', '0', '--connect-timeout', '0')).code).toBe(0);
  });

  it('backup --jobs and demo --users take whole numbers only', async () => {
    expectUsage(await cli('backup', 'people', '--jobs', '0x4'), 'invalid --jobs "0x4": expected a whole number from 1 to 32');
    expectUsage(await cli('backup', 'people', '--jobs', '33'), 'invalid --jobs "33": expected a whole number from 1 to 32');
    expectUsage(await cli('demo', '--users', '1e3'), 'invalid --users "1e3": expected a whole number from 1 to 1000000');
  });
});

describe('usage errors of their own', () => {
  it('--json with no command prints the JSON error document on stdout; without --json, help on stderr', async () => {
    const json = await runCli(['--json']);
    expect(json.code).toBe(2);
    expect(json.json()).toEqual({ error: { code: 2, message: 'no command or phase given', hint: 'see migrate --help' } });
    expect(json.stderr).toBe('');
    const human = await runCli([]);
    expect(human.code).toBe(2);
    expect(human.stdout).toBe('');
    expect(human.stderr).toContain('Usage: migrate');
  });

  it('--migrations naming a file says it is not a directory; ./migrations too', async () => {
    const file = path.join(tempDir(), 'not-a-dir.sql');
    fs.writeFileSync(file, 'SELECT 1;');
    expectUsage(await runCli(['--migrations', file, 'status'], { env: { DATABASE_URL: db.current.url } }),
      `migrations directory ${file} is not a directory`, 'pass the directory that holds the NNN_name migrations');
    const missing = path.join(tempDir(), 'nope');
    expectUsage(await runCli(['--migrations', missing, 'up'], { env: { DATABASE_URL: db.current.url } }), `migrations directory ${missing} does not exist`);
    const cwd = tempDir();
    fs.writeFileSync(path.join(cwd, 'migrations'), '');
    expectUsage(await runCli(['up'], { cwd, env: { DATABASE_URL: db.current.url } }), 'migrations directory ./migrations is not a directory');
    await nothingRan();
  });

  it('restore of a missing directory or a file is exit 2 before connecting; an invalid backup directory stays exit 5', async () => {
    const missing = path.join(tempDir(), 'no-such-backup');
    // No database at all: the argument is checked first.
    const noDb = await runCli(['restore', missing, '-d', 'postgres://u:pw@127.0.0.1:1/db']);
    expectUsage(noDb, `backup directory ${missing} does not exist`);
    const json = await runCli(['restore', missing, '--json', '-d', 'postgres://u:pw@127.0.0.1:1/db']);
    expect(json.json<{ error: { code: number } }>().error.code).toBe(2);
    const file = path.join(tempDir(), 'manifest.json');
    fs.writeFileSync(file, '{}');
    expectUsage(await cli('restore', file), `${file} is not a directory`, 'pass the backup directory, the one that holds manifest.json');
    const empty = tempDir();
    expect((await cli('restore', empty)).code).toBe(5);
  });
});

describe('which migrations: an explicit choice wins and is said', () => {
  it('--bundled where ./migrations exists warns and uses the bundled set; --migrations with --bundled is exit 2', async () => {
    const cwd = tempDir('strata-which-');
    fs.mkdirSync(path.join(cwd, 'migrations', '001_local'), { recursive: true });
    fs.writeFileSync(path.join(cwd, 'migrations', '001_local', 'up.sql'), 'SELECT 1;\n');
    const env = { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' };
    const plan = await runCli(['--bundled', 'plan', '--json'], { cwd, env: {} });
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stderr).toContain('using the bundled coaching schema (--bundled); ./migrations is not used');
    expect(plan.stdout).toContain('001_mvp');
    const both = await runCli(['--bundled', '--migrations', 'migrations', 'status'], { cwd, env });
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--migrations and --bundled name two different migration sets');
  });
});
