import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { lockHolder, lockKeyFor, releaseLock, takeLock } from '../../src/core/lock.js';
import type { Sql } from '../../src/db/connect.js';
import { LockTimeout } from '../../src/errors.js';
import { useDatabase } from '../support/database.js';

describe('run lock', () => {
  const db = useDatabase();
  const open = (name: string) => postgres(db.current.url, { max: 1, connection: { application_name: name }, onnotice: () => {} }) as unknown as Sql;
  const key = lockKeyFor({ schema: 'public', table: 'schema_migrations' });

  it('excludes a second runner, which times out with exit 4 naming the holder', async () => {
    const first = open('migrate up (first)');
    const second = open('migrate up (second)');
    await takeLock(first, key, 1000);
    const started = Date.now();
    const error = await takeLock(second, key, 300).catch((e: unknown) => e);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(error).toBeInstanceOf(LockTimeout);
    expect((error as LockTimeout).exitCode).toBe(4);
    expect((error as Error).message).toMatch(/another migration is running: lock not acquired after 300 ms; pid \d+ \(migrate up \(first\)\)/);
    expect((await lockHolder(second, key))?.applicationName).toBe('migrate up (first)');
    // the failed wait left the session usable and without a lock_timeout of its own
    expect((await second`SHOW lock_timeout`)[0]).toEqual({ lock_timeout: '0' });
    await releaseLock(first, key);
    await takeLock(second, key, 300);
    await Promise.all([first.end(), second.end()]);
  });

  it('is released when the holder\'s connection dies (no stale lock rows)', async () => {
    const first = open('doomed');
    await takeLock(first, key, 1000);
    await first.end({ timeout: 0 });
    const second = open('next');
    await takeLock(second, key, 2000);
    await second.end();
  });

  it('with --lock-timeout 0 tries once instead of waiting forever', async () => {
    const first = open('holder');
    const second = open('impatient');
    await takeLock(first, key, 1000);
    await expect(takeLock(second, key, 0)).rejects.toBeInstanceOf(LockTimeout);
    await Promise.all([first.end(), second.end()]);
  });

  it('does not exclude runners of another history table', async () => {
    const first = open('a');
    const second = open('b');
    await takeLock(first, key, 1000);
    await takeLock(second, lockKeyFor({ schema: 'other', table: 'schema_migrations' }), 300);
    await Promise.all([first.end(), second.end()]);
  });
});
