/**
 * Databases whose settings change how values are written as text (the backup-settings audit):
 * database-level DateStyle 'SQL, DMY', TimeZone 'Asia/Kolkata', extra_float_digits 0, xmloption
 * document, and a role with IntervalStyle 'sql_standard' and bytea_output 'escape' of its own. The
 * `vals` table holds the values those settings garble, and `fingerprint` reads them back in their
 * binary send form, which no setting touches, so two tables compare exactly.
 */
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { expect } from 'vitest';
import { adminUrl, createDatabase, dropDatabase, urlFor, type TestDatabase } from './database.js';

/** The session values a connection of the odd role to an odd database gets. */
export const ODD_SETTINGS = {
  DateStyle: 'SQL, DMY',
  TimeZone: 'Asia/Kolkata',
  extra_float_digits: '0',
  IntervalStyle: 'sql_standard',
  bytea_output: 'escape',
  xmloption: 'document',
} as const;

/** A role with settings of its own, and the databases made for it. */
export interface OddRole {
  name: string;
  password: string;
  databases: TestDatabase[];
}

async function admin<T>(fn: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(adminUrl(), { max: 1, onnotice: () => {} });
  try {
    return await fn(sql);
  } finally {
    await sql.end();
  }
}

/** Creates a login role (not superuser) with role-level IntervalStyle and bytea_output. */
export async function createOddRole(): Promise<OddRole> {
  const name = `strata_odd_${randomBytes(5).toString('hex')}`;
  const password = `odd-${randomBytes(8).toString('hex')}`;
  await admin((sql) => sql.unsafe(`CREATE ROLE ${name} LOGIN NOSUPERUSER PASSWORD '${password}';
    ALTER ROLE ${name} SET IntervalStyle = 'sql_standard';
    ALTER ROLE ${name} SET bytea_output = 'escape'`));
  return { name, password, databases: [] };
}

/** A database owned by the role, with the odd database-level settings; `url`/`sql` connect as the role. */
export async function createOddDatabase(role: OddRole): Promise<TestDatabase> {
  const name = `strata_odd_${randomBytes(5).toString('hex')}`;
  await admin((sql) => sql.unsafe(`CREATE DATABASE "${name}" OWNER ${role.name} TEMPLATE template0 ENCODING 'UTF8'`));
  await admin((sql) => sql.unsafe(`ALTER DATABASE "${name}" SET DateStyle = 'SQL, DMY';
    ALTER DATABASE "${name}" SET TimeZone = 'Asia/Kolkata';
    ALTER DATABASE "${name}" SET extra_float_digits = 0;
    ALTER DATABASE "${name}" SET xmloption = document`));
  const url = new URL(urlFor(name));
  url.username = role.name;
  url.password = role.password;
  const db = { name, url: url.toString(), sql: postgres(url.toString(), { max: 4, onnotice: () => {} }) };
  role.databases.push(db);
  return db;
}

/** Drops the role's databases, then the role. */
export async function dropOddRole(role: OddRole): Promise<void> {
  for (const db of role.databases) await dropDatabase(db);
  await admin((sql) => sql.unsafe(`DROP ROLE IF EXISTS ${role.name}`));
}

/** A database with default settings (admin credentials). */
export async function createPlainDatabase(): Promise<TestDatabase> {
  return createDatabase('strata_plain');
}

/** The table's definition (the same in every database of a test). */
export function valsDdl(table = 'vals'): string {
  return `CREATE TABLE ${table} (id int PRIMARY KEY, f4 real, f8 float8, n numeric, ts timestamp, tstz timestamptz,
    d date, iv interval, b bytea, m money, x xml, t text)`;
}

/** Rows whose text form depends on the settings; built from constructors, so the inserting session's settings do not matter. */
export function valsRows(table = 'vals'): string {
  return `INSERT INTO ${table} VALUES
    (1, 0.1::real * 3::real, 0.1::float8 + 0.2::float8, 123456789.000000001, make_timestamp(2024, 1, 2, 3, 4, 5.123456),
     make_timestamptz(2024, 1, 2, 3, 4, 5.678, 'UTC'), make_date(2024, 1, 2),
     make_interval(years => 1, months => 2, days => -3, secs => 14706.789), '\\x00ff5c27'::bytea, 1234.56::money,
     XMLPARSE(CONTENT 'abc<b/>'), 'déjà vu, "quoted"'),
    (2, 3.4028235e38::real, 1e-310::float8, 1.50, make_timestamp(2024, 12, 31, 23, 59, 59.999999),
     to_timestamp(-2208988800), make_date(2024, 12, 31), make_interval(days => -1, hours => 2), ''::bytea, (-0.01)::money,
     XMLPARSE(DOCUMENT '<a>x</a>'), ''),
    (3, 'NaN'::real, '-0'::float8, 'NaN'::numeric, 'infinity'::timestamp, '-infinity'::timestamptz, make_date(-44, 3, 15),
     make_interval(mins => -90, secs => -0.5), '\\x5c'::bytea, 0::money, NULL, NULL),
    (4, NULL, 'NaN'::float8, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    (5, 1.17549435e-38::real, 1.7976931348623157e308::float8, -0.000000000000000000001, make_timestamp(1, 1, 1, 0, 0, 0),
     make_timestamptz(1999, 3, 28, 1, 30, 0, 'Asia/Kolkata'), make_date(1, 1, 1), make_interval(years => -1, secs => 1.000001),
     NULL, 92233720368547758.07::money, NULL, 'tab\there')`;
}

