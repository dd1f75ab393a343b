/**
 * A fresh database per test file, created on the shared server of global-setup.ts.
 */
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, beforeAll, inject } from 'vitest';
import { formatDatabaseUrl, parseDatabaseUrl } from '../../src/db/url.js';

/** A database of one's own: its URL and a connection to it. */
export interface TestDatabase {
  name: string;
  url: string;
  sql: postgres.Sql;
}

/** The shared server's admin URL (database `postgres`). */
export function adminUrl(): string {
  return inject('adminUrl');
}

/** URL of `database` on the shared server, with the admin credentials. */
export function urlFor(database: string): string {
  const parts = parseDatabaseUrl(adminUrl());
  return formatDatabaseUrl({ ...parts, database });
}

/** Creates an empty database; call `dropDatabase` when done. */
export async function createDatabase(prefix = 'strata_test'): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  const admin = postgres(adminUrl(), { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`CREATE DATABASE "${name}" TEMPLATE template0 ENCODING 'UTF8'`);
  } finally {
    await admin.end();
  }
  const url = urlFor(name);
  return { name, url, sql: postgres(url, { max: 4, onnotice: () => {} }) };
}

/** Drops a database made by `createDatabase`, closing connections to it. */
export async function dropDatabase(db: TestDatabase): Promise<void> {
  await db.sql.end({ timeout: 1 }).catch(() => undefined);
  const admin = postgres(adminUrl(), { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`DROP DATABASE IF EXISTS "${db.name}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

/**
 * Registers beforeAll/afterAll hooks for a database of this test file; read `.current` inside tests.
 */
export function useDatabase(prefix?: string): { readonly current: TestDatabase } {
  let db: TestDatabase | undefined;
  beforeAll(async () => { db = await createDatabase(prefix); });
  afterAll(async () => { if (db) await dropDatabase(db); });
  return {
    get current(): TestDatabase {
      if (!db) throw new Error('database not created yet: use it inside a test or hook');
      return db;
    },
  };
}

/** Runs `fn` with a database of its own, dropped afterwards whatever happens. */
export async function withTestDatabase<T>(fn: (db: TestDatabase) => Promise<T>): Promise<T> {
  const db = await createDatabase();
  try {
    return await fn(db);
  } finally {
    await dropDatabase(db);
  }
}
