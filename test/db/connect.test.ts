import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { openDatabase, resolveConnection } from '../../src/db/connect.js';
import { parseDatabaseUrl } from '../../src/db/url.js';
import { ConnectionError, UsageError } from '../../src/errors.js';
import { adminUrl, urlFor } from '../support/database.js';

describe('resolveConnection (SPEC §2 order)', () => {
  it('prefers the flag, then DATABASE_URL, then libpq variables, then the embedded database on a terminal', () => {
    const env = { DATABASE_URL: 'postgres://env@h/db', PGHOST: 'pghost' };
    expect(resolveConnection({ databaseUrl: 'postgres://flag@h/db', interactive: false }, env)).toMatchObject({ source: 'flag' });
    expect(resolveConnection({ interactive: false }, env)).toMatchObject({ source: 'DATABASE_URL' });
    expect(resolveConnection({ interactive: false }, { PGDATABASE: 'x' })).toMatchObject({ source: 'libpq', parts: { database: 'x' } });
    expect(resolveConnection({ interactive: true }, {})).toEqual({ kind: 'embedded' });
    expect(resolveConnection({ interactive: false, embedded: true }, {})).toEqual({ kind: 'embedded' });
  });

  it('applies libpq\'s security environment to every server connection: PGSSLMODE unless the URL says, refused variables exit 2', () => {
    const sslmodeOf = (choice: Parameters<typeof resolveConnection>[0], env: Parameters<typeof resolveConnection>[1]) => {
      const target = resolveConnection(choice, env);
      return target.kind === 'server' ? target.parts.params.sslmode : undefined;
    };
    expect(sslmodeOf({ interactive: false }, { DATABASE_URL: 'postgres://u@h/db', PGSSLMODE: 'verify-full' })).toBe('verify-full');
    expect(sslmodeOf({ interactive: false }, { DATABASE_URL: 'postgres://u@h/db?sslmode=disable', PGSSLMODE: 'require' })).toBe('disable');
    expect(sslmodeOf({ interactive: false }, { PGHOST: 'h', PGSSLMODE: 'require' })).toBe('require');
    expect(sslmodeOf({ databaseUrl: 'postgres://u@h/db?SSLMODE=verify-full', interactive: false }, {})).toBe('verify-full'); // names in any case
    for (const env of [{ PGSSLMODE: 'sometimes' }, { PGSSLROOTCERT: '/etc/ca.pem' }, { PGSERVICE: 'prod' }, { PGCHANNELBINDING: 'require' }]) {
      expect(() => resolveConnection({ interactive: false }, { DATABASE_URL: 'postgres://u@h/db', ...env })).toThrow(UsageError);
    }
  });

  it('without a terminal and without --embedded, no database is exit 3, never a silent fallback', () => {
    const error = (() => { try { resolveConnection({ interactive: false }, { PGUSER: 'only-a-user' }); } catch (e) { return e as ConnectionError; } })();
    expect(error).toBeInstanceOf(ConnectionError);
    expect(error?.exitCode).toBe(3);
    expect(error?.message).toBe('no database given: pass --database-url, set DATABASE_URL, or --embedded');
  });
});

describe('openDatabase failures: exit 3 and one line that says which', () => {
  const parts = () => parseDatabaseUrl(adminUrl());

  async function failure(url: string, timeout = 3): Promise<ConnectionError> {
    const error = await openDatabase(parseDatabaseUrl(url), { connectTimeoutSeconds: timeout }).then(
      (db) => { void db.close(); throw new Error('connected'); },
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as ConnectionError).exitCode).toBe(3);
    return error as ConnectionError;
  }

  it('refused', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    await new Promise((r) => server.close(r));
    expect((await failure(`postgres://u:pw@127.0.0.1:${port}/db`)).message).toContain('connection refused');
  });

  it('unknown host', async () => {
    expect((await failure('postgres://u:pw@no-such-host.invalid:5432/db')).message).toContain('unknown host "no-such-host.invalid"');
  });

  it('wrong password, without printing it', async () => {
    const { user, host, port, database } = parts();
    const error = await failure(`postgres://${user}:Wr0ngSecret@${host}:${port}/${database}`);
    expect(error.message).toContain(`password authentication failed for user "${user}"`);
    expect(error.message).not.toContain('Wr0ngSecret');
    expect(error.message).toContain(':***@');
  });

  it('unknown database', async () => {
    expect((await failure(urlFor('no_such_database'))).message).toContain('database "no_such_database" does not exist');
  });

  it('timeout after --connect-timeout seconds', async () => {
    // A server that accepts the TCP connection and never answers.
    const sockets: net.Socket[] = [];
    const server = net.createServer((s) => sockets.push(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    try {
      expect((await failure(`postgres://u:pw@127.0.0.1:${port}/db`, 1)).message).toContain('timed out after 1 s');
    } finally {
      sockets.forEach((s) => s.destroy());
      server.close();
    }
  });

  it('a good connection reports the server and sets the client check interval', async () => {
    const db = await openDatabase(parts());
    expect(db.server?.versionNum).toBeGreaterThanOrEqual(120000);
    const [row] = await db.sql<{ v: string }[]>`SELECT current_setting('client_connection_check_interval') AS v`;
    expect(row?.v).toBe('1s');
    await db.close();
  });
});
