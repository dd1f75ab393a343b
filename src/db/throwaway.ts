/**
 * Databases that exist for one command and are dropped afterwards (`migrate check`): a fresh
 * `strata_check_*` database on a given server, or an ephemeral server (testcontainers when a Docker
 * daemon answers, else an embedded PostgreSQL in a temp directory).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase } from './connect.js';
import { quoteIdent } from './quote.js';
import { parseDatabaseUrl, type ConnectionParts } from './url.js';

/** A database to use and the function that removes it. */
export interface Throwaway {
  parts: ConnectionParts;
  /** Where it lives, for messages (redacted by the caller). */
  description: string;
  dispose(): Promise<void>;
}

/** Creates `strata_check_<random>` on the server of `admin` (CREATE DATABASE privilege needed). */
export async function createThrowawayDatabase(admin: ConnectionParts, connectTimeoutSeconds: number | undefined): Promise<Throwaway> {
  const name = `strata_check_${randomBytes(6).toString('hex')}`;
  const db = await openDatabase(admin, { connectTimeoutSeconds, applicationName: 'strata check' });
  try {
    await db.sql.unsafe(`CREATE DATABASE ${quoteIdent(name)}`);
  } finally {
    await db.close();
  }
  let disposed = false;
  return {
    parts: { ...admin, database: name },
    description: `database ${name}`,
    async dispose() {
      if (disposed) return;
      disposed = true;
      const drop = await openDatabase(admin, { connectTimeoutSeconds, applicationName: 'strata check' });
      try {
        await drop.sql.unsafe(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`).catch(async () => {
          // PostgreSQL < 13 has no FORCE: end the sessions first.
          await drop.sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ${name} AND pid <> pg_backend_pid()`;
          await drop.sql.unsafe(`DROP DATABASE IF EXISTS ${quoteIdent(name)}`);
        });
      } finally {
        await drop.close();
      }
    },
  };
}

function dockerMayAnswer(env: NodeJS.ProcessEnv): boolean {
  return Boolean(env.DOCKER_HOST) || fs.existsSync('/var/run/docker.sock');
}

/** An ephemeral server: testcontainers when Docker answers, else embedded in a temp dir. */
export async function startEphemeralServer(env: NodeJS.ProcessEnv, log: (line: string) => void): Promise<Throwaway> {
  if (dockerMayAnswer(env)) {
    try {
      const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
      const container = await new PostgreSqlContainer('postgres:17-alpine').start();
      return { parts: parseDatabaseUrl(container.getConnectionUri()), description: 'a testcontainers PostgreSQL', dispose: async () => { await container.stop(); } };
    } catch (error) {
      log(`testcontainers unavailable (${(error as Error).message.split('\n')[0]}); using an embedded PostgreSQL`);
    }
  }
  const { layoutIn, startEmbedded, stopEmbedded } = await import('./embedded.js');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-check-'));
  fs.chmodSync(root, 0o755); // reachable by the postgres OS user when we run as root
  const layout = layoutIn(root);
  try {
    const server = await startEmbedded(layout, { settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' } });
    return {
      parts: parseDatabaseUrl(server.url),
      description: 'an ephemeral embedded PostgreSQL',
      async dispose() {
        await stopEmbedded(layout).catch(() => undefined);
        fs.rmSync(root, { recursive: true, force: true });
      },
    };
  } catch (error) {
    fs.rmSync(root, { recursive: true, force: true });
    throw error;
  }
}
