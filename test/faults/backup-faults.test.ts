/**
 * Backups under faults, through the CLI (issue 9, SPEC §6): the automatic backup a destructive step
 * takes before it runs cannot be completed — the file-size limit (`ulimit -f`), the backup directory
 * removed mid-way, read-only from the start or made unwritable mid-way, the table dropped by another
 * session, the connection terminated mid-COPY or ended by idle_in_transaction_session_timeout while
 * the files are fsynced. Each must stop the destructive step before it runs (the table still exists
 * with all its rows, history unchanged), leave no directory that looks complete (removed, or named
 * `.incomplete`), say why, and exit 1.
 *
 * Root ignores mode bits, so "unwritable" is a read-only bind mount (or `chattr +i` where mounting is
 * not allowed); a test skips itself when neither works here.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyBackup } from '../../src/backup/verify.js';
import { historyRows } from '../support/catalog.js';
import { migrateBin, runCli, startCli, type CliResult } from '../support/cli.js';
import { createDatabase, dropDatabase, type TestDatabase } from '../support/database.js';
import { tempDir, writeMigrations } from '../support/migrations.js';
import { backendGone, CRASH, waitFor } from './support/faults.js';
import { gateSql } from './support/gates.js';

const FAILPOINTS = path.join(path.dirname(new URL(import.meta.url).pathname), 'support', 'failpoints.mjs');
const ROWS = 20_000; // about 5 MB of CSV: more than the socket buffers hold, so a COPY can be cut mid-way

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Setup {
  db: TestDatabase;
  cwd: string;
  root: string;
  migrations: string;
  env: Record<string, string>;
}

/** A database with a table `victim` holding rows, and a migration that drops one of its columns. */
async function setup(up = 'ALTER TABLE victim DROP COLUMN pad;\nCREATE INDEX victim_id_idx ON victim (id);\n'): Promise<Setup> {
  const db = await createDatabase('strata_backup_fault');
  await db.sql.unsafe(`CREATE TABLE victim (id int PRIMARY KEY, pad text);
    INSERT INTO victim SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, ${ROWS}) g;`);
  const cwd = tempDir('strata-backup-fault-');
  const migrations = writeMigrations({ '001_drop_pad': { up: `${gateSql(301)}\n${up}`, down: 'SELECT 1;\n' } });
  cleanups.push(async () => {
    await dropDatabase(db);
    fs.rmSync(cwd, { recursive: true, force: true });
    fs.rmSync(migrations, { recursive: true, force: true });
  });
  return { db, cwd, root: path.join(cwd, 'backups'), migrations, env: { DATABASE_URL: db.url } };
}

const upArgs = (s: Setup) => ['--migrations', s.migrations, 'up', '--yes', '--json', '--ddl-lock-timeout', '60000'];

/** The destructive step did not run: every row and column there, no history row, exit 1 with `reason`. */
async function expectStopped(s: Setup, result: CliResult, reason: RegExp): Promise<void> {
  const context = `exit ${String(result.code)} ${String(result.signal)}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`;
  expect(result.code, context).toBe(1);
  expect(result.stderr, context).not.toMatch(CRASH);
  expect(result.json<{ error: { message: string } }>().error.message, context).toMatch(reason);
  const [table] = await s.db.sql<{ exists: boolean; pad: boolean }[]>`
    SELECT to_regclass('victim') IS NOT NULL AS exists,
           EXISTS (SELECT 1 FROM information_schema.columns WHERE table_name = 'victim' AND column_name = 'pad') AS pad`;
  expect(table, `the destructive step ran: ${context}`).toEqual({ exists: true, pad: true });
  const [row] = await s.db.sql<{ n: number; ok: boolean }[]>`SELECT count(*)::int AS n, bool_and(pad = repeat(md5(id::text), 8)) AS ok FROM victim`;
  expect(row, 'victim lost rows').toEqual({ n: ROWS, ok: true });
  expect(await historyRows(s.db.sql)).toEqual([]);
  await expectNothingLooksComplete(s.root);
}

/**
 * Nothing half-written looks complete: every entry of the backup root is named `.incomplete`, or is
 * a complete backup that verifies against its manifest. (When the session dies after the backup was
 * written and verified, strata keeps it: a verified backup is never deleted, the step did not run.)
 */
async function expectNothingLooksComplete(root: string): Promise<void> {
  const names = fs.existsSync(root) && fs.statSync(root).isDirectory() ? fs.readdirSync(root) : [];
  for (const name of names.filter((n) => !n.endsWith('.incomplete'))) {
    await expect(verifyBackup(path.join(root, name)), `${name} looks complete but does not verify`).resolves.toBeDefined();
  }
}

