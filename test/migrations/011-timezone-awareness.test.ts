/**
 * 011_timezone_awareness end to end through `bin/migrate`: the bundled set 001–010 with generated
 * data, plus objects the bundled set never made (a table with a UTC-wall-clock default and a trigger
 * on a converted column, a view, a view on that view, materialized views with an index, a view in
 * another schema, a view on a partition, a partitioned table, a table without primary key, a table
 * that is timestamptz already), each view with grants and comments.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSampleData } from '../../src/sample/generate.js';
import { repoRoot, runCli, type CliResult } from '../support/cli.js';
import { adminUrl, createDatabase, dropDatabase, type TestDatabase } from '../support/database.js';
import { tempDir, writeMigrations } from '../support/migrations.js';
import { schemaSnapshot } from './snapshot.js';

const NAME = '011_timezone_awareness';
const RECORD = 'strata_011_timezone_awareness';
const NO_TIMESTAMP = 'no timestamp without time zone column remains in schema public';
const SAME_INSTANTS = 'sampled values are the same instants as before the conversion (rows not updated since)';
const MODULE_TEXT = fs.readFileSync(path.join(repoRoot, 'migrations', `${NAME}.js`), 'utf8');

type Sql = postgres.Sql;
type Step = { name: string; statements: { sql: string; rowCount: number | null }[]; notices: string[]; warnings?: string[] };
type RunDoc = { dryRun: boolean; applied: string[]; reverted: string[]; steps: Step[] };
type VerifyDoc = { ok: boolean; checks: { migration: string; check: string; ok: boolean; violations: number; sample: Record<string, unknown>[] }[] };

/** Every column of the user schemas' tables, views and materialized views with its type and default. */
async function columnTypes(sql: Sql): Promise<Record<string, string>> {
  const rows = await sql<{ key: string; def: string }[]>`
    SELECT format('%s.%s.%s', n.nspname, c.relname, a.attname) AS key,
           format_type(a.atttypid, a.atttypmod) || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '') AS def
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE n.nspname IN ('public', 'other') AND c.relkind IN ('r', 'p', 'v', 'm') AND a.attnum > 0 AND NOT a.attisdropped
      AND c.relname NOT IN ('schema_migrations', ${RECORD})`;
  return Object.fromEntries(rows.map((r) => [r.key, r.def]));
}

/** relfilenode of each named relation. */
async function relfilenodes(sql: Sql, names: string[]): Promise<Record<string, string>> {
  const rows = await sql<{ name: string; node: string }[]>`
    SELECT relname::text AS name, relfilenode::text AS node FROM pg_class WHERE relname = ANY(${names}) AND relnamespace = 'public'::regnamespace`;
  return Object.fromEntries(rows.map((r) => [r.name, r.node]));
}

/** Everything about the views except their column types: definition, options, owner, ACLs, comments, indexes, triggers. */
async function viewState(sql: Sql): Promise<Record<string, unknown>> {
  const rows = await sql<{ key: string; state: Record<string, unknown> }[]>`
    SELECT format('%s.%s', n.nspname, c.relname) AS key, jsonb_build_object(
      'kind', c.relkind, 'definition', pg_get_viewdef(c.oid), 'options', c.reloptions, 'owner', pg_get_userbyid(c.relowner),
      'acl', c.relacl::text, 'comment', obj_description(c.oid, 'pg_class'), 'populated', c.relispopulated,
      'columns', (SELECT jsonb_agg(jsonb_build_array(a.attname, col_description(c.oid, a.attnum), a.attacl::text, pg_get_expr(d.adbin, d.adrelid)) ORDER BY a.attnum)
                    FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                   WHERE a.attrelid = c.oid AND a.attnum > 0),
      'indexes', (SELECT jsonb_agg(jsonb_build_array(pg_get_indexdef(i.indexrelid), obj_description(i.indexrelid, 'pg_class'), i.indisclustered))
                    FROM pg_index i WHERE i.indrelid = c.oid),
      'triggers', (SELECT jsonb_agg(jsonb_build_array(pg_get_triggerdef(t.oid), t.tgenabled::text, obj_description(t.oid, 'pg_trigger')))
                     FROM pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal)) AS state
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname IN ('public', 'other') AND c.relkind IN ('v', 'm')`;
  return Object.fromEntries(rows.map((r) => [r.key, r.state]));
}

