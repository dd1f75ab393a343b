/**
 * Connection failures through the CLI (SPEC §2): exit 3, one line that says which, no password —
 * for every command, `status`'s fast path (dist/bundle/status.cjs) included. Bad URLs are the
 * user's input: exit 2. Unix-domain sockets as libpq names them.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseDatabaseUrl } from '../../src/db/url.js';
import { runCli, type CliResult } from '../support/cli.js';
import { adminUrl, urlFor, withTestDatabase } from '../support/database.js';
import { tempDir, writeMigrations } from '../support/migrations.js';

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

/** Servers of this file, closed after its last test (with the connections they hold). */
const servers: { server: net.Server; sockets: Set<net.Socket> }[] = [];
afterAll(async () => {
  for (const { server, sockets } of servers.splice(0)) {
    for (const socket of sockets) socket.destroy();
    await new Promise((r) => server.close(r));
  }
});

/** A local server that treats each connection as `handle` says; listens on a port, or on a Unix socket `path`. */
async function fakeServer(handle: (socket: net.Socket) => void, listenPath?: string): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    handle(socket);
  });
  servers.push({ server, sockets });
  await new Promise<void>((r) => (listenPath ? server.listen(listenPath, r) : server.listen(0, '127.0.0.1', r)));
  return listenPath ? 0 : (server.address() as net.AddressInfo).port;
}

/** The one error line of a run, from stderr or from the JSON document. */
function errorOf(result: CliResult, json: boolean): string {
  if (json) {
    const doc = result.json<{ error: { code: number; message: string } }>();
    expect(doc.error.code).toBe(result.code);
    return `error: ${doc.error.message}`;
  }
  expect(result.stdout).toBe('');
  return result.stderr.split('\n')[0]!;
}

const COMMANDS = [['status'], ['status', '--json'], ['up'], ['verify']];

describe('every failure to connect is exit 3 for every command, status included', () => {
  it.each([
    ['closes at once', (s: net.Socket) => s.destroy(), '', /(closed the connection without answering \(is this a PostgreSQL port\?\)|the connection was reset)/],
    ['resets the connection', (s: net.Socket) => s.once('data', () => s.resetAndDestroy()), '', /the connection was reset \(by the server, a proxy or the network\): read ECONNRESET/],
    ['answers garbage', (s: net.Socket) => s.once('data', () => s.write('HTTP/1.1 400 Bad Request\r\n\r\n')), '', /did not answer as PostgreSQL does \(is this a PostgreSQL port\?\)/],
    ['writes garbage at once', (s: net.Socket) => s.write('SSH-2.0-OpenSSH_9.6\r\n'), '', /did not answer as PostgreSQL does/],
    ['refuses SSL under sslmode=require', (s: net.Socket) => s.once('data', () => { s.write('N'); s.once('data', () => s.destroy()); }), '?sslmode=require',
      /the server does not accept SSL connections, and sslmode=require requires SSL/],
  ])('a server that %s', async (_what, handle, query, expected) => {
    const port = await fakeServer(handle);
    const url = `postgres://u:${SECRET}@127.0.0.1:${port}/db${query}`;
    for (const args of COMMANDS) {
      const result = await runCli(['--migrations', dir, ...args, '--connect-timeout', '5'], { env: { DATABASE_URL: url } });
      expect(result.code, `${args.join(' ')}: ${result.stdout}${result.stderr}`).toBe(3);
      const line = errorOf(result, args.includes('--json'));
      expect(line).toMatch(new RegExp(`^error: cannot connect to postgres://u:\\*\\*\\*@127\\.0\\.0\\.1:${port}/db${query.replace('?', '\\?')}: `));
      expect(line).toMatch(expected);
      expect(result.stdout + result.stderr).not.toContain(SECRET);
    }
  });

  it('a server that accepts and never answers: the connect timeout, then exit 3', async () => {
    const port = await fakeServer(() => {});
    for (const args of COMMANDS) {
      const result = await runCli(['--migrations', dir, ...args, '--connect-timeout', '1'], { env: { DATABASE_URL: `postgres://u:${SECRET}@127.0.0.1:${port}/db` } });
      expect(result.code).toBe(3);
      expect(errorOf(result, args.includes('--json'))).toMatch(/: timed out after 1 s$/);
    }
  });

  it("the timeout is libpq's when --connect-timeout is not given: the URL's connect_timeout, else PGCONNECT_TIMEOUT (1 means 2, libpq's least)", async () => {
    const port = await fakeServer(() => {});
    const url = `postgres://u:${SECRET}@127.0.0.1:${port}/db`;
    const timedOut = async (args: string[], env: Record<string, string>) => {
      const result = await runCli(['--migrations', dir, 'status', ...args], { env });
      expect(result.code).toBe(3);
      return result.stderr.trim().split('\n')[0];
    };
    expect(await timedOut([], { DATABASE_URL: `${url}?connect_timeout=1`, PGCONNECT_TIMEOUT: '5' })).toMatch(/: timed out after 2 s$/);
    expect(await timedOut([], { DATABASE_URL: url, PGCONNECT_TIMEOUT: '2' })).toMatch(/: timed out after 2 s$/);
    expect(await timedOut(['--connect-timeout', '1'], { DATABASE_URL: `${url}?connect_timeout=5`, PGCONNECT_TIMEOUT: '5' })).toMatch(/: timed out after 1 s$/);
  });
});

