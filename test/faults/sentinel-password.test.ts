/**
 * One guard over the CLI (issue 9, SPEC §2): a role whose password is a sentinel runs a battery of
 * commands — status, plan, dry runs, up with an automatic backup, verify (passing and failing),
 * check, backup, restore --truncate, down with -v, a failing migration with -v, a failed
 * no-transaction migration and its repair, a lock timeout, import-profiles on a database without
 * its tables, a corrupted backup, and the connection errors (wrong password, unknown database,
 * unknown host, refused port, malformed URL, password in the query string, libpq variables) — and
 * the sentinel must appear in no stdout, no stderr, no JSON document and no file written (backup
 * manifests and data files). `migrate db url` is the one documented exception and is not run.
 *
 * The password holds `@ : / % ?` so that its URL-encoded form differs from the raw one; the check
 * looks for its distinctive core, which both forms contain.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lockKeyFor } from '../../src/core/lock.js';
import { parseDatabaseUrl } from '../../src/db/url.js';
import { runCli, type CliResult } from '../support/cli.js';
import { adminUrl } from '../support/database.js';
import { tempDir, writeMigrations } from '../support/migrations.js';

const CORE = `S3ntinel${randomBytes(6).toString('hex')}`;
const PASSWORD = `${CORE}-p@ss:w/rd%?`;
const WRONG = `${CORE}-WRONG`;
/** What must never be printed: the core (in every encoding) and the tail after the `@` (what a loose redaction cut at the wrong `@` would show). */
const SECRETS = [CORE, 'ss:w/rd'];
const ROLE = `strata_sentinel_${randomBytes(4).toString('hex')}`;
const DATABASE = `${ROLE}_db`;

const { host, port } = parseDatabaseUrl(adminUrl());
const url = (password = PASSWORD, database = DATABASE, h = host, p: number | string = port) =>
  `postgres://${ROLE}:${encodeURIComponent(password)}@${h}:${p}/${database}`;

let admin: postgres.Sql;
let roleReady = false;
const cwd = tempDir('strata-sentinel-');
const transcript: { label: string; result: CliResult }[] = [];

const good = writeMigrations({
  '001_people': {
    up: "CREATE TABLE people (id int PRIMARY KEY, name text);\nINSERT INTO people VALUES (1, 'Ada'), (2, 'Grace'), (3, NULL);\n",
    down: 'DROP TABLE people;\n',
    verify: '-- check: ids are positive\nSELECT id FROM people WHERE id <= 0;\n',
  },
  '002_drop_name': { up: 'ALTER TABLE people DROP COLUMN name;\n', down: 'ALTER TABLE people ADD COLUMN name text;\n' },
  '003_index': { up: '-- strata: no-transaction\nCREATE INDEX CONCURRENTLY people_id_idx ON people (id);\n', down: '-- strata: no-transaction\nDROP INDEX CONCURRENTLY people_id_idx;\n' },
});
const broken = writeMigrations({ '004_broken': { up: 'SELECT * FROM no_such_table;\n', down: 'SELECT 1;\n' } }, fs.mkdtempSync(path.join(cwd, 'broken-')));
// A migration whose error message quotes the password (a literal it casts), as a careless migration might.
const quoting = writeMigrations({ '004_quotes_it': { up: `SELECT '${PASSWORD.replace(/'/g, "''")}'::int;\n` } }, fs.mkdtempSync(path.join(cwd, 'quoting-')));
const brokenNoTx = writeMigrations({ '004_broken_index': { up: '-- strata: no-transaction\nCREATE INDEX CONCURRENTLY x_idx ON no_such_table (id);\n', down: 'SELECT 1;\n' } }, fs.mkdtempSync(path.join(cwd, 'nt-')));
for (const name of fs.readdirSync(good)) {
  fs.cpSync(path.join(good, name), path.join(quoting, name), { recursive: true });
  fs.cpSync(path.join(good, name), path.join(broken, name), { recursive: true });
  fs.cpSync(path.join(good, name), path.join(brokenNoTx, name), { recursive: true });
}

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port: free } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return free;
}