/**
 * Per timestamp/timestamptz column of every table: count and an order-independent digest of the
 * epochs. `extract(epoch from timestamp)` reads the value as UTC, from timestamptz it is the instant:
 * equal digests before and after mean "the same instants, read as UTC".
 */
async function instantDigests(sql: Sql): Promise<Record<string, string>> {
  const columns = await sql<{ rel: string; col: string }[]>`
    SELECT format('%I.%I', n.nspname, c.relname) AS rel, a.attname::text AS col
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname IN ('public', 'other') AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
      AND a.atttypid IN ('timestamp'::regtype, 'timestamptz'::regtype) AND c.relname NOT IN ('schema_migrations', ${RECORD})`;
  const digests: Record<string, string> = {};
  for (const { rel, col } of columns) {
    const [row] = await sql.unsafe<{ d: string }[]>(
      `SELECT count("${col}") || ':' || coalesce(md5(string_agg(extract(epoch from "${col}")::text, ',' ORDER BY extract(epoch from "${col}"))), '-') AS d FROM ${rel}`);
    digests[`${rel}.${col}`] = row!.d;
  }
  return digests;
}

function customSql(r: { reader: string; writer: string; owner: string }): string {
  return `
    CREATE TABLE legacy_events (id bigint PRIMARY KEY, happened_at timestamp NOT NULL DEFAULT now(),
                                recorded_at timestamp DEFAULT timezone('utc', now()), note text);
    CREATE INDEX legacy_events_happened ON legacy_events (happened_at);
    INSERT INTO legacy_events
    SELECT g, '2024-03-09 00:00'::timestamp + g * interval '7 minutes 3.000123 seconds',
           CASE WHEN g % 3 = 0 THEN NULL ELSE '2023-12-31 23:00'::timestamp + g * interval '1 hour' END, 'n' || g
    FROM generate_series(1, 20000) g;
    INSERT INTO legacy_events VALUES (-2, 'infinity', '-infinity', 'inf'), (-1, '1900-01-01 00:00:00.000001', '2100-12-31 23:59:59.999999', 'far');
    CREATE FUNCTION legacy_touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
    CREATE TRIGGER legacy_touch BEFORE UPDATE OF recorded_at ON legacy_events
      FOR EACH ROW WHEN (NEW.recorded_at IS NOT NULL) EXECUTE FUNCTION legacy_touch();
    ALTER TABLE legacy_events DISABLE TRIGGER legacy_touch;
    COMMENT ON TRIGGER legacy_touch ON legacy_events IS 'blocks ALTER TYPE: dropped and recreated';

    CREATE TABLE audit_log (id serial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now());
    INSERT INTO audit_log (at) VALUES ('2024-01-01 12:00+02');
    CREATE VIEW v_audit AS SELECT * FROM audit_log;

    CREATE VIEW v_events WITH (security_barrier = true, check_option = local) AS
      SELECT id, happened_at, note FROM legacy_events WHERE id < 1000;
    GRANT SELECT ON legacy_events TO ${r.owner};
    ALTER VIEW v_events OWNER TO ${r.owner};
    ALTER VIEW v_events ALTER COLUMN note SET DEFAULT 'from the view';
    GRANT SELECT ON v_events TO ${r.reader};
    GRANT SELECT (note), UPDATE (note) ON v_events TO ${r.writer};
    COMMENT ON VIEW v_events IS 'recent events';
    COMMENT ON COLUMN v_events.happened_at IS 'when it happened';

    CREATE VIEW v_events_per_day AS SELECT happened_at::date AS day, count(*) AS n FROM v_events GROUP BY 1;
    GRANT SELECT ON v_events_per_day TO ${r.reader} WITH GRANT OPTION;
    SET ROLE ${r.reader};
    GRANT SELECT ON v_events_per_day TO ${r.writer};
    RESET ROLE;
    COMMENT ON VIEW v_events_per_day IS 'per day, on a view';

    CREATE MATERIALIZED VIEW mv_daily AS
      SELECT date_trunc('day', happened_at) AS day, count(*) AS n, max(recorded_at) AS last_recorded FROM legacy_events GROUP BY 1;
    CREATE UNIQUE INDEX mv_daily_day ON mv_daily (day);
    COMMENT ON INDEX mv_daily_day IS 'one row per day';
    ALTER MATERIALIZED VIEW mv_daily CLUSTER ON mv_daily_day;
    GRANT SELECT ON mv_daily TO ${r.reader};
    COMMENT ON MATERIALIZED VIEW mv_daily IS 'daily counts';
    CREATE MATERIALIZED VIEW mv_unpopulated AS SELECT id, recorded_at FROM legacy_events WITH NO DATA;

    CREATE SCHEMA other;
    CREATE TABLE other.elsewhere (id int PRIMARY KEY, at timestamp);
    INSERT INTO other.elsewhere VALUES (1, '2024-01-01 00:00');
    CREATE VIEW other.v_cross AS SELECT e.id, e.happened_at, o.at FROM public.legacy_events e JOIN other.elsewhere o ON o.id = e.id;
    GRANT SELECT ON other.v_cross TO ${r.reader};

    CREATE TABLE metrics (id int, region int, taken_at timestamp DEFAULT now(), value float8, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
    CREATE TABLE metrics_1 PARTITION OF metrics FOR VALUES IN (1);
    CREATE TABLE metrics_2 PARTITION OF metrics FOR VALUES IN (2);
    CREATE INDEX metrics_taken ON metrics (taken_at);
    INSERT INTO metrics SELECT g, 1 + g % 2, '2024-05-01'::timestamp + g * interval '1 minute', g FROM generate_series(1, 2000) g;
    CREATE VIEW v_metrics_1 AS SELECT id, taken_at FROM metrics_1;

    CREATE TABLE nopk (a timestamp, b int);
    INSERT INTO nopk SELECT '2024-01-01'::timestamp + g * interval '1 day', g FROM generate_series(1, 40) g;`;
}

