import { beforeAll, describe, expect, it } from 'vitest';
import type { DestroyedTable, MigrationContext, MigrationModule } from '../../src/core/types.js';
import { generateSampleData } from '../../src/sample/generate.js';
import { useDatabase } from '../support/database.js';
import { type Client, inRollback, loadModule, runChecks, runStep, type StepOutput } from './apply.js';
import { buildModel, md5Uuid, type Model, readMvp, sortBy } from './model.js';
import { mvpDigest, schemaSnapshot, tableDigest } from './snapshot.js';

const NAME = '002_add_user_tables';

interface PersonaVectorPlan { columnType: 'vector' | 'real[]'; createExtension: boolean; warning: string | null }
type Module002 = MigrationModule & {
  planPersonaVector(probe: { available: boolean; installed: boolean }): PersonaVectorPlan;
  personaTableStatement(sql: unknown, plan: PersonaVectorPlan, typeSchema: string): { describe(): Promise<unknown> };
  CREATED_EXTENSION_MARKER: string;
};

describe('planPersonaVector (pure)', () => {
  let mod: Module002;
  beforeAll(async () => { mod = await loadModule<Module002>(NAME); });

  it('uses pgvector and creates the extension when it is available but not installed', () => {
    expect(mod.planPersonaVector({ available: true, installed: false }))
      .toEqual({ columnType: 'vector', createExtension: true, warning: null });
  });

  it('uses an installed pgvector without creating (or later dropping) it', () => {
    expect(mod.planPersonaVector({ available: true, installed: true }))
      .toEqual({ columnType: 'vector', createExtension: false, warning: null });
  });

  it('falls back to real[] with one warning line when pgvector is not available', () => {
    const plan = mod.planPersonaVector({ available: false, installed: false });
    expect(plan.columnType).toBe('real[]');
    expect(plan.createExtension).toBe(false);
    expect(plan.warning).toMatch(/not available.*real\[\].*1536/);
    expect(plan.warning).not.toContain('\n');
  });
});