/** `migrate ARGS` under `ulimit -f blocks` (SIGXFSZ: Node ignores it, so writes fail with EFBIG). */
function runWithFileLimit(blocks: number, args: string[], options: { cwd: string; env: Record<string, string> }): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', `ulimit -f ${blocks} && exec "$0" "$@"`, process.execPath, migrateBin, ...args], {
      cwd: options.cwd,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, LANG: 'C.UTF-8', NO_COLOR: '1', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({
      code, signal, stdout, stderr,
      json<T>() { return JSON.parse(stdout) as T; },
    }));
  });
}

/** Starts `up` stopped at a backup failpoint; returns the run, the failpoint dir, and how to let it go. */
async function startAtFailpoint(s: Setup, point: string, args = upArgs(s)) {
  const dir = tempDir('strata-failpoint-');
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const run = startCli(args, {
    cwd: s.cwd,
    env: { ...s.env, NODE_OPTIONS: `--import ${FAILPOINTS}`, STRATA_TEST_FAILPOINT: point, STRATA_TEST_FAILPOINT_DIR: dir },
  });
  await waitFor(`failpoint ${point}`, async () => (fs.existsSync(path.join(dir, 'hit')) ? true : undefined), 30_000, run.done);
  const hit = JSON.parse(fs.readFileSync(path.join(dir, 'hit'), 'utf8')) as { detail: string };
  return { run, detail: hit.detail, release: () => fs.writeFileSync(path.join(dir, 'release'), '') };
}

/** The backend of the run (application_name `strata up`). */
async function runBackend(s: Setup): Promise<number> {
  return waitFor('the run\'s backend', async () => {
    const [row] = await s.db.sql<{ pid: number }[]>`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'strata up'`;
    return row?.pid;
  });
}

/** Makes `dir` read-only for root: a read-only bind mount, else the immutable attribute; undefined if neither works here. */
function makeReadOnly(dir: string): (() => void) | undefined {
  try {
    execFileSync('mount', ['--bind', '-o', 'ro', dir, dir], { stdio: 'ignore' });
    return () => execFileSync('umount', [dir], { stdio: 'ignore' });
  } catch {
    try {
      execFileSync('chattr', ['+i', dir], { stdio: 'ignore' });
      return () => execFileSync('chattr', ['-i', dir], { stdio: 'ignore' });
    } catch {
      return undefined;
    }
  }
}