describe('a bad URL is exit 2 (the user\'s input), unknown harmless parameters are ignored with a warning', () => {
  it.each([
    ['postgres://u:S3cret%ZZ@db.example/db', 'invalid database URL: the password is not valid percent-encoding'],
    ['postgres://u:pw@db.example/db?sslmode=bogus', 'invalid sslmode "bogus" in the database URL'],
    ['postgres://u:pw@db.example/db?schema=app', 'the database URL parameter "schema" is not supported by strata'],
    ['postgres://u:pw@db.example/db?sslrootcert=/etc/ca.pem', 'the database URL parameter "sslrootcert" is not supported by strata'],
    ['postgres://u:pw@db.example/db?port=99999', 'invalid port parameter of the database URL "99999": expected a port from 1 to 65535'],
    ['postgres://u:pw@db.example/db?host=a,b', 'the database URL names several hosts ("a,b"): strata connects to one'],
  ])('%s', async (url, message) => {
    for (const args of [['status'], ['status', '--json'], ['up']]) {
      const result = await runCli(['--migrations', dir, ...args, '-d', url]);
      expect(result.code).toBe(2);
      expect(errorOf(result, args.includes('--json'))).toBe(`error: ${message}`);
      expect(result.stdout + result.stderr).not.toMatch(/S3cret|URI malformed/);
    }
  });

  it('keepalives and other names strata does not use: one warning line, then the run', async () => {
    const url = `${urlFor('postgres')}?keepalives=1&connection_limit=3&sslmode=disable&connect_timeout=5`;
    for (const args of [['status'], ['up', '--dry-run']]) {
      const result = await runCli(['--migrations', dir, ...args], { env: { DATABASE_URL: url } });
      expect(result.code).toBe(0);
      expect(result.stderr).toContain('warning: ignoring database URL parameters "keepalives", "connection_limit" (strata reads host, port, dbname, user, password, passfile, sslmode, connect_timeout, application_name, options)');
    }
  });

  it('connect_timeout must be whole seconds, as libpq has it (exit 2); so must PGCONNECT_TIMEOUT', async () => {
    const result = await runCli(['--migrations', dir, 'status'], { env: { DATABASE_URL: `${urlFor('postgres')}?connect_timeout=soon` } });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('error: invalid connect_timeout parameter of the database URL "soon": expected whole seconds');
    const env = await runCli(['--migrations', dir, 'status'], { env: { DATABASE_URL: urlFor('postgres'), PGCONNECT_TIMEOUT: '1.5' } });
    expect(env.code).toBe(2);
    expect(env.stderr).toContain('error: invalid PGCONNECT_TIMEOUT "1.5": expected whole seconds');
  });

  it('PGAPPNAME names the session when the URL does not; the URL wins over it', () => withTestDatabase(async (db) => {
    const checks = writeMigrations({ '001_a': { up: 'SELECT 1;', verify: "-- check: application name\nSELECT 1 WHERE current_setting('application_name') <> 'nightly-deploy';\n" } });
    expect((await runCli(['--migrations', checks, 'up'], { env: { DATABASE_URL: db.url, PGAPPNAME: 'nightly-deploy' } })).code).toBe(0);
    const named = await runCli(['--migrations', checks, 'verify', '--json'], { env: { DATABASE_URL: db.url, PGAPPNAME: 'nightly-deploy' } });
    expect(named.json<{ checks: { check: string; ok: boolean }[] }>().checks).toContainEqual(expect.objectContaining({ check: 'application name', ok: true }));
    const url = await runCli(['--migrations', checks, 'verify', '--json'], { env: { DATABASE_URL: `${db.url}?application_name=other`, PGAPPNAME: 'nightly-deploy' } });
    expect(url.code).toBe(1);
    expect(url.json<{ checks: { check: string; ok: boolean }[] }>().checks).toContainEqual(expect.objectContaining({ check: 'application name', ok: false }));
  }));

  it('application_name and options reach the server', () => withTestDatabase(async (db) => {
    const url = `${db.url}?application_name=deployer&options=${encodeURIComponent('-c work_mem=7MB')}`;
    const checks = writeMigrations({ '001_a': { up: 'SELECT 1;', verify: "-- check: startup parameters\nSELECT 1 WHERE current_setting('application_name') <> 'deployer' OR current_setting('work_mem') <> '7MB';\n" } });
    const up = await runCli(['--migrations', checks, 'up', '--json'], { env: { DATABASE_URL: url } });
    expect(up.code).toBe(0);
    const verify = await runCli(['--migrations', checks, 'verify', '--json'], { env: { DATABASE_URL: url } });
    expect(verify.code).toBe(0);
    expect(verify.json<{ checks: { check: string; ok: boolean }[] }>().checks).toContainEqual(expect.objectContaining({ check: 'startup parameters', ok: true }));
  }));
});

