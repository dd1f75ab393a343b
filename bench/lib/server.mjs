/**
 * The bench's PostgreSQL: the same harness as the tests (test/support/global-setup.ts), an embedded
 * PostgreSQL 17 on a free port in a temp dir, stopped at the end; or a server you give with
 * --admin-url. Each timed run gets a database of its own, created here (untimed).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { layoutIn, startEmbedded, stopEmbedded } from '../../dist/db/embedded.js';

/** Server settings of the throwaway cluster (like the tests'); --durable drops them. */
export const FAST_SETTINGS = { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', max_connections: '100' };

/** Replaces the database of a postgres:// URL. */
export function withDatabase(url, database) {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

const quoteIdent = (name) => `"${name.replace(/"/g, '""')}"`;

/**
 * Starts (or attaches to) the server. Returns { adminUrl, kind, settings, version, urlFor,
 * createDatabase, dropDatabase, query, stop }.
 */
export async function provisionServer({ adminUrl, durable, log }) {
  let stop = async () => {};
  let kind = 'external';
  let settings = {};
  if (!adminUrl) {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-bench-pg-'));
    // The server runs as the `postgres` OS user when we are root: it must be able to enter the dir.
    fs.chmodSync(root, 0o755);
    const layout = layoutIn(root);
    settings = durable ? { max_connections: '100' } : FAST_SETTINGS;
    log(`starting embedded PostgreSQL in ${root}${durable ? ' (durable settings)' : ' (fsync=off, like the tests)'}`);
    const server = await startEmbedded(layout, { settings });
    adminUrl = server.url;
    kind = 'embedded';
    stop = async () => {
      await stopEmbedded(layout).catch((error) => log(`stopping the bench server failed: ${error.message}`));
      fs.rmSync(root, { recursive: true, force: true });
    };
  }
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {}, idle_timeout: 0 });
  const [{ version, server_version_num: versionNum }] = await admin`SELECT version(), current_setting('server_version_num') AS server_version_num`;
  return {
    adminUrl,
    kind,
    settings,
    version,
    versionNum: Number(versionNum),
    urlFor: (database) => withDatabase(adminUrl, database),
    /** CREATE DATABASE, from template0 or a template database of ours. */
    async createDatabase(name, template = 'template0') {
      await admin.unsafe(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
      await admin.unsafe(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE ${quoteIdent(template)}`);
      return withDatabase(adminUrl, name);
    },
    async dropDatabase(name) {
      await admin.unsafe(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
    },
    /** One query on the admin connection (the `postgres` database). */
    query: (text) => admin.unsafe(text),
    /** One query on another database (a short-lived connection). */
    async queryIn(database, text) {
      const sql = postgres(withDatabase(adminUrl, database), { max: 1, onnotice: () => {} });
      try { return await sql.unsafe(text); } finally { await sql.end({ timeout: 1 }); }
    },
    async stop() {
      await admin.end({ timeout: 1 }).catch(() => undefined);
      await stop();
    },
  };
}
