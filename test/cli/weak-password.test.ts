/**
 * A weak password must not damage the output (SPEC §2 masks passwords; README "Which database"):
 * with the password `init` (or `postgres`), `001_init` used to print as `001_***`, its phase as
 * `***`, and `postgres://` as `***://`. The password is still masked where it stands alone in
 * free text, unless it is a name the output prints anyway.
 */
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDatabaseUrl } from '../../src/db/url.js';
import { runCli } from '../support/cli.js';
import { adminUrl } from '../support/database.js';
import { writeMigrations } from '../support/migrations.js';

const ROLE = `strata_weak_${randomBytes(4).toString('hex')}`;
const DATABASE = `${ROLE}_db`;
const { host, port } = parseDatabaseUrl(adminUrl());
const urlWith = (password: string) => `postgres://${ROLE}:${password}@${host}:${port}/${DATABASE}`;

let admin: postgres.Sql;

beforeAll(async () => {
  admin = postgres(adminUrl(), { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE ROLE ${ROLE} LOGIN PASSWORD 'init'`);
  await admin.unsafe(`CREATE DATABASE ${DATABASE} OWNER ${ROLE} TEMPLATE template0`);
});

afterAll(async () => {
  await admin.unsafe(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
  await admin.unsafe(`DROP ROLE IF EXISTS ${ROLE}`);
  await admin.end();
});

describe('a weak password', () => {
  it('leaves migration names, phases and the URL scheme intact', async () => {
    const dir = writeMigrations({ '001_init': { up: 'CREATE TABLE people (id int);\n' }, '002_postgres_stuff': { up: 'SELECT 1;\n' } });
    const env = { DATABASE_URL: urlWith('init') };
    const up = await runCli(['--migrations', dir, 'up'], { env });
    expect(up.code, up.stderr).toBe(0);
    expect(up.stdout).toContain('001_init applied');
    const status = await runCli(['--migrations', dir, 'status', '--json'], { env });
    const doc = status.json<{ database: string; migrations: { name: string; phase: string }[] }>();
    expect(doc.database).toBe(`postgres://${ROLE}:***@${host}:${port}/${DATABASE}`);
    expect(doc.migrations.map((m) => [m.name, m.phase])).toEqual([['001_init', 'init'], ['002_postgres_stuff', 'postgres_stuff']]);
  });

  it('is still masked where it stands alone in free text and is no name of the run', async () => {
    const dir = writeMigrations({ '001_notice': { up: "DO $$ BEGIN RAISE NOTICE 'pw is %', 'init'; END $$;\n" } });
    const up = await runCli(['--migrations', dir, '--history-table', 'notice_history', 'up', '-v'], { env: { DATABASE_URL: urlWith('init') } });
    expect(up.code, up.stderr).toBe(0);
    expect(`${up.stdout}${up.stderr}`).toContain('pw is ***');
  });
});