describe('002_add_user_tables on generated data', () => {
  const db = useDatabase();
  let sql: Client;
  let model: Model;
  let schemaBefore: string[];
  let mvpBefore: string;
  let upOutput: StepOutput;

  beforeAll(async () => {
    sql = db.current.sql;
    await runStep(db.current.url, '001_mvp', 'up');
    await generateSampleData(db.current.sql, { users: 120, seed: 7, conversationsPerUser: 5, messagesPerConversation: 8 });
    // Hand-made ids: one UUID spelled in both cases (the upper-case spelling is older), a UUID in
    // braces (not the canonical text: an opaque id), and a user whose only conversation is empty.
    await sql`
      INSERT INTO conversations (id, user_id, created_at, updated_at) VALUES
        ('00000000-0000-4000-8000-000000000001', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', '2024-01-01 10:00', '2024-01-01 11:00'),
        ('00000000-0000-4000-8000-000000000002', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '2024-01-02 10:00', '2024-01-03 11:00'),
        ('00000000-0000-4000-8000-000000000003', '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12}', '2024-01-02 10:00', '2024-01-02 10:00'),
        ('00000000-0000-4000-8000-000000000004', 'fb_quiet_user_without_messages', '2024-02-01 09:00', '2024-02-05 09:00')`;
    await sql`
      INSERT INTO messages (id, conversation_id, role, content, created_at) VALUES
        ('00000000-0000-4000-8000-0000000000a1', '00000000-0000-4000-8000-000000000002', 'user', 'hi', '2024-01-02 10:00:00'),
        ('00000000-0000-4000-8000-0000000000a2', '00000000-0000-4000-8000-000000000002', 'assistant', 'hello', '2024-01-02 10:00:30'),
        ('00000000-0000-4000-8000-0000000000a3', '00000000-0000-4000-8000-000000000001', 'user', 'again', '2024-01-01 10:00:00'),
        ('00000000-0000-4000-8000-0000000000a4', '00000000-0000-4000-8000-000000000001', 'assistant', 'yes', '2024-01-01 10:01:30')`;
    await sql`UPDATE conversations c SET message_count = (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id)`;
    model = buildModel(await readMvp(sql));
    schemaBefore = await schemaSnapshot(sql);
    mvpBefore = await mvpDigest(sql);
    upOutput = await runStep(db.current.url, NAME, 'up');
  });

  it('creates one user per distinct user_id, UUIDs compared case-insensitively (SPEC §8 mapping)', async () => {
    const rows = await sql<{ user_id: string; external_id: string | null; created: string; email: string | null }[]>`
      SELECT user_id::text, external_id, email, (extract(epoch from created_at) * 1000000)::bigint::text AS created FROM users`;
    const actual = sortBy(rows.map((r) => ({ userId: r.user_id, externalId: r.external_id, createdAt: BigInt(r.created) })), (u) => u.userId);
    expect(actual).toEqual(sortBy(model.users, (u) => u.userId));
    expect(rows.every((r) => r.email === null)).toBe(true);
    expect(upOutput.info.join('\n')).toMatch(new RegExp(`backfilled ${model.users.length} users`));
  });

  it('keeps a UUID user_id (one user for both spellings, external_id NULL) and maps anything else with md5', async () => {
    const rows = await sql<{ user_id: string; external_id: string | null; created_at: string }[]>`
      SELECT user_id::text, external_id, created_at::text FROM users
      WHERE user_id IN ('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', ${md5Uuid('strata-user:{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12}')})
      ORDER BY created_at`;
    expect(rows).toEqual([
      { user_id: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', external_id: null, created_at: '2024-01-01 10:00:00' },
      { user_id: md5Uuid('strata-user:{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12}'), external_id: '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12}', created_at: '2024-01-02 10:00:00' },
    ]);
    // The generated set has such users too (UUIDs spelled in both cases across conversations).
    const [mixed] = await sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM (SELECT lower(user_id) FROM conversations
        WHERE user_id ~* '^[0-9a-f-]{36}$' GROUP BY 1 HAVING count(DISTINCT user_id) > 1) x`;
    expect(mixed!.n).toBeGreaterThan(1);
  });

  it('fills engagement_analytics for every user: totals, last activity, mean response time', async () => {
    const rows = await sql<{ user_id: string; analytics_id: string; total_messages: number; last: string | null; avg: string | null }[]>`
      SELECT user_id::text, analytics_id::text, total_messages,
             (extract(epoch from last_activity) * 1000000)::bigint::text AS last,
             (extract(epoch from avg_response_time) * 1000000)::text AS avg
      FROM engagement_analytics`;
    expect(rows).toHaveLength(model.users.length);
    const expected = new Map(model.analytics.map((a) => [a.userId, a]));
    for (const row of rows) {
      const e = expected.get(row.user_id)!;
      expect({ id: row.analytics_id, total: row.total_messages, last: row.last === null ? null : BigInt(row.last) })
        .toEqual({ id: e.analyticsId, total: e.totalMessages, last: e.lastActivity });
      if (e.avgResponseMicros === null) expect(row.avg).toBeNull();
      else expect(Math.abs(Number(row.avg) - e.avgResponseMicros)).toBeLessThanOrEqual(1);
    }
    // Users without messages are there, with 0 and their last conversation's activity.
    const quiet = rows.find((r) => r.user_id === md5Uuid('strata-user:fb_quiet_user_without_messages'));
    expect(quiet).toMatchObject({ total_messages: 0, avg: null });
    expect(model.analytics.filter((a) => a.totalMessages === 0).length).toBeGreaterThan(1);
    // The hand-made pair: user at 10:00:00, assistant 30 s later / 90 s later → mean 60 s.
    const pair = rows.find((r) => r.user_id === 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');
    expect(Number(pair!.avg)).toBe(60_000_000);
  });

  it('falls back to real[] with a CHECK on 1536 dimensions (no pgvector here) and warns once', async () => {
    expect(upOutput.warnings).toHaveLength(1);
    expect(upOutput.warnings[0]).toMatch(/pgvector.*not available/);
    const [column] = await sql<{ type: string; comment: string }[]>`
      SELECT format_type(atttypid, atttypmod) AS type, col_description(attrelid, attnum) AS comment
      FROM pg_attribute WHERE attrelid = 'user_persona'::regclass AND attname = 'vector_data'`;
    expect(column!.type).toBe('real[]');
    const mod = await loadModule<Module002>(NAME);
    expect(column!.comment).not.toContain(mod.CREATED_EXTENSION_MARKER);

    const userId = model.users[0]!.userId;
    const attempt = async (vector: string | null) => {
      try {
        await inRollback(db.current.sql, async (tx) => {
          await tx.unsafe(`INSERT INTO user_persona (user_id, vector_data) VALUES ($1, ${vector === null ? 'NULL' : vector})`, [userId]);
        });
        return 'ok';
      } catch (error) {
        return (error as { code?: string }).code;
      }
    };
    expect(await attempt(null)).toBe('ok');
    expect(await attempt('array_fill(0.5::real, ARRAY[1536])')).toBe('ok');
    expect(await attempt('array_fill(0.5::real, ARRAY[1535])')).toBe('23514');
    expect(await attempt('array_fill(0.5::real, ARRAY[2, 768])')).toBe('23514');
    expect(await attempt("'{}'::real[]")).toBe('23514');
    expect(await attempt('array_append(array_fill(0.5::real, ARRAY[1535]), NULL)')).toBe('23514');
  });

  describe('the pgvector path, as far as a server without pgvector can take it', () => {
    const ctx = (tx: Client, direction: 'up' | 'down', output: string[] = []) => ({
      sql: tx, direction, dryRun: false, schema: 'public', options: {},
      log: { info: () => {}, warn: (m: string) => output.push(m), debug: () => {} },
    }) as unknown as MigrationContext;

    it('writes a user_persona DDL that PostgreSQL parses, vector(1536) in the extension schema', async () => {
      const mod = await loadModule<Module002>(NAME);
      // Parse/Describe of a utility statement checks its syntax without running it (no type lookup).
      const plan = mod.planPersonaVector({ available: true, installed: false });
      await expect(mod.personaTableStatement(db.current.sql, plan, 'ext schema').describe()).resolves.toBeDefined();
      await expect(db.current.sql`CREATE TABLE t (v "ext schema".vector(1536) junk)`.describe()).rejects.toThrow(/syntax/);
    });

    it('creates the extension when the catalog lists it as available', async () => {
      const mod = await loadModule<Module002>(NAME);
      let error: unknown;
      const warnings: string[] = [];
      // A pg_available_extensions that lists vector, ahead of pg_catalog on the search_path: up
      // probes, plans pgvector and runs CREATE EXTENSION first, before any table exists.
      await inRollback(db.current.sql, async (tx) => {
        await tx`CREATE VIEW public.pg_available_extensions AS SELECT 'vector'::name AS name`;
        await tx`SET LOCAL search_path = public, pg_catalog`;
        try { await mod.up(ctx(tx, 'up', warnings)); } catch (e) { error = e; }
      });
      expect(String((error as Error).message)).toMatch(/extension "vector" is not available/);
      expect(warnings).toEqual([]);
    });

    it('drops the extension on down only when the column comment says 002 created it', async () => {
      const mod = await loadModule<Module002>(NAME);
      let error: unknown;
      await inRollback(db.current.sql, async (tx) => {
        await tx.unsafe(`COMMENT ON COLUMN user_persona.vector_data IS 'embedding; ${mod.CREATED_EXTENSION_MARKER}'`);
        try { await mod.down!(ctx(tx, 'down')); } catch (e) { error = e; }
      });
      // There is no vector extension here: the attempt proves down would drop it (and only it).
      expect(String((error as Error).message)).toMatch(/extension "vector" does not exist/);
    });
  });

  it('passes its checks', async () => {
    const results = await runChecks(sql, NAME);
    expect(results.map((r) => r.check)).toHaveLength(3);
    for (const r of results) expect(r.violations, r.check).toEqual([]);
  });

  describe('each check fails on a database crafted to violate it', () => {
    const failing = async (craft: (tx: Client) => Promise<unknown>) => {
      let failed: string[] = [];
      await inRollback(db.current.sql, async (tx) => {
        await craft(tx);
        failed = (await runChecks(tx, NAME)).filter((r) => r.violations.length > 0).map((r) => r.check);
      });
      return failed;
    };

    it('a conversation of an unknown user', async () => {
      expect(await failing((tx) => tx`INSERT INTO conversations (user_id) VALUES ('fb_arrived_after_002')`))
        .toEqual(['every conversation user_id has a user']);
    });

    it('a message the analytics do not count', async () => {
      expect(await failing((tx) => tx`
        INSERT INTO messages (conversation_id, role, content)
        SELECT id, 'user', 'one more' FROM conversations WHERE user_id IS NOT NULL ORDER BY id LIMIT 1`))
        .toEqual(['engagement_analytics.total_messages equals the real message count']);
    });

    it('a user without analytics, and a user with two rows', async () => {
      expect(await failing((tx) => tx`INSERT INTO users (external_id) VALUES ('signed_up_yesterday')`))
        .toEqual(['one engagement_analytics row per user']);
      expect(await failing(async (tx) => {
        await tx`DROP INDEX idx_analytics_user`;
        await tx`INSERT INTO engagement_analytics (user_id, total_messages)
                 SELECT user_id, total_messages FROM engagement_analytics ORDER BY user_id LIMIT 1`;
      })).toEqual(['one engagement_analytics row per user']);
    });
  });

  it('names the tables its down destroys, so strata backs them up first', async () => {
    const mod = await loadModule<Module002>(NAME);
    const ctx = (direction: 'up' | 'down') => ({ direction, schema: 'public' }) as MigrationContext;
    const tables = (await mod.destroys!(ctx('down'))) as DestroyedTable[];
    expect(tables).toEqual(['engagement_analytics', 'user_persona', 'users'].map((table) => ({ schema: 'public', table })));
    expect(await mod.destroys!(ctx('up'))).toEqual([]);
  });

  it('down restores the schema and the MVP data exactly; re-applying gives identical rows', async () => {
    const digest = async () => [
      await tableDigest(sql, 'users', 'user_id'),
      await tableDigest(sql, 'engagement_analytics', 'user_id', ['updated_at']),
    ];
    const first = await digest();
    await runStep(db.current.url, NAME, 'down');
    expect(await schemaSnapshot(sql)).toEqual(schemaBefore);
    expect(await mvpDigest(sql)).toBe(mvpBefore);

    const again = await runStep(db.current.url, NAME, 'up');
    expect(again.warnings).toHaveLength(1);
    expect(await digest()).toEqual(first);
  });
});
