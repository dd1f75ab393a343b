/**
 * Failures while a backup is written (SPEC §6): every one ends with exit 1, one line naming the
 * path, and no directory without `.incomplete` — the incomplete one removed. The tests run as root
 * on CI, where mode bits stop nothing; failures are injected otherwise: a file where a directory
 * belongs, a file-size limit (RLIMIT_FSIZE lowered with prlimit on this very process), a 1 MiB
 * tmpfs (skipped where mounting is not allowed), a killed backend, a free-space probe that reports
 * a full disk.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import postgres from 'postgres';
import { beforeAll, describe, expect, it } from 'vitest';
import { createBackup, restoreBackup } from '../../src/backup/index.js';
import { MigrationFailed } from '../../src/errors.js';
import { adminUrl, useDatabase } from '../support/database.js';
import { backupOptions, list, tempDir } from './helpers.js';

const db = useDatabase();

beforeAll(async () => {
  await db.current.sql.unsafe(`
    CREATE TABLE small (id int PRIMARY KEY, v text);
    INSERT INTO small SELECT g, 'v' || g FROM generate_series(1, 100) g;
    CREATE TABLE second (id int PRIMARY KEY);
    INSERT INTO second SELECT generate_series(1, 10);
    CREATE TABLE medium (id int, pad text);
    INSERT INTO medium SELECT g, repeat(md5(g::text), 2) FROM generate_series(1, 40000) g;
    CREATE TABLE big (id int, pad text);
    INSERT INTO big SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 400000) g;`);
});

/** The backup must fail with exit 1, a message matching `pattern`, and leave nothing in the root. */
async function expectCleanFailure(attempt: Promise<unknown>, root: string, pattern: RegExp): Promise<MigrationFailed> {
  const error = await attempt.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(MigrationFailed);
  const failure = error as MigrationFailed;
  expect(failure.exitCode).toBe(1);
  expect(failure.message).toMatch(pattern);
  expect(failure.message).not.toContain('\n');
  expect(await list(root)).toEqual([]);
  return failure;
}

