/**
 * One session for the whole run, over SSL too (src/db/connect.ts `oneSession`): the driver swaps its
 * raw socket for a TLS socket and removes every listener of the raw one, ours included, so a lost
 * SSL session once went unnoticed and the driver opened a fresh session — without the run's
 * transaction, advisory lock and SET LOCALs — for the next query. A TLS-terminating proxy in front
 * of the test server (a self-signed certificate made with openssl) counts the sessions.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSessionLost, openDatabase } from '../../src/db/connect.js';
import { parseDatabaseUrl } from '../../src/db/url.js';
import { adminUrl } from '../support/database.js';
import { tempDir } from '../support/temp.js';

const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

let proxy: net.Server;
let port = 0;
let sessions = 0;
const clients = new Set<net.Socket>();

beforeAll(async () => {
  const dir = tempDir('strata-ssl-');
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
  const credentials = { key: fs.readFileSync(key), cert: fs.readFileSync(cert) };
  const upstream = parseDatabaseUrl(adminUrl());
  proxy = net.createServer((client) => {
    clients.add(client);
    client.once('close', () => clients.delete(client));
    client.once('data', (request) => {
      if (!request.equals(SSL_REQUEST)) { client.destroy(); return; } // a cancel request, or no SSL: not this test's business
      sessions += 1;
      client.write('S');
      const secure = new tls.TLSSocket(client, { isServer: true, ...credentials });
      const server = net.connect({ host: upstream.host, port: upstream.port });
      secure.pipe(server).pipe(secure);
      const end = () => { secure.destroy(); server.destroy(); };
      secure.once('error', end).once('close', end);
      server.once('error', end).once('close', end);
    });
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  port = (proxy.address() as net.AddressInfo).port;
});

afterAll(async () => {
  for (const client of clients) client.destroy();
  await new Promise((resolve) => proxy.close(resolve));
});

describe('an SSL session that is lost', () => {
  it('is noticed: the next query fails, and no second session is opened', async () => {
    const parts = { ...parseDatabaseUrl(adminUrl()), host: '127.0.0.1', port, params: { sslmode: 'require' } };
    const db = await openDatabase(parts, { connectTimeoutSeconds: 5 });
    try {
      const [row] = await db.sql.unsafe<{ ssl: boolean }[]>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
      expect(row).toBeDefined();
      expect(sessions).toBe(1);
      for (const client of clients) client.destroy(); // the network drops the session
      await new Promise((resolve) => setTimeout(resolve, 100));
      await expect(db.sql.unsafe('SELECT 1')).rejects.toThrow();
      expect(isSessionLost(db.sql)).toBe(true);
      expect(sessions).toBe(1);
    } finally {
      await db.close().catch(() => undefined);
    }
  });
});