const HEAPS = ['conversations', 'messages', 'users', 'user_profiles', 'transcripts', 'legacy_events', 'metrics_1', 'metrics_2', 'nopk', 'audit_log', 'schema_migrations'];
const COLUMN_INDEXES = ['legacy_events_happened', 'idx_conversations_user', 'idx_messages_conversation', 'metrics_1_taken_at_idx', 'metrics_2_taken_at_idx'];
const OTHER_INDEXES = ['legacy_events_pkey', 'conversations_pkey', 'messages_pkey', 'metrics_1_pkey', 'audit_log_pkey'];

describe('011_timezone_awareness through the CLI, on the bundled schema plus objects it did not create', () => {
  let db: TestDatabase;
  let sql: Sql;
  const suffix = randomBytes(4).toString('hex');
  const roles = { reader: `tz_reader_${suffix}`, writer: `tz_writer_${suffix}`, owner: `tz_owner_${suffix}` };
  const cli = (...args: string[]) => runCli(['--bundled', ...args], { env: { DATABASE_URL: db.url }, timeoutMs: 120_000 });
  const before: { types: Record<string, string>; nodes: Record<string, string>; views: Record<string, unknown>; instants: Record<string, string>; schema: string[]; vAuditOid: string; trigger: unknown } =
    { types: {}, nodes: {}, views: {}, instants: {}, schema: [], vAuditOid: '', trigger: null };
  const tableTrigger = async () => (await sql`
    SELECT pg_get_triggerdef(oid) AS def, tgenabled::text AS enabled, obj_description(oid, 'pg_trigger') AS comment
    FROM pg_trigger WHERE tgname = 'legacy_touch'`)[0];
  let up: CliResult;

  beforeAll(async () => {
    db = await createDatabase();
    sql = db.sql;
    for (const role of Object.values(roles)) await sql.unsafe(`CREATE ROLE ${role}`);
    expect((await cli('up', 'mvp')).code).toBe(0);
    await generateSampleData(sql, { users: 60, seed: 11, conversationsPerUser: 4, messagesPerConversation: 5 });
    const to010 = await cli('up', 'user_profiles');
    expect(to010.code, to010.stderr).toBe(0);
    await sql.unsafe(customSql(roles));
    before.types = await columnTypes(sql);
    before.nodes = await relfilenodes(sql, [...HEAPS, ...COLUMN_INDEXES, ...OTHER_INDEXES]);
    before.views = await viewState(sql);
    before.instants = await instantDigests(sql);
    before.schema = await schemaSnapshot(sql);
    before.vAuditOid = (await sql`SELECT 'v_audit'::regclass::oid::text AS oid`)[0]!.oid;
    before.trigger = await tableTrigger();
  });

  afterAll(async () => {
    if (db) await dropDatabase(db);
    const admin = postgres(adminUrl(), { max: 1, onnotice: () => {} });
    for (const role of Object.values(roles)) await admin.unsafe(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
    await admin.end();
  });

  it('a dry run lists one ALTER TABLE per table with every timestamp column, no USING, and changes nothing', async () => {
    const result = await cli('up', '--dry-run', '--json');
    expect(result.code, result.stderr).toBe(0);
    const step = result.json<RunDoc>().steps.find((s) => s.name === NAME)!;
    const alters = step.statements.map((s) => s.sql).filter((s) => /^ALTER TABLE "public"\."[^"]+" ALTER COLUMN/.test(s));
    const expected = new Map<string, string[]>();
    for (const [key, def] of Object.entries(before.types)) {
      const [schema, table, column] = key.split('.') as [string, string, string];
      if (schema !== 'public' || !def.startsWith('timestamp without') || /^(v_|mv_|metrics_\d)/.test(table)) continue;
      expected.set(table, [...(expected.get(table) ?? []), column]);
    }
    const altered = new Map(alters.map((a) => [/^ALTER TABLE "public"\."([^"]+)"/.exec(a)![1]!, [...a.matchAll(/ALTER COLUMN "([^"]+)" TYPE timestamptz/g)].map((m) => m[1]!)]));
    expect(Object.fromEntries([...altered].map(([t, c]) => [t, [...c].sort()]))).toEqual(Object.fromEntries([...expected].map(([t, c]) => [t, [...c].sort()])));
    expect(altered.has('metrics')).toBe(true); // the partitioned parent, never its partitions
    expect(alters.join('\n')).not.toContain('USING');
    expect(step.statements.map((s) => s.sql)).toContain("SET LOCAL timezone = 'UTC'");
    expect(step.statements.map((s) => s.sql).some((s) => s.startsWith("SELECT set_config('maintenance_work_mem', '256MB', true)"))).toBe(true);
    expect(alters).toContain(`ALTER TABLE "public"."legacy_events" ALTER COLUMN "happened_at" TYPE timestamptz, ALTER COLUMN "recorded_at" TYPE timestamptz, ` +
      `ALTER COLUMN "recorded_at" SET DEFAULT (timezone('utc'::text, now())) AT TIME ZONE 'UTC'`);
    expect(step.notices).toContain('legacy_events: happened_at, recorded_at → timestamptz read as UTC; catalog-only, the table is not rewritten (indexes on these columns are rebuilt)');
    expect(step.notices).toContain('metrics: taken_at → timestamptz read as UTC (and its 2 partitions/children, through it); catalog-only, the table is not rewritten (indexes on these columns are rebuilt)');
    expect(result.stderr).toContain('dry run: nothing was changed');
    expect(await columnTypes(sql)).toEqual(before.types);
    expect(await viewState(sql)).toEqual(before.views);
    const [left] = await sql`SELECT to_regclass(${RECORD}) IS NULL AS gone, (SELECT count(*)::int FROM schema_migrations WHERE name = ${NAME}) AS history`;
    expect(left).toEqual({ gone: true, history: 0 });
  });

  it('up converts every timestamp column of the schema and nothing else', async () => {
    up = await cli('up', '--json');
    expect(up.code, up.stderr).toBe(0);
    expect(up.json<RunDoc>().applied).toEqual([NAME]);
    const after = await columnTypes(sql);
    for (const [key, def] of Object.entries(before.types)) {
      // Every timestamp column of public, and a view elsewhere on a converted column.
      const converts = (key.startsWith('public.') || key === 'other.v_cross.happened_at') && def.startsWith('timestamp without time zone');
      const expected = converts ? def.replace('timestamp without time zone', 'timestamp with time zone') : def;
      if (key === 'public.legacy_events.recorded_at') continue; // its default changes, below
      expect(`${key} ${after[key]}`).toBe(`${key} ${expected}`);
    }
    expect(Object.keys(after).sort()).toEqual(Object.keys(before.types).sort());
    expect(after['other.elsewhere.at']).toBe('timestamp without time zone'); // another schema: not 011's
    expect(after['other.v_cross.happened_at']).toBe('timestamp with time zone'); // but a view there on a converted column follows it
  });

  it('rewrites no heap (partitions included): only indexes on converted columns are rebuilt', async () => {
    const after = await relfilenodes(sql, [...HEAPS, ...COLUMN_INDEXES, ...OTHER_INDEXES]);
    for (const name of [...HEAPS, ...OTHER_INDEXES]) expect(`${name} ${after[name]}`).toBe(`${name} ${before.nodes[name]}`);
    for (const name of COLUMN_INDEXES) {
      expect(before.nodes[name]).toBeDefined();
      expect(`${name} ${after[name]}`).not.toBe(`${name} ${before.nodes[name]}`);
    }
  });

  it('keeps every stored value as the same instant, read as UTC', async () => {
    const after = await instantDigests(sql);
    expect(after).toEqual(before.instants);
    const [edge] = await sql`SELECT (SELECT happened_at::text FROM legacy_events WHERE id = -2) AS inf,
                                    (SELECT recorded_at::text FROM legacy_events WHERE id = -2) AS minus_inf,
                                    (SELECT extract(epoch from happened_at)::text FROM legacy_events WHERE id = -1) AS far`;
    expect(edge).toEqual({ inf: 'infinity', minus_inf: '-infinity', far: '-2208988799.999999' });
  });

  it('keeps defaults working: now() stays now(); a UTC-wall-clock default becomes the same instant in any session zone', async () => {
    const after = await columnTypes(sql);
    expect(after['public.conversations.created_at']).toBe('timestamp with time zone default now()');
    expect(after['public.legacy_events.recorded_at']).toBe("timestamp with time zone default (timezone('utc'::text, now()) AT TIME ZONE 'UTC'::text)");
    const rows = await sql.begin(async (tx) => {
      await tx`SET LOCAL timezone = 'America/New_York'`;
      await tx`INSERT INTO legacy_events (id) VALUES (-100)`;
      await tx`INSERT INTO conversations (user_id) VALUES ('tz-default-check')`;
      const [row] = await tx`
        SELECT (SELECT happened_at = now() AND recorded_at = now() FROM legacy_events WHERE id = -100) AS events,
               (SELECT created_at = now() AND updated_at = now() FROM conversations WHERE user_id = 'tz-default-check') AS conversations`;
      await tx`DELETE FROM legacy_events WHERE id = -100`;
      await tx`DELETE FROM conversations WHERE user_id = 'tz-default-check'`;
      return row;
    });
    expect(rows).toEqual({ events: true, conversations: true });
  });

  it('recreates dependent views, views on views and materialized views with grants, comments, owners, options, indexes, populated state', async () => {
    const after = await viewState(sql);
    expect(after).toEqual(before.views);
    expect(before.trigger).toMatchObject({ enabled: 'D', comment: 'blocks ALTER TYPE: dropped and recreated' });
    expect(await tableTrigger()).toEqual(before.trigger); // UPDATE OF recorded_at … WHEN: blocks ALTER TYPE, so it is recreated
    const [oid] = await sql`SELECT 'v_audit'::regclass::oid::text AS oid`;
    expect(oid!.oid).toBe(before.vAuditOid); // on a timestamptz table: left alone
    const [counts] = await sql`SELECT (SELECT count(*)::int FROM mv_daily) AS mv, (SELECT count(*)::int FROM (SELECT DISTINCT date_trunc('day', happened_at) FROM legacy_events) d) AS days,
                                      (SELECT count(*)::int FROM v_events_per_day) AS per_day`;
    expect(counts!.mv).toBe(counts!.days);
    expect(counts!.per_day).toBeGreaterThan(0);
    const notices = up.json<{ steps: { name: string; notices: string[] }[] }>().steps.find((s) => s.name === '011_timezone_awareness')?.notices ?? [];
    expect(notices.join('\n')).toMatch(/recreated 6 dependent views: .*"public"\."v_events".*"public"\."v_events_per_day"/);
  });

  it('verify passes, and reports a timestamp column added later and a sampled value that differs', async () => {
    const ok = await cli('verify', '--json');
    expect(ok.code, ok.stdout).toBe(0);
    const checks = ok.json<VerifyDoc>().checks.filter((c) => c.migration === NAME).map((c) => [c.check, c.ok]);
    expect(checks).toEqual([['checksum', true], [NO_TIMESTAMP, true], [SAME_INSTANTS, true]]);

    // A row updated since 011 is no longer comparable, and not a violation.
    await sql`UPDATE legacy_events SET happened_at = happened_at + interval '1 hour' WHERE id = 1`;
    expect((await cli('verify')).code).toBe(0);

    await sql`ALTER TABLE legacy_events ADD COLUMN later timestamp`;
    // What a wrong conversion looks like to verify: the instant recorded before it differs from the row's.
    const record = sql`SELECT sample::text AS sample FROM ${sql(RECORD)} WHERE table_name = 'legacy_events' AND column_name = 'happened_at'`;
    const [{ sample: original }] = await record as unknown as [{ sample: string }];
    await sql.unsafe(`UPDATE ${RECORD} SET sample = (SELECT jsonb_agg(CASE WHEN e -> 'key' ->> 'id' = '2' THEN jsonb_set(e, '{instant}', '"2001-01-01T00:00:00+00:00"') ELSE e END)
                                                     FROM jsonb_array_elements(sample) e)
                      WHERE table_name = 'legacy_events' AND column_name = 'happened_at'`);
    try {
      const bad = await cli('verify', '--json');
      expect(bad.code).toBe(1);
      const failed = bad.json<VerifyDoc>().checks.filter((c) => !c.ok);
      expect(failed.map((c) => [c.check, c.violations])).toEqual([[NO_TIMESTAMP, 1], [SAME_INSTANTS, 1]]);
      expect(failed[0]!.sample).toEqual([{ table_name: 'legacy_events', column_name: 'later', kind: 'table' }]);
      expect(failed[1]!.sample[0]).toMatchObject({ table: 'legacy_events', column: 'happened_at', recorded: '2001-01-01T00:00:00+00:00' });
    } finally {
      await sql`ALTER TABLE legacy_events DROP COLUMN later`;
      await sql`UPDATE ${sql(RECORD)} SET sample = ${original}::text::jsonb WHERE table_name = 'legacy_events' AND column_name = 'happened_at'`;
      await sql`UPDATE legacy_events SET happened_at = happened_at - interval '1 hour' WHERE id = 1`;
    }
    expect((await cli('verify')).code).toBe(0);
  });

  it('--rollback converts back as UTC wall-clock times, catalog-only, and restores schema, views and values exactly', async () => {
    const down = await cli('timezone_awareness', '--rollback', '--json');
    expect(down.code, down.stderr).toBe(0);
    expect(down.json<RunDoc>().reverted).toEqual([NAME]);
    expect(await columnTypes(sql)).toEqual(before.types);
    expect(await viewState(sql)).toEqual(before.views);
    expect(await instantDigests(sql)).toEqual(before.instants);
    expect(await schemaSnapshot(sql)).toEqual(before.schema);
    const after = await relfilenodes(sql, HEAPS);
    for (const name of HEAPS) expect(`${name} ${after[name]}`).toBe(`${name} ${before.nodes[name]}`);
    const [left] = await sql`SELECT to_regclass(${RECORD}) IS NULL AS gone`;
    expect(left!.gone).toBe(true);
    expect(after.audit_log).toBe(before.nodes.audit_log);
  });

  it('re-applies and verifies again; `check` passes for the whole bundled set 001–011', async () => {
    const again = await cli('up');
    expect(again.code, again.stderr).toBe(0);
    expect((await cli('verify')).code).toBe(0);
    const check = await runCli(['--bundled', 'check', '--json'], { env: { DATABASE_URL: db.url }, timeoutMs: 120_000 });
    expect(check.code, check.stdout).toBe(0);
    const report = check.json<{ ok: boolean; steps: { migration: string; action: string; ok: boolean }[] }>();
    expect(report.ok).toBe(true);
    expect(report.steps.filter((s) => s.migration === NAME).map((s) => s.action)).toEqual(['up', 'verify', 'down', 'compare', 'up', 'verify']);
    expect(new Set(report.steps.map((s) => s.migration))).toEqual(new Set([
      '001_mvp', '002_add_user_tables', '003_add_program_tables', '004_add_transcripts', '010_user_profiles', NAME]));
  });
});