describe('the automatic backup before a destructive step, under faults', () => {
  it('file-size limit reached (ulimit -f): stops before the drop, removes the incomplete directory, exit 1', async () => {
    const s = await setup();
    // 2048 blocks: 1 MiB in dash's 512-byte blocks, 2 MiB in bash's KiB; the CSV is about 5 MB.
    const result = await runWithFileLimit(2048, upArgs(s), s);
    await expectStopped(s, result, /EFBIG|file too large/);
    expect(fs.readdirSync(s.root)).toEqual([]); // removed, not merely marked
  });

  it('backup directory removed mid-way (after the first MiB of the CSV): stops, says which file, exit 1', async () => {
    const s = await setup();
    const { run, release } = await startAtFailpoint(s, 'backup.csv.write#1');
    fs.rmSync(s.root, { recursive: true, force: true });
    release();
    await expectStopped(s, await run.done, /ENOENT/);
  });

  it('backup root read-only from the start: stops before anything is written, exit 1', async (ctx) => {
    const s = await setup();
    fs.mkdirSync(s.root, { recursive: true });
    const undo = makeReadOnly(s.root);
    if (!undo) return ctx.skip();
    cleanups.push(undo);
    const result = await runCli(upArgs(s), { cwd: s.cwd, env: s.env });
    await expectStopped(s, result, /EROFS|EPERM|read-only|not permitted/);
  });

  it('backup directory made unwritable mid-way (before the manifest): stops; what is left is named .incomplete', async (ctx) => {
    const s = await setup();
    const { run, detail, release } = await startAtFailpoint(s, 'backup.csv.synced#1');
    const incomplete = path.dirname(detail);
    const undo = makeReadOnly(incomplete);
    if (!undo) {
      release();
      await run.done;
      return ctx.skip();
    }
    cleanups.push(undo);
    release();
    const result = await run.done;
    await expectStopped(s, result, /EROFS|EPERM|read-only|not permitted/);
    expect(result.json<{ error: { message: string } }>().error.message).toContain(path.basename(incomplete)); // says what it left behind
  });

  it('table dropped by another session before the backup: the step stops with the reason, exit 1', async () => {
    const s = await setup('DROP TABLE victim;\nCREATE TABLE victim_archive (id int);\n');
    const gate = (await import('postgres')).default(s.db.url, { max: 1, onnotice: () => {} });
    cleanups.push(() => gate.end({ timeout: 1 }));
    await gate`SELECT pg_advisory_lock(7300, 301)`;
    const run = startCli(upArgs(s), { cwd: s.cwd, env: s.env });
    await waitFor('the run at its marker', async () => {
      const [row] = await s.db.sql`SELECT 1 AS ok FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = 301`;
      return row ? true : undefined;
    }, 20_000, run.done);
    await s.db.sql`DROP TABLE victim`; // the run planned to back it up; another session got there first
    await gate.end({ timeout: 1 });
    const result = await run.done;
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).not.toMatch(CRASH);
    expect(result.json<{ error: { message: string } }>().error.message).toMatch(/victim.*does not exist/);
    expect(await historyRows(s.db.sql)).toEqual([]);
    expect(await s.db.sql`SELECT to_regclass('victim_archive') AS t`).toEqual([{ t: null }]);
    await expectNothingLooksComplete(s.root);
  });

  it('another session dropping the table during the backup waits for it: the backup is complete, then the step runs', async () => {
    const s = await setup('DROP TABLE victim;\n');
    const { run, release } = await startAtFailpoint(s, 'backup.csv.write#1');
    const other = (await import('postgres')).default(s.db.url, { max: 1, onnotice: () => {} });
    cleanups.push(() => other.end({ timeout: 1 }));
    const drop = other`DROP TABLE victim`.then(() => 'dropped', (e: Error) => e.message);
    await waitFor('the other session waiting for the table', async () => {
      const [row] = await s.db.sql`SELECT 1 AS ok FROM pg_locks WHERE locktype = 'relation' AND NOT granted`;
      return row ? true : undefined;
    });
    release();
    const result = await run.done;
    expect(result.code, result.stderr).toBe(0);
    expect(await drop).toMatch(/does not exist/);
    const [dir] = result.json<{ backups: string[] }>().backups;
    const { manifest } = await verifyBackup(path.join(s.cwd, dir!));
    expect(manifest.tables.map((t) => [t.table, t.rows])).toEqual([['public.victim', ROWS]]);
  });

  it('connection terminated while the COPY streams (after the first MiB is on disk): stops before the drop, exit 1', async () => {
    const s = await setup();
    const { run, release } = await startAtFailpoint(s, 'backup.csv.write#1');
    const backend = await runBackend(s);
    await s.db.sql`SELECT pg_terminate_backend(${backend})`;
    await backendGone(s.db.sql, backend);
    release();
    await expectStopped(s, await run.done, /connection/);
  });

  it('session ended by idle_in_transaction_session_timeout while the backup is fsynced: the step must not run without its transaction', async () => {
    const s = await setup();
    await s.db.sql.unsafe(`ALTER DATABASE "${s.db.name}" SET idle_in_transaction_session_timeout = '300ms'`);
    const { run, release } = await startAtFailpoint(s, 'backup.manifest.synced#1');
    const backend = await runBackend(s);
    await backendGone(s.db.sql, backend); // the server ends the idle transaction, as a slow fsync would let it
    release();
    await expectStopped(s, await run.done, /connection|terminat/);
  });

  it('... and when a later statement of the step fails, history never records it as applied', async () => {
    const s = await setup('ALTER TABLE victim DROP COLUMN pad;\nSELECT 1 / 0;\n');
    await s.db.sql.unsafe(`ALTER DATABASE "${s.db.name}" SET idle_in_transaction_session_timeout = '300ms'`);
    const { run, release } = await startAtFailpoint(s, 'backup.manifest.synced#1');
    await backendGone(s.db.sql, await runBackend(s));
    release();
    await expectStopped(s, await run.done, /connection|terminat|division by zero/);
  });
});

describe('migrate backup under faults', () => {
  it('connection terminated after the files are written: a clean end, never a crash', async () => {
    const s = await setup();
    const args = ['backup', 'victim', '--json', '--jobs', '1'];
    const dir = tempDir('strata-failpoint-');
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const run = startCli(args, { cwd: s.cwd, env: { ...s.env, NODE_OPTIONS: `--import ${FAILPOINTS}`, STRATA_TEST_FAILPOINT: 'backup.rename.after#1', STRATA_TEST_FAILPOINT_DIR: dir } });
    await waitFor('failpoint', async () => (fs.existsSync(path.join(dir, 'hit')) ? true : undefined), 30_000, run.done);
    const [row] = await s.db.sql<{ pid: number }[]>`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'strata backup'`;
    await s.db.sql`SELECT pg_terminate_backend(${row!.pid})`;
    await backendGone(s.db.sql, row!.pid);
    fs.writeFileSync(path.join(dir, 'release'), '');
    const result = await run.done;
    const context = `exit ${String(result.code)}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`;
    expect(result.stderr, context).not.toMatch(CRASH);
    expect([0, 1], context).toContain(result.code);
    if (result.code === 0) await verifyBackup(path.join(s.cwd, result.json<{ dir: string }>().dir));
    else await expectNothingLooksComplete(s.root);
  });
});