/** Runs the CLI as the sentinel role and keeps the transcript. */
async function cli(label: string, expected: number, args: string[], env: Record<string, string> = { DATABASE_URL: url() }): Promise<CliResult> {
  const result = await runCli(args, { cwd, env });
  transcript.push({ label, result });
  expect(result.code, `${label}: exit ${String(result.code)}\n${result.stdout}\n${result.stderr}`).toBe(expected);
  return result;
}

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    return e.isDirectory() ? filesUnder(full) : e.isFile() ? [full] : [];
  });
}

beforeAll(async () => {
  admin = postgres(adminUrl(), { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`CREATE ROLE ${ROLE} LOGIN CREATEDB PASSWORD '${PASSWORD.replace(/'/g, "''")}'`);
    await admin.unsafe(`CREATE DATABASE ${DATABASE} OWNER ${ROLE} TEMPLATE template0`);
    roleReady = true;
  } catch (error) {
    console.warn(`sentinel role not created (${(error as Error).message}): the guard is skipped`);
  }
});
afterAll(async () => {
  if (roleReady) {
    await admin.unsafe(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
    await admin.unsafe(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '${ROLE}'`);
    for (const row of await admin<{ datname: string }[]>`SELECT datname FROM pg_database WHERE datdba = (SELECT oid FROM pg_roles WHERE rolname = ${ROLE})`) {
      await admin.unsafe(`DROP DATABASE IF EXISTS "${row.datname}" WITH (FORCE)`);
    }
    await admin.unsafe(`DROP ROLE IF EXISTS ${ROLE}`);
  }
  await admin.end();
  fs.rmSync(cwd, { recursive: true, force: true });
});

describe('a sentinel password', () => {
  it('appears in no output and no file of a battery of commands', async (ctx) => {
    if (!roleReady) return ctx.skip();
    const m = ['--migrations', good];

    // Reading and rehearsing.
    await cli('status', 0, [...m, 'status']);
    await cli('status --json', 0, [...m, 'status', '--json']);
    await cli('plan --json', 0, [...m, 'plan', '--json']);
    await cli('up --dry-run', 0, [...m, 'up', '--dry-run']);
    await cli('up --dry-run --json', 0, [...m, 'up', '--dry-run', '--json']);

    // Applying, with an automatic backup (002 drops a column holding rows).
    const applied = await cli('up --yes --json', 0, [...m, 'up', '--yes', '--json']);
    expect(applied.json<{ backups: string[] }>().backups).toHaveLength(1);
    await cli('verify --json', 0, [...m, 'verify', '--json']);
    const sql = postgres(url(), { max: 1, onnotice: () => {} });
    try {
      await sql`INSERT INTO people VALUES (-1)`;
      await cli('verify failing', 1, [...m, 'verify']);
      await sql`DELETE FROM people WHERE id = -1`;
      await cli('check --json', 0, [...m, 'check', '--json']);

      // Backups and restores.
      const backup = await cli('backup --json', 0, ['backup', 'people', '--json']);
      const dir = backup.json<{ dir: string }>().dir;
      await cli('restore --truncate --yes --json', 0, ['restore', dir, '--truncate', '--yes', '--json']);
      const damaged = path.join(cwd, 'damaged');
      fs.cpSync(path.join(cwd, dir), damaged, { recursive: true });
      fs.appendFileSync(path.join(damaged, 'public.people.csv'), '99\n');
      await cli('restore of a damaged backup', 5, ['restore', damaged, '--json']);

      // Rolling back, verbosely; failures, verbosely; a failed no-transaction step and its repair.
      await cli('down -v', 0, [...m, 'down', '001', '--yes', '-v']);
      await cli('failing migration -v', 1, ['--migrations', broken, 'up', '--yes', '-v']);
      await cli('failing migration --json', 1, ['--migrations', broken, 'up', '--yes', '--json']);
      await cli('a failure that quotes the password', 1, ['--migrations', quoting, 'up', '--yes']);
      await cli('a failure that quotes the password --json', 1, ['--migrations', quoting, 'up', '--yes', '--json']);
      await cli('failing no-transaction migration', 1, ['--migrations', brokenNoTx, 'up', '--yes']);
      await cli('up refused after a failure', 5, ['--migrations', brokenNoTx, 'up', '--yes', '-v']);
      await cli('repair', 0, ['--migrations', brokenNoTx, 'repair', '004_broken_index']);
      await cli('import-profiles without its tables', 1, ['import-profiles', cwd, '--json']);

      // Lock timeout: the holder is another session of the same role.
      const key = lockKeyFor({ schema: 'public', table: 'schema_migrations' });
      await sql`SELECT pg_advisory_lock(${key.classId}::int, ${key.objId}::int)`;
      await cli('lock timeout', 4, [...m, 'up', '--lock-timeout', '200']);
      await cli('lock timeout --json -v', 4, [...m, 'up', '--lock-timeout', '200', '--json', '-v']);
    } finally {
      await sql.end();
    }

    // Connection errors, each carrying a sentinel.
    await cli('wrong password', 3, [...m, 'status', '-v'], { DATABASE_URL: url(WRONG) });
    await cli('wrong password --json', 3, [...m, 'up', '--json'], { DATABASE_URL: url(WRONG) });
    await cli('unknown database', 3, [...m, 'up', '-v'], { DATABASE_URL: url(PASSWORD, 'no_such_db') });
    await cli('unknown host', 3, [...m, 'status', '--json'], { DATABASE_URL: url(PASSWORD, DATABASE, 'nowhere.invalid') });
    await cli('refused', 3, [...m, 'up', '-v'], { DATABASE_URL: url(PASSWORD, DATABASE, '127.0.0.1', await closedPort()) });
    await cli('malformed URL', 2, [...m, 'status'], { DATABASE_URL: url(PASSWORD, DATABASE, host, 'not-a-port') });
    await cli('malformed URL --json -v', 2, [...m, 'status', '--json', '-v', '-d', `postgres://${ROLE}:${PASSWORD}@${host}:${port}/${DATABASE}`], {});
    await cli('wrong scheme', 2, [...m, 'status', '-d', url().replace(/^postgres:/, 'mysql:')], {});
    const query = `postgres://${ROLE}@${host}:${port}/${DATABASE}?password=${encodeURIComponent(WRONG)}&sslmode=disable`;
    const viaQuery = await runCli([...m, 'status', '-v'], { cwd, env: { DATABASE_URL: query } });
    transcript.push({ label: 'password in the query string', result: viaQuery });
    expect([0, 3]).toContain(viaQuery.code);
    await cli('libpq variables', 0, [...m, 'status', '--json'], { PGHOST: host, PGPORT: String(port), PGUSER: ROLE, PGPASSWORD: PASSWORD, PGDATABASE: DATABASE });
    await cli('libpq variables, wrong password', 3, [...m, 'status', '-v'], { PGHOST: host, PGPORT: String(port), PGUSER: ROLE, PGPASSWORD: WRONG, PGDATABASE: DATABASE });

    // The guard itself.
    const leaks = transcript.flatMap(({ label, result }) => [
      ...(SECRETS.some((x) => result.stdout.includes(x)) ? [`${label}: stdout`] : []),
      ...(SECRETS.some((x) => result.stderr.includes(x)) ? [`${label}: stderr`] : []),
    ]);
    const files = filesUnder(cwd).filter((f) => !f.startsWith(good) && !f.startsWith(broken) && !f.startsWith(brokenNoTx) && !f.startsWith(quoting));
    expect(files.some((f) => f.endsWith('manifest.json'))).toBe(true);
    for (const file of files) if (SECRETS.some((x) => fs.readFileSync(file).includes(x))) leaks.push(`file ${path.relative(cwd, file)}`);
    const shown = leaks.map((leak) => {
      const entry = transcript.find((t) => leak.startsWith(`${t.label}:`));
      const text = entry ? (leak.endsWith('stdout') ? entry.result.stdout : entry.result.stderr) : '';
      const at = Math.max(...SECRETS.map((x) => text.indexOf(x)));
      return at < 0 ? leak : `${leak}: …${text.slice(Math.max(0, at - 80), at + 60)}…`;
    });
    expect(shown, `the sentinel password leaked (${transcript.length} commands checked)`).toEqual([]);
  });
});