describe('011_timezone_awareness with --assume-timezone, and what it refuses', () => {
  let db: TestDatabase;
  let sql: Sql;
  const dir = writeMigrations({
    '001_events': {
      up: `CREATE TABLE events (id int PRIMARY KEY, at timestamp, note text);
           CREATE INDEX events_at ON events (at);
           INSERT INTO events VALUES (1, '2024-01-15 12:00', 'winter'), (2, '2024-07-15 12:00', 'summer'),
                                     (3, '2024-03-10 02:30', 'in the spring-forward gap'), (4, NULL, 'none');
           CREATE TABLE plain (at timestamp);
           INSERT INTO plain VALUES ('2024-01-15 12:00');\n`,
      down: 'DROP TABLE plain;\nDROP TABLE events;\n',
    },
  });
  fs.writeFileSync(path.join(dir, '002_timezone_awareness.js'), MODULE_TEXT);
  const work = tempDir('strata-tz011-'); // backups of the non-UTC run land here, not in the checkout
  const cli = (...args: string[]) => runCli(['--migrations', dir, ...args], { cwd: work, env: { DATABASE_URL: db.url } });
  const history = async () => (await sql`SELECT name FROM schema_migrations ORDER BY name`.catch(() => [])).map((r) => r.name as string);
  const node = async () => (await sql`SELECT relfilenode::text AS n FROM pg_class WHERE relname = 'events'`)[0]!.n as string;

  beforeAll(async () => { db = await createDatabase(); sql = db.sql; });
  afterAll(async () => { if (db) await dropDatabase(db); });

  it('refuses an unknown zone before anything of the run is applied', async () => {
    const result = await cli('up', '--assume-timezone', 'Mars/Olympus');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--assume-timezone "Mars/Olympus" is not a time zone PostgreSQL knows');
    expect(await history()).toEqual([]);
    const [t] = await sql`SELECT to_regclass('events') IS NULL AS gone`;
    expect(t!.gone).toBe(true);
  });

  it('a zero-offset alias (Etc/UTC) is the catalog-only UTC form: no confirmation, no rewrite', async () => {
    expect((await cli('up', 'events')).code).toBe(0);
    const relfilenode = await node();
    const result = await cli('up', '--assume-timezone', 'etc/utc');
    expect(result.code, result.stderr).toBe(0);
    expect(await node()).toBe(relfilenode);
    const [row] = await sql`SELECT assumed_zone, rewritten FROM ${sql(RECORD)} WHERE table_name = 'events'`;
    expect(row).toEqual({ assumed_zone: 'Etc/UTC', rewritten: false });
    expect((await cli('down')).code).toBe(0);
  });

  it('another zone: declared destructive (confirmation), said to rewrite, values read as wall-clock times there', async () => {
    const relfilenode = await node();
    const refused = await cli('up', '--assume-timezone', 'America/New_York');
    expect(refused.code).toBe(6);
    expect(refused.stderr).toMatch(/destroys data in public\.events, public\.plain/);
    const dry = await cli('up', '--assume-timezone', 'America/New_York', '--dry-run', '--json');
    expect(dry.code).toBe(0);
    const step = dry.json<RunDoc>().steps[0]!;
    // A warning (the runner keeps warnings in `warnings` or, before it had them, in `notices`).
    expect([...step.notices, ...(step.warnings ?? [])]).toContain('events: at → timestamptz read as America/New_York; the table WILL BE REWRITTEN (USING … AT TIME ZONE)');
    expect(step.statements.map((s) => s.sql)).toContain(`ALTER TABLE "public"."events" ALTER COLUMN "at" TYPE timestamptz USING "at" AT TIME ZONE 'America/New_York'`);
    expect(await node()).toBe(relfilenode);

    const result = await cli('up', '--assume-timezone', 'America/New_York', '--yes', '--json');
    expect(result.code, result.stderr).toBe(0);
    const backups = result.json<{ backups: string[] }>().backups;
    expect(backups).toHaveLength(1);
    expect(fs.readdirSync(path.resolve(work, backups[0]!)).sort()).toEqual(['manifest.json', 'public.events.csv', 'public.plain.csv']);
    expect(await node()).not.toBe(relfilenode);
    const rows = await sql`SELECT id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') AS utc FROM events ORDER BY id`;
    expect(rows.map((r) => [r.id, r.utc])).toEqual([[1, '2024-01-15 17:00'], [2, '2024-07-15 16:00'], [3, '2024-03-10 07:30'], [4, null]]);
    // The sample was re-keyed to the rewritten rows' xmins: verify compares them.
    const verify = await cli('verify', '--json');
    expect(verify.code, verify.stdout).toBe(0);
  });

  it('down converts back in the zone up read the values in: the original wall-clock times return, the tables rewritten and declared', async () => {
    const [recorded] = await sql`SELECT DISTINCT assumed_zone FROM ${sql(RECORD)}`;
    expect(recorded!.assumed_zone).toBe('America/New_York');
    const refused = await cli('down');
    expect(refused.code).toBe(6);
    expect(refused.stderr).toMatch(/destroys data in public\.events, public\.plain/);
    const relfilenode = await node();
    const dry = await cli('down', '--dry-run', '--json');
    expect(dry.code, dry.stderr).toBe(0);
    const step = dry.json<RunDoc>().steps[0]!;
    expect([...step.notices, ...(step.warnings ?? [])]).toContain('events: at → timestamp (America/New_York wall-clock); the table WILL BE REWRITTEN (USING … AT TIME ZONE)');
    expect(step.statements.map((s) => s.sql)).toContain(`ALTER TABLE "public"."events" ALTER COLUMN "at" TYPE timestamp USING "at" AT TIME ZONE 'America/New_York'`);
    expect(await node()).toBe(relfilenode);

    const down = await cli('down', '--yes', '--json');
    expect(down.code, down.stderr).toBe(0);
    expect(down.json<{ backups: string[] }>().backups).toHaveLength(1);
    expect(await node()).not.toBe(relfilenode);
    // 12:00 in New York was 17:00 UTC after up, and is 12:00 again. 02:30 on 2024-03-10 does not
    // exist in New York (clocks jump from 02:00 to 03:00): up read it as 03:30 EDT, and so it stays.
    const back = await sql`SELECT id, at::text AS at FROM events ORDER BY id`;
    expect(back.map((r) => [r.id, r.at])).toEqual([[1, '2024-01-15 12:00:00'], [2, '2024-07-15 12:00:00'], [3, '2024-03-10 03:30:00'], [4, null]]);
    const [plain] = await sql`SELECT at::text AS at FROM plain`;
    expect(plain!.at).toBe('2024-01-15 12:00:00');
    const [gone] = await sql`SELECT to_regclass(${RECORD}) IS NULL AS gone`;
    expect(gone!.gone).toBe(true);
  });

  it('refuses a partition key column, whose type PostgreSQL cannot change, with nothing changed', async () => {
    await sql`CREATE TABLE by_day (id int, at timestamp NOT NULL, other timestamp) PARTITION BY RANGE (at)`;
    await sql`CREATE TABLE by_day_2024 PARTITION OF by_day FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')`;
    await sql`CREATE TABLE by_week (id int, at timestamp NOT NULL) PARTITION BY RANGE (date_trunc('week', at))`;
    try {
      const result = await cli('up');
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/cannot convert public\.by_day\.at, public\.by_week\.at: part of a partition key/);
      expect(await history()).toEqual(['001_events']);
      const [t] = await sql`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'events'::regclass AND attname = 'at'`;
      expect(t!.t).toBe('timestamp without time zone');
    } finally {
      await sql`DROP TABLE by_day, by_week`;
    }
  });

  it('down converts back only the columns 011 converted: a column that was timestamptz before stays so', async () => {
    await sql`CREATE TABLE born_aware (id int PRIMARY KEY, at timestamptz)`;
    expect((await cli('up')).code).toBe(0);
    expect((await cli('down')).code).toBe(0);
    const types = await sql`SELECT attrelid::regclass::text AS rel, format_type(atttypid, atttypmod) AS t FROM pg_attribute
                            WHERE attname = 'at' AND attrelid IN ('events'::regclass, 'plain'::regclass, 'born_aware'::regclass) ORDER BY 1`;
    expect(types.map((r) => [r.rel, r.t])).toEqual([['born_aware', 'timestamp with time zone'], ['events', 'timestamp without time zone'], ['plain', 'timestamp without time zone']]);
  });
});