describe('Unix-domain sockets, as libpq names them', () => {
  /** A socket directory whose .s.PGSQL.<port> forwards to the test server (which listens on TCP only). */
  async function socketToTestServer(): Promise<{ dir: string; port: number }> {
    const { host, port } = parseDatabaseUrl(adminUrl());
    const socketDir = tempDir('strata-sock-');
    const socketPort = 6543;
    await fakeServer((client) => {
      const upstream = net.connect({ host, port });
      upstream.on('error', () => client.destroy());
      client.on('close', () => upstream.destroy());
      client.pipe(upstream).pipe(client);
    }, path.join(socketDir, `.s.PGSQL.${socketPort}`));
    return { dir: socketDir, port: socketPort };
  }

  it('PGHOST=/dir and ?host=/dir connect through <dir>/.s.PGSQL.<port>; the URL shows the directory as its host', async () => {
    const { user, password } = parseDatabaseUrl(adminUrl());
    const socket = await socketToTestServer();
    const shown = `postgres://${user}:***@${encodeURIComponent(socket.dir)}:${socket.port}/postgres`;
    const libpq = await runCli(['--migrations', dir, 'status', '--json'], {
      env: { PGHOST: socket.dir, PGPORT: String(socket.port), PGUSER: user, PGPASSWORD: password, PGDATABASE: 'postgres' },
    });
    expect(libpq.code).toBe(0);
    expect(libpq.json<{ database: string }>().database).toBe(shown);
    const query = `postgres:///postgres?host=${encodeURIComponent(socket.dir)}&port=${socket.port}&user=${encodeURIComponent(user)}&password=${encodeURIComponent(password ?? '')}`;
    const dry = await runCli(['--migrations', dir, 'up', '--dry-run'], { env: { DATABASE_URL: query } });
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('dry run: nothing was changed');
    const human = await runCli(['--migrations', dir, 'status'], { env: { DATABASE_URL: query } });
    expect(human.stdout).toContain(`database:   ${shown}`);
  });

  it('a socket that is not there is exit 3 naming the socket file', async () => {
    const missing = tempDir('strata-nosock-');
    const file = `${missing}/.s.PGSQL.5499`;
    expect(fs.existsSync(file)).toBe(false);
    const runs: [string[], Record<string, string>][] = [
      [['status'], { PGHOST: missing, PGPORT: '5499', PGDATABASE: 'db' }],
      [['status', '--json'], { DATABASE_URL: `postgres://u:${SECRET}@localhost/db?host=${encodeURIComponent(missing)}&port=5499` }],
      [['up'], { DATABASE_URL: `postgres://u:${SECRET}@${encodeURIComponent(missing)}:5499/db` }],
    ];
    for (const [args, env] of runs) {
      const result = await runCli(['--migrations', dir, ...args], { env });
      expect(result.code).toBe(3);
      expect(errorOf(result, args.includes('--json'))).toMatch(new RegExp(`^error: cannot connect to postgres://\\w+:\\*\\*\\*@${encodeURIComponent(missing).replace(/%/g, '%')}:5499/db: no PostgreSQL socket at ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`));
    }
  });
});