describe('backup failures', () => {
  it('refuses when the tables need more room than the disk has, writing nothing', async () => {
    const options = backupOptions(await tempDir());
    await expectCleanFailure(
      createBackup(db.current.sql, ['big'], { ...options, freeSpace: async () => 1024 * 1024 }),
      path.dirname(options.root),
      /backup refused: the tables need about [\d.]+ MiB and .* has 1\.0 MiB free; nothing was written/,
    );
  });

  it('fails when the backup root is a file', async () => {
    const options = backupOptions(await tempDir());
    await fs.writeFile(options.root, 'not a directory');
    const error = await createBackup(db.current.sql, ['small'], options).then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({ exitCode: 1, message: expect.stringMatching(/cannot create the backup directory .*backups: EEXIST/) });
    expect(await fs.readFile(options.root, 'utf8')).toBe('not a directory');
  });

  it('removes the incomplete directory when a file cannot be created mid-way', async () => {
    const options = backupOptions(await tempDir());
    const failure = await expectCleanFailure(
      createBackup(db.current.sql, ['small', 'second'], {
        ...options,
        // After the first table, a directory takes the place of the second table's file.
        onTable: async () => {
          const incomplete = (await list(options.root)).find((n) => n.endsWith('.incomplete')) as string;
          await fs.mkdir(path.join(options.root, incomplete, 'public.second.csv'));
        },
      }),
      options.root,
      /backup to .*_test failed: public\.second: EEXIST: file already exists, open '.*public\.second\.csv'; removed .*_test\.incomplete$/,
    );
    expect(failure.hint).toBeDefined();
  });

  it('removes the incomplete directory when the file-size limit is hit (EFBIG)', async (ctx) => {
    const options = backupOptions(await tempDir());
    try {
      prlimit('--fsize=1048576:');
    } catch {
      ctx.skip(); // no prlimit (util-linux) here
    } // soft limit 1 MiB for this process; SIGXFSZ is ignored by Node, so writes fail with EFBIG
    try {
      await expectCleanFailure(createBackup(db.current.sql, ['big'], options), options.root, /public\.big: EFBIG: file too large, write; removed/);
    } finally {
      prlimit('--fsize=unlimited:');
    }
  });

  it('removes the incomplete directory when the disk fills up (ENOSPC on a 1 MiB tmpfs)', async (ctx) => {
    const mountPoint = await tempDir();
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mountPoint], { stdio: 'ignore' });
    } catch {
      ctx.skip(); // not allowed to mount here (an unprivileged container)
    }
    try {
      // The probe says there is room, so the write path itself must catch the full disk.
      const options = { ...backupOptions(mountPoint), freeSpace: async () => 1e12 };
      await expectCleanFailure(createBackup(db.current.sql, ['medium'], options), options.root, /public\.medium: ENOSPC: no space left on device, write; removed/);
    } finally {
      execFileSync('umount', [mountPoint]);
    }
  });

  it('removes the incomplete directory when the COPY connection is terminated mid-way', async () => {
    const options = backupOptions(await tempDir());
    const client = postgres(db.current.url, { max: 1, onnotice: () => {} });
    try {
      const attempt = createBackup(client, ['big'], options);
      await waitForBytes(options.root, 1024 * 1024);
      const killed = await db.current.sql`
        SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
         WHERE datname = current_database() AND query LIKE 'COPY %' AND pid <> pg_backend_pid()`;
      expect(killed).toEqual([{ ok: true }]);
      await expectCleanFailure(attempt, options.root, /backup to .* failed: public\.big: the connection to the database was lost \(.*\); removed .*\.incomplete$/);
    } finally {
      await client.end({ timeout: 1 });
    }
  });

  it('rolls a restore back when its connection is terminated mid-COPY', async () => {
    const sql = db.current.sql;
    const { dir } = await createBackup(sql, ['big'], backupOptions(await tempDir()));
    await sql`DELETE FROM big WHERE id > 10`;
    const client = postgres(db.current.url, { max: 1, onnotice: () => {} });
    try {
      const attempt = restoreBackup(client, dir, { truncate: true }).then(() => undefined, (e: unknown) => e);
      let killed: readonly unknown[] = [];
      for (let i = 0; i < 2000 && killed.length === 0; i++) {
        killed = await sql`
          SELECT pg_terminate_backend(pid) FROM pg_stat_activity
           WHERE datname = current_database() AND query LIKE 'COPY %FROM STDIN%' AND pid <> pg_backend_pid()`;
        if (killed.length === 0) await new Promise((r) => setTimeout(r, 5));
      }
      expect(killed).toHaveLength(1);
      expect(await attempt).toMatchObject({ exitCode: 1, message: expect.stringMatching(/restore from .* failed on public\.big: .*nothing was loaded/) });
      const [{ n } = { n: -1 }] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM big`;
      expect(n).toBe(10); // the truncate was rolled back with the rest
    } finally {
      await client.end({ timeout: 1 });
    }
  });

  it('holds the tables: a concurrent DROP waits for the backup instead of breaking it', async () => {
    const options = backupOptions(await tempDir());
    const other = postgres(db.current.url, { max: 1, onnotice: () => {} });
    let dropError: unknown;
    try {
      const { manifest } = await createBackup(db.current.sql, ['small', 'second'], {
        ...options,
        onTable: async () => {
          dropError ??= await other.begin(async (tx) => {
            await tx`SET LOCAL lock_timeout = '200ms'`;
            await tx`DROP TABLE second`;
          }).then(() => 'dropped', (e: { code?: string }) => e.code);
        },
      });
      expect(manifest.tables.map((t) => [t.table, t.rows])).toEqual([['public.small', 100], ['public.second', 10]]);
      expect(dropError).toBe('55P03'); // lock_timeout: the backup holds ACCESS SHARE until it ends
    } finally {
      await other.end();
    }
  });

  it('fails as a whole, cleaning up, when a parallel connection fails', async () => {
    const options = backupOptions(await tempDir());
    const clients: postgres.Sql[] = [];
    // A connection to another database cannot import the snapshot: the helper fails after it started.
    const connect = async () => { const c = postgres(adminUrl(), { max: 1, onnotice: () => {} }); clients.push(c); return c; };
    await expectCleanFailure(
      createBackup(db.current.sql, ['small', 'second'], { ...options, connect, jobs: 2 }),
      options.root,
      /backup to .* failed: cannot import a snapshot from a different database; removed/,
    );
    await Promise.all(clients.map((c) => c.end({ timeout: 1 })));
  });

  it('carries on with fewer connections when extra ones cannot be opened', async () => {
    const warnings: string[] = [];
    const { manifest } = await createBackup(db.current.sql, ['small', 'second'], {
      ...backupOptions(await tempDir()),
      connect: async () => { throw new Error('too many connections'); },
      onWarning: (message) => warnings.push(message),
    });
    expect(manifest.tables.map((t) => t.rows)).toEqual([100, 10]);
    expect(warnings).toEqual(['parallel backup: could not open another connection (too many connections); continuing with fewer']);
  });
});

function prlimit(arg: string): void {
  execFileSync('prlimit', ['--pid', String(process.pid), arg]);
}

/** Waits until a CSV file in an incomplete backup under `root` holds `bytes` bytes. */
async function waitForBytes(root: string, bytes: number): Promise<void> {
  for (let i = 0; i < 5000; i++) {
    for (const dir of (await list(root)).filter((n) => n.endsWith('.incomplete'))) {
      for (const file of await list(path.join(root, dir))) {
        const size = await fs.stat(path.join(root, dir, file)).then((s) => s.size, () => 0);
        if (size >= bytes) return;
      }
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  throw new Error('the backup never got going');
}
