/**
 * Connection failures through the CLI (SPEC §2): exit 3, one line that says which, no password.
 */
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { parseDatabaseUrl } from '../../src/db/url.js';
import { runCli } from '../support/cli.js';
import { adminUrl, urlFor } from '../support/database.js';
import { writeMigrations } from '../support/migrations.js';

const dir = writeMigrations({ '001_a': { up: 'SELECT 1;' } });
const SECRET = 'S3ntinel-Pa55word';

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((r) => server.close(r));
  return port;
}

describe('connection failures are exit 3', () => {
  it('wrong password: says so, never prints it, in text and JSON', async () => {
    const { user, host, port, database } = parseDatabaseUrl(adminUrl());
    const url = `postgres://${user}:${SECRET}@${host}:${port}/${database}`;
    for (const extra of [[], ['--json']]) {
      const result = await runCli(['--migrations', dir, 'status', '-d', url, ...extra]);
      expect(result.code).toBe(3);
      const message = extra.length > 0 ? result.json<{ error: { message: string } }>().error.message : result.stderr;
      expect(message).toContain(`password authentication failed for user "${user}"`);
      expect(result.stdout + result.stderr).not.toContain(SECRET);
    }
  });

  it('refused, unknown host, unknown database', async () => {
    const refused = await runCli(['--migrations', dir, 'up', '-d', `postgres://u:${SECRET}@127.0.0.1:${await closedPort()}/db`]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/^error: cannot connect to postgres:\/\/u:\*\*\*@127\.0\.0\.1:\d+\/db: connection refused/);
    const host = await runCli(['--migrations', dir, 'status'], { env: { DATABASE_URL: `postgres://u:${SECRET}@nowhere.invalid/db` } });
    expect(host.code).toBe(3);
    expect(host.stderr).toContain('unknown host "nowhere.invalid"');
    const db = await runCli(['--migrations', dir, 'status', '--json'], { env: { DATABASE_URL: urlFor('not_there') } });
    expect(db.code).toBe(3);
    expect(db.json<{ error: { code: number; message: string } }>().error).toMatchObject({ code: 3, message: expect.stringContaining('database "not_there" does not exist') });
    for (const r of [refused, host, db]) expect(r.stdout + r.stderr).not.toContain(SECRET);
  });

  it('-v shows the stack trace in the TypeScript sources, not in the bundle', async () => {
    for (const verbose of ['-v', '--verbose']) {
      const result = await runCli(['--migrations', dir, 'up', verbose, '-d', `postgres://u:${SECRET}@127.0.0.1:${await closedPort()}/db`]);
      expect(result.code).toBe(3);
      expect(result.stderr).toMatch(/^error: cannot connect/);
      expect(result.stderr).toMatch(/at \S+ \(\S*src[\\/]db[\\/]connect\.ts:\d+:\d+\)/);
      expect(result.stderr).not.toContain(SECRET);
    }
    const quiet = await runCli(['--migrations', dir, 'up', '-d', `postgres://u:${SECRET}@127.0.0.1:${await closedPort()}/db`]);
    expect(quiet.stderr).not.toContain(' at ');
  });

  it('libpq variables are used when no URL is given', async () => {
    const { user, host, port, password } = parseDatabaseUrl(adminUrl());
    const result = await runCli(['--migrations', dir, 'status', '--json'], {
      env: { PGHOST: host, PGPORT: String(port), PGUSER: user, PGPASSWORD: password, PGDATABASE: 'postgres' },
    });
    expect(result.code).toBe(0);
    expect(result.json<{ database: string }>().database).toBe(`postgres://${user}:***@${host}:${port}/postgres`);
  });

  it('no database given and no terminal: exit 3, never a silent run on a throwaway database', async () => {
    const result = await runCli(['--migrations', dir, 'up']);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('error: no database given: pass --database-url, set DATABASE_URL, or --embedded');
  });
});