describe("libpq's password file (~/.pgpass, PGPASSFILE, the URL's passfile)", () => {
  const { user, password, host, port } = parseDatabaseUrl(adminUrl());
  const noPassword = `postgres://${encodeURIComponent(user)}@${host}:${port}/postgres`;
  const escaped = (text: string) => text.replace(/[\\:]/g, '\\$&');

  /** A password file holding `lines`, with `mode`. */
  function passfile(lines: string[], mode = 0o600): string {
    const file = path.join(tempDir('strata-pgpass-'), 'pgpass');
    fs.writeFileSync(file, `${lines.join('\n')}\n`);
    fs.chmodSync(file, mode);
    return file;
  }

  it('connects with the password of the first matching line, and never prints it', async () => {
    const file = passfile([
      '# comments and lines for other servers first',
      `otherhost:${port}:*:${escaped(user)}:${SECRET}`,
      `${host}:${port}:postgres:${escaped(user)}:${escaped(password ?? '')}`,
      `*:*:*:*:${SECRET}`,
    ]);
    for (const args of [['status'], ['status', '--json'], ['up', '--dry-run']]) {
      const result = await runCli(['--migrations', dir, ...args], { env: { DATABASE_URL: noPassword, PGPASSFILE: file } });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout + result.stderr).not.toContain(SECRET);
    }
    // The URL's passfile names it too, and a libpq-only configuration (PGHOST …) reads it as well.
    expect((await runCli(['--migrations', dir, 'status'], { env: { DATABASE_URL: `${noPassword}?passfile=${encodeURIComponent(file)}` } })).code).toBe(0);
    expect((await runCli(['--migrations', dir, 'status'], { env: { PGHOST: host, PGPORT: String(port), PGUSER: user, PGDATABASE: 'postgres', PGPASSFILE: file } })).code).toBe(0);
  });

  it('a wrong password from the file: exit 3 naming the file, not the password; PGPASSWORD wins over the file', async () => {
    const file = passfile([`*:*:*:*:${SECRET}`]);
    for (const extra of [[], ['--json']]) {
      const result = await runCli(['--migrations', dir, 'status', ...extra], { env: { DATABASE_URL: noPassword, PGPASSFILE: file } });
      expect(result.code).toBe(3);
      expect(errorOf(result, extra.length > 0)).toContain(`password authentication failed for user "${user}" (password from the file ${file})`);
      expect(result.stdout + result.stderr).not.toContain(SECRET);
    }
    const env = await runCli(['--migrations', dir, 'status'], { env: { DATABASE_URL: noPassword, PGPASSFILE: file, PGPASSWORD: password ?? '' } });
    expect(env.code).toBe(0);
  });

  it('a file the group or others may read is not used, with a warning (as libpq does); no password is then exit 3 saying so', async () => {
    const file = passfile([`*:*:*:*:${escaped(password ?? '')}`], 0o644);
    const result = await runCli(['--migrations', dir, 'status'], { env: { DATABASE_URL: noPassword, PGPASSFILE: file } });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(`warning: password file "${file}" has group or world access; permissions should be u=rw (0600) or less; not using it`);
    expect(result.stderr).toContain(`password authentication failed for user "${user}": no password was given`);
    expect(result.stderr).toContain(`hint: put it in the URL, in PGPASSWORD, or in the password file ${file} (as for psql)`);
  });
});
