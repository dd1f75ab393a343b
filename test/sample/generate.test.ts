import { beforeAll, describe, expect, it } from 'vitest';
import { generateSampleData, type SampleCounts } from '../../src/sample/generate.js';
import { runStep } from '../migrations/apply.js';
import { mvpDigest } from '../migrations/snapshot.js';
import { useDatabase } from '../support/database.js';

const NOW = new Date('2025-06-15T12:00:00Z');
const OPTIONS = { users: 80, seed: 2024, conversationsPerUser: 6, messagesPerConversation: 8, now: NOW };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

describe('generateSampleData', () => {
  const first = useDatabase();
  const second = useDatabase();
  let counts: SampleCounts;

  beforeAll(async () => {
    await runStep(first.current.url, '001_mvp', 'up');
    await runStep(second.current.url, '001_mvp', 'up');
    counts = await generateSampleData(first.current.sql, OPTIONS);
  });

  it('returns the counts of what is in the tables', async () => {
    const sql = first.current.sql;
    const ids = (await sql<{ user_id: string }[]>`SELECT DISTINCT user_id FROM conversations WHERE user_id IS NOT NULL`)
      .map((r) => r.user_id);
    const folded = new Set(ids.map((id) => (UUID.test(id) ? id.toLowerCase() : id)));
    const [row] = await sql<{ conversations: number; anonymous: number; messages: number }[]>`
      SELECT count(*)::int AS conversations, count(*) FILTER (WHERE user_id IS NULL)::int AS anonymous,
             (SELECT count(*)::int FROM messages) AS messages FROM conversations`;
    expect(counts).toEqual({
      users: folded.size, sourceUserIds: ids.length, conversations: row!.conversations,
      conversationsWithoutUser: row!.anonymous, messages: row!.messages,
    });
    expect(counts.users).toBe(OPTIONS.users);
    expect(counts.conversationsWithoutUser).toBe(OPTIONS.users / 10);
  });

  it('is deterministic: the same seed and now give the same rows, another seed others', async () => {
    await generateSampleData(second.current.sql, OPTIONS);
    expect(await mvpDigest(second.current.sql)).toBe(await mvpDigest(first.current.sql));
    await second.current.sql`TRUNCATE conversations CASCADE`;
    await generateSampleData(second.current.sql, { ...OPTIONS, seed: 2025 });
    expect(await mvpDigest(second.current.sql)).not.toBe(await mvpDigest(first.current.sql));
  });

  it('makes every kind of user id, including UUIDs spelled in both cases', async () => {
    const ids = (await first.current.sql<{ user_id: string }[]>`SELECT DISTINCT user_id FROM conversations WHERE user_id IS NOT NULL`)
      .map((r) => r.user_id);
    const kinds = {
      firebase: ids.filter((id) => /^[A-Za-z0-9]{28}$/.test(id)).length,
      fb: ids.filter((id) => /^fb_[A-Za-z0-9]{25}$/.test(id)).length,
      telegram: ids.filter((id) => /^tg_[0-9]+$/.test(id)).length,
      lowerUuid: ids.filter((id) => UUID.test(id) && id === id.toLowerCase()).length,
      upperUuid: ids.filter((id) => UUID.test(id) && id === id.toUpperCase()).length,
    };
    for (const [kind, n] of Object.entries(kinds)) expect(n, kind).toBeGreaterThan(0);
    expect(Object.values(kinds).reduce((a, b) => a + b, 0)).toBe(ids.length);
    const lowered = ids.filter((id) => UUID.test(id)).map((id) => id.toLowerCase());
    expect(new Set(lowered).size).toBeLessThan(lowered.length);
  });

  it('makes messy program metadata', async () => {
    const rows = await first.current.sql<{ form: string; n: number }[]>`
      SELECT CASE WHEN metadata = '{}' THEN 'empty'
                  WHEN NOT metadata ? 'week_number' THEN 'no week'
                  ELSE jsonb_typeof(metadata -> 'week_number') || ':' ||
                       CASE WHEN metadata ->> 'week_number' ~ '^[0-9]+$' THEN 'digits'
                            WHEN jsonb_typeof(metadata -> 'week_number') = 'number' AND (metadata ->> 'week_number')::numeric % 1 <> 0 THEN 'fraction'
                            WHEN jsonb_typeof(metadata -> 'week_number') = 'number' AND (metadata ->> 'week_number')::numeric < 1 THEN 'not positive'
                            ELSE 'other' END
             END AS form, count(*)::int AS n
      FROM conversations GROUP BY 1`;
    const forms = new Set(rows.map((r) => r.form));
    for (const form of ['empty', 'no week', 'number:digits', 'string:digits', 'string:other', 'number:fraction',
      'number:not positive', 'boolean:other', 'null:other']) {
      expect(forms, form).toContain(form);
    }
    const [dupes] = await first.current.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM (SELECT user_id, metadata -> 'week_number' FROM conversations
        WHERE user_id IS NOT NULL AND jsonb_typeof(metadata -> 'week_number') = 'number' GROUP BY 1, 2 HAVING count(*) > 1) x`;
    expect(dupes!.n).toBeGreaterThan(0);
    const goals = await first.current.sql<{ goal_type: string | null }[]>`
      SELECT DISTINCT metadata ->> 'goal_type' AS goal_type FROM conversations WHERE metadata ? 'goal_type'`;
    expect(goals.map((g) => g.goal_type)).toEqual(expect.arrayContaining(['fitness', 'nutrition', 'stress', 'sleep', '', '42', null]));
  });

  it('makes conversations that hold together: counts, roles, times', async () => {
    const sql = first.current.sql;
    const [facts] = await sql<Record<string, number>[]>`
      WITH ordered AS (
        SELECT m.*, row_number() OVER w AS position, lag(created_at) OVER w AS previous_at
        FROM messages m WINDOW w AS (PARTITION BY conversation_id ORDER BY created_at, id)
      )
      SELECT
        (SELECT count(*) FROM conversations c
          WHERE message_count <> (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id))::int AS wrong_counts,
        (SELECT count(*) FROM ordered WHERE role = 'system' AND position > 1)::int AS late_system,
        (SELECT count(*) FROM ordered WHERE role = 'system')::int AS system,
        (SELECT count(*) FROM ordered WHERE created_at = previous_at)::int AS ties,
        (SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id
          WHERE m.created_at > c.updated_at OR m.created_at < c.created_at)::int AS outside_conversation,
        (SELECT count(*) FROM conversations c WHERE user_id IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM conversations d JOIN messages m ON m.conversation_id = d.id
                          WHERE lower(d.user_id) = lower(c.user_id)))::int AS silent_user_conversations,
        (SELECT max(extract(epoch from created_at - previous_at)) FROM ordered)::int AS longest_gap_s,
        (SELECT count(*) FROM messages WHERE jsonb_typeof(metadata -> 'takeaways') = 'array')::int AS takeaways,
        (SELECT count(*) FROM messages WHERE jsonb_typeof(metadata -> 'action_items') = 'array')::int AS action_items`;
    expect(facts).toMatchObject({ wrong_counts: 0, late_system: 0, outside_conversation: 0 });
    for (const key of ['system', 'ties', 'silent_user_conversations', 'takeaways', 'action_items']) {
      expect(facts![key], key).toBeGreaterThan(0);
    }
    expect(facts!.longest_gap_s).toBeLessThan(25 * 60); // turns live in 12-minute slots
    const roles = await sql<{ role: string; next: string | null; n: number }[]>`
      SELECT role::text, next::text, count(*)::int AS n FROM (
        SELECT role, lead(role) OVER (PARTITION BY conversation_id ORDER BY created_at, id) AS next FROM messages) x
      GROUP BY 1, 2`;
    const pairs = new Map(roles.map((r) => [`${r.role}>${r.next}`, r.n]));
    expect(pairs.get('user>assistant')).toBeGreaterThan((pairs.get('user>user') ?? 0) * 5);
    expect(pairs.get('assistant>assistant') ?? 0).toBeLessThan(pairs.get('assistant>user')! / 10);
  });

  it('spreads updated_at so that 7-day status is unambiguous and both statuses occur', async () => {
    const [row] = await first.current.sql<{ old: number; recent: number; near_day_boundary: number }[]>`
      SELECT count(*) FILTER (WHERE updated_at < ${NOW.toISOString()}::timestamptz AT TIME ZONE 'UTC' - interval '7 days')::int AS old,
             count(*) FILTER (WHERE updated_at >= ${NOW.toISOString()}::timestamptz AT TIME ZONE 'UTC' - interval '7 days')::int AS recent,
             count(*) FILTER (WHERE abs(extract(epoch from (${NOW.toISOString()}::timestamptz AT TIME ZONE 'UTC') - updated_at)
                                        - 604800) < 7200)::int AS near_day_boundary
      FROM conversations`;
    expect(row!.old).toBeGreaterThan(0);
    expect(row!.recent).toBeGreaterThan(0);
    expect(row!.near_day_boundary).toBe(0);
  });

  it('rejects nonsense options', async () => {
    await expect(generateSampleData(first.current.sql, { users: 0, seed: 1 })).rejects.toThrow(/users/);
    await expect(generateSampleData(first.current.sql, { users: 5, seed: 1.5 })).rejects.toThrow(/seed/);
    await expect(generateSampleData(first.current.sql, { users: 5, seed: 1, conversationsPerUser: 501 })).rejects.toThrow(/conversationsPerUser/);
  });
});