/**
 * Every value of the table in its binary send form, as hex text (the driver would read bytea as
 * the session's bytea_output writes it); xml as text: its output depends on no setting.
 */
export function fingerprint(table = 'vals'): string {
  return `SELECT id, encode(float4send(f4), 'hex') AS f4, encode(float8send(f8), 'hex') AS f8, encode(numeric_send(n), 'hex') AS n,
    encode(timestamp_send(ts), 'hex') AS ts, encode(timestamptz_send(tstz), 'hex') AS tstz, encode(date_send(d), 'hex') AS d,
    encode(interval_send(iv), 'hex') AS iv, encode(b, 'hex') AS b, encode(cash_send(m), 'hex') AS m, x::text AS x, t FROM ${table}`;
}

type Row = Record<string, unknown>;

/** The fingerprint rows of `table` in `sql`'s database. */
export async function fingerprintRows(sql: postgres.Sql, table = 'vals'): Promise<Row[]> {
  return [...(await sql.unsafe<Row[]>(`${fingerprint(table)} ORDER BY id`))];
}

/**
 * EXCEPT-compares `table` in `sql`'s database with `expected` (fingerprint rows read elsewhere),
 * both ways: a row or value restored differently shows up on one side.
 */
export async function expectSameRows(sql: postgres.Sql, expected: Row[], table = 'vals'): Promise<void> {
  expect(expected.length).toBeGreaterThan(0);
  const columns = 'id int, f4 text, f8 text, n text, ts text, tstz text, d text, iv text, b text, m text, x text, t text';
  await sql.unsafe('DROP TABLE IF EXISTS expected_fp');
  await sql.unsafe(`CREATE TABLE expected_fp AS SELECT * FROM jsonb_to_recordset($1::text::jsonb) AS r(${columns})`, [JSON.stringify(expected)]);
  const differences = await sql.unsafe<Row[]>(`
    (SELECT 'restored' AS side, * FROM (${fingerprint(table)} EXCEPT SELECT * FROM expected_fp) r)
    UNION ALL
    (SELECT 'original' AS side, * FROM (SELECT * FROM expected_fp EXCEPT ${fingerprint(table)}) o)
    ORDER BY id, side`);
  expect([...differences]).toEqual([]);
  const [count] = await sql.unsafe<{ n: number }[]>(`SELECT count(*)::int AS n FROM ${table}`);
  expect(count?.n).toBe(expected.length);
}

/** A test file's fixture: the odd role and database holding `tables` (filled), an odd and a plain target with the tables empty, and the rows as they were. */
export interface OddFixture {
  role: OddRole;
  odd: TestDatabase;
  oddTarget: TestDatabase;
  plain: TestDatabase;
  /** The rows of the first table, fingerprinted. */
  original: Row[];
}

/** Sets up an OddFixture (for a beforeAll); `tearDownOddFixture` drops it. */
export async function setUpOddFixture(tables: string[] = ['vals']): Promise<OddFixture> {
  const role = await createOddRole();
  const odd = await createOddDatabase(role);
  const oddTarget = await createOddDatabase(role);
  const plain = await createPlainDatabase();
  await odd.sql.unsafe(tables.map((t) => `${valsDdl(t)}; ${valsRows(t)}`).join('; '));
  for (const target of [oddTarget, plain]) await target.sql.unsafe(tables.map((t) => valsDdl(t)).join('; '));
  return { role, odd, oddTarget, plain, original: await fingerprintRows(odd.sql, tables[0]) };
}

/** Drops what `setUpOddFixture` made (whatever of it exists). */
export async function tearDownOddFixture(fixture: Partial<Pick<OddFixture, 'role' | 'plain'>>): Promise<void> {
  if (fixture.plain) await dropDatabase(fixture.plain);
  if (fixture.role) await dropOddRole(fixture.role);
}
