/**
 * A realistic, messy MVP dataset (001's `conversations` and `messages`) for rehearsing and testing
 * the bundled migrations: `generateSampleData(sql, { users, seed })`.
 *
 * Everything is generated server-side by set-based SQL (generate_series and a seeded hash,
 * `hashint8extended(key, seed)`), so 10,000 users / 1,000,000 messages load in seconds and the same
 * seed and `now` give the same rows, ids included. What it contains, on purpose:
 * - user ids: raw Firebase UIDs (28 characters), `fb_…` (28 characters), Telegram `tg_123…`, UUIDs
 *   (some upper-case, and some users whose conversations spell their UUID in both cases);
 * - conversations without a user; users whose conversations have no messages;
 * - metadata: `{}`, missing keys, `"week_number"` as 3, "3", "03", "two", 1.5, 2.0, 0, -1, true, null;
 *   several sessions of a user in one week; goal types fitness/nutrition/stress/sleep with or without
 *   description and SMART parts, and junk goal types (null, "", 42);
 * - messages: user → assistant turns (sometimes a system message first, sometimes the user twice),
 *   gaps of seconds to minutes, rare equal timestamps, `takeaways`/`action_items` on some assistant
 *   messages; `message_count` always equals the real count;
 * - `updated_at` spread over four weeks and never within 2 hours of a whole number of days before
 *   `now`, so "older than 7 days" (003) is unambiguous: some sessions completed, some in progress.
 */
import type postgres from 'postgres';

/** Options of `generateSampleData`. */
export interface SampleOptions {
  /** Users to create (each with at least one conversation); also adds users/10 conversations without a user. */
  users: number;
  /** Seed of the hash: same seed (and `now`) → same rows. */
  seed: number;
  /** Mean conversations per user (1 … 2n−1, uniform); default 10. */
  conversationsPerUser?: number;
  /** Mean messages per conversation (0 … 2n, uniform); default 10. */
  messagesPerConversation?: number;
  /** The "now" that timestamps are relative to; default the server's clock. */
  now?: Date;
}

/** Counts read back from the tables after generation (the whole tables, not just this run). */
export interface SampleCounts {
  /** Distinct non-null conversation user_ids, UUIDs compared case-insensitively. */
  users: number;
  /** Distinct non-null conversation user_id texts. */
  sourceUserIds: number;
  conversations: number;
  conversationsWithoutUser: number;
  messages: number;
}

function positiveInteger(name: string, value: number, max: number): number {
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new RangeError(`${name} must be an integer from 1 to ${max}, got ${value}`);
  }
  return value;
}

/**
 * Fills 001's tables with sample data in one transaction and returns the tables' counts. Expects the
 * tables to exist; rows of an earlier run with a different seed may stay (ids include the seed).
 */
export async function generateSampleData<T extends Record<string, unknown>>(
  sql: postgres.Sql<T>,
  options: SampleOptions,
): Promise<SampleCounts> {
  const users = positiveInteger('users', options.users, 10_000_000);
  const conversationsPerUser = positiveInteger('conversationsPerUser', options.conversationsPerUser ?? 10, 500);
  const messagesPerConversation = positiveInteger('messagesPerConversation', options.messagesPerConversation ?? 10, 2000);
  if (!Number.isSafeInteger(options.seed)) throw new RangeError(`seed must be an integer, got ${options.seed}`);
  const seed = String(options.seed);
  const now = options.now ? options.now.toISOString() : null;

  return sql.begin(async (tx) => {
    // A uniform number in [0, 1) for a key: the seeded 64-bit hash, top 53 bits. Inlined by the planner.
    await tx`
      CREATE OR REPLACE FUNCTION pg_temp.sample_unit(key bigint, seed bigint) RETURNS double precision
      LANGUAGE sql IMMUTABLE PARALLEL SAFE
      AS $$ SELECT (hashint8extended(key, seed) & 9007199254740991)::double precision / 9007199254740992 $$`;

    // Users: the id shape cycles through 20 slots so that every shape appears even in small sets.
    // Rows past `users` are the conversations without a user (one each).
    await tx`
      CREATE TEMP TABLE sample_user ON COMMIT DROP AS
      WITH p AS (SELECT ${seed}::bigint AS seed)
      SELECT u.i, p.seed,
             CASE
               WHEN u.i > ${users}::int THEN NULL
               WHEN u.slot < 7 THEN translate(left(encode(sha256(int8send(p.seed) || int8send(u.i)), 'base64'), 28), '+/', 'Qz')
               WHEN u.slot < 10 THEN 'fb_' || translate(left(encode(sha256(int8send(p.seed) || int8send(-u.i)), 'base64'), 25), '+/', 'kP')
               WHEN u.slot < 14 THEN 'tg_' || (10000 + floor(pg_temp.sample_unit(u.i * 16 + 1, p.seed) * 2e9))::bigint
               WHEN u.slot < 18 THEN md5(int8send(p.seed) || int8send(u.i))::uuid::text
               ELSE upper(md5(int8send(p.seed) || int8send(u.i))::uuid::text)
             END AS source_id,
             u.i <= ${users}::int AND u.slot >= 14 AND u.i % 3 = 0 AS mixed_case,
             u.i % 17 = 5 AS silent,
             CASE WHEN u.i > ${users}::int THEN 1
                  ELSE 1 + floor(pg_temp.sample_unit(u.i * 16 + 2, p.seed) * (2 * ${conversationsPerUser}::int - 1))::int
             END AS conversations
      FROM p, generate_series(1, ${users}::int + ceil(${users}::int / 10.0)::int) AS g (i),
           LATERAL (SELECT g.i::bigint AS i, (g.i - 1) % 20 AS slot) u`;

    await tx`
      CREATE TEMP TABLE sample_conversation ON COMMIT DROP AS
      WITH p AS (SELECT coalesce(${now}::timestamptz, now()) AT TIME ZONE 'UTC' AS now)
      SELECT k.key, u.seed,
             md5('sample-conversation:' || u.seed || ':' || k.key)::uuid AS id,
             CASE WHEN u.mixed_case THEN CASE WHEN j % 2 = 1 THEN upper(u.source_id) ELSE lower(u.source_id) END
                  ELSE u.source_id END AS user_id,
             t.messages, t.has_system,
             t.updated_at - make_interval(secs => 60 * t.has_system + 720 * ceil((t.messages - t.has_system) / 2.0)) AS created_at,
             t.updated_at,
             meta.metadata,
             CASE WHEN pg_temp.sample_unit(k.key * 32 + 9, u.seed) < 0.1 THEN NULL
                  ELSE 'Week ' || week || ' ' || coalesce(meta.metadata ->> 'session_type', 'chat') END AS title
      FROM p, sample_user u, generate_series(1, u.conversations) AS j,
      LATERAL (SELECT u.i * 1024 + j AS key, 1 + (j - 1) * 4 / u.conversations AS week) k(key, week),
      LATERAL (SELECT
                 CASE WHEN u.silent THEN 0
                      ELSE floor(pg_temp.sample_unit(k.key * 32 + 1, u.seed) * (2 * ${messagesPerConversation}::int + 1))::int
                 END AS messages) n,
      LATERAL (SELECT
                 n.messages,
                 (n.messages > 0 AND pg_temp.sample_unit(k.key * 32 + 2, u.seed) < 0.15)::int AS has_system,
                 -- 0–27 whole days plus 2–22 hours: never near a day boundary (see the file comment)
                 p.now - make_interval(days => floor(pg_temp.sample_unit(k.key * 32 + 3, u.seed) * 28)::int,
                                       secs => 3600 * (2 + 20 * pg_temp.sample_unit(k.key * 32 + 4, u.seed)))
                   AS updated_at) t,
      LATERAL (SELECT
                 pg_temp.sample_unit(k.key * 32 + 5, u.seed) AS week_form,
                 pg_temp.sample_unit(k.key * 32 + 6, u.seed) AS goal_form,
                 1 + floor(pg_temp.sample_unit(k.key * 32 + 7, u.seed) * 4)::int AS goal,
                 pg_temp.sample_unit(k.key * 32 + 8, u.seed) AS extra) r,
      LATERAL (SELECT CASE WHEN r.extra < 0.04 THEN '{}'::jsonb ELSE
        -- week_number: mostly a JSON integer, sometimes a digit string, sometimes junk
        CASE
          WHEN r.week_form < 0.08 THEN '{}'::jsonb
          WHEN r.week_form < 0.68 THEN jsonb_build_object('week_number', week)
          WHEN r.week_form < 0.78 THEN jsonb_build_object('week_number', week::text)
          WHEN r.week_form < 0.80 THEN jsonb_build_object('week_number', '0' || week)
          WHEN r.week_form < 0.84 THEN jsonb_build_object('week_number', (ARRAY['one', 'two', 'three', 'four'])[week])
          WHEN r.week_form < 0.87 THEN jsonb_build_object('week_number', week + 0.5)
          WHEN r.week_form < 0.89 THEN jsonb_build_object('week_number', NULL)
          WHEN r.week_form < 0.91 THEN jsonb_build_object('week_number', 1 - week)
          WHEN r.week_form < 0.92 THEN jsonb_build_object('week_number', true)
          WHEN r.week_form < 0.93 THEN jsonb_build_object('week_number', week::numeric(3, 1))
          ELSE jsonb_build_object('week_number', week)
        END
        -- goal: type, maybe a description and SMART parts; sometimes junk
        || CASE
          WHEN r.goal_form < 0.55 THEN jsonb_strip_nulls(jsonb_build_object(
            'goal_type', (ARRAY['fitness', 'nutrition', 'stress', 'sleep'])[r.goal],
            'goal_id', (ARRAY['fitness', 'nutrition', 'stress', 'sleep'])[r.goal] || '_goal_' || week,
            'goal_description', CASE WHEN r.extra < 0.75 THEN (ARRAY['Get fitter by walking every day', 'Eat more vegetables',
                                     'Feel less stressed at work', 'Sleep seven hours a night'])[r.goal] END,
            'specific', CASE WHEN r.extra < 0.40 THEN (ARRAY['Walk 30 minutes after lunch', 'Two portions of vegetables at dinner',
                             'Five minutes of breathing before meetings', 'Lights out by 23:00'])[r.goal] END,
            'measurable', CASE WHEN r.extra BETWEEN 0.20 AND 0.60 THEN '5 days a week' END,
            'achievable', CASE WHEN r.extra BETWEEN 0.30 AND 0.70 THEN 'Fits the lunch break' END,
            'relevant', CASE WHEN r.extra BETWEEN 0.35 AND 0.75 THEN 'Supports more energy for the kids' END,
            'time_bound', CASE WHEN r.extra BETWEEN 0.10 AND 0.50 THEN 'For the next 4 weeks' END))
          WHEN r.goal_form < 0.58 THEN jsonb_build_object('goal_type', NULL)
          WHEN r.goal_form < 0.60 THEN jsonb_build_object('goal_type', '')
          WHEN r.goal_form < 0.61 THEN jsonb_build_object('goal_type', 42)
          ELSE '{}'::jsonb
        END
        || CASE WHEN r.extra < 0.80
                THEN jsonb_build_object('session_type', (ARRAY['goal_setting', 'check_in', 'reflection'])[1 + (j - 1) % 3],
                                        'program_status', 'active')
                ELSE '{}'::jsonb END
      END AS metadata) meta`;

    await tx`
      INSERT INTO conversations (id, user_id, title, message_count, metadata, created_at, updated_at)
      SELECT id, user_id, title, messages, metadata, created_at, updated_at FROM sample_conversation`;

    // Messages: an optional system message, then turns of (user, reply) in 12-minute slots: the user
    // writes 1–541 s into the slot, the reply follows 2–60 s later (1%: the same instant; 4%: the
    // "reply" is the user writing again). Closed form, so no window over a million rows.
    await tx`
      INSERT INTO messages (id, conversation_id, role, content, metadata, created_at, updated_at)
      SELECT md5('sample-message:' || c.seed || ':' || c.key || ':' || k)::uuid,
             c.id, m.role::message_role,
             CASE m.role
               WHEN 'system' THEN 'You are Nala, a supportive health coach. Keep answers short and practical.'
               WHEN 'user' THEN (ARRAY['I walked 6,000 steps today.', 'I skipped the gym again, work was crazy.',
                 'How do I stop snacking at night?', 'Slept badly, maybe 5 hours.', 'I feel a bit more energetic this week!',
                 'Can we make the goal smaller?', 'I had a salad for lunch 🥗', 'Stress is high, deadlines everywhere.',
                 'What should I do when I miss a day?', 'Done: 3 workouts this week.'])[1 + floor(m.r_text * 10)::int]
               ELSE (ARRAY['Great progress — what helped most?', 'Missing a day is normal; what is one small step for tomorrow?',
                 'Let''s make it 10 minutes instead of 30.', 'Try a wind-down routine 30 minutes before bed.',
                 'Which moment of the day is the hardest?', 'Nice! Shall we keep the same goal for next week?',
                 'Notice the trigger, then pause for three breaths.', 'Protein at breakfast can reduce evening cravings.'])[1 + floor(m.r_text * 8)::int]
             END,
             m.metadata, m.created_at, m.created_at
      FROM sample_conversation c
      CROSS JOIN LATERAL generate_series(0, c.messages - 1) AS k
      CROSS JOIN LATERAL (SELECT (k - c.has_system) / 2 AS turn, (k - c.has_system) % 2 = 1 AS reply) pos
      CROSS JOIN LATERAL (SELECT (c.key * 4096 + pos.turn) * 8 AS key) tk
      CROSS JOIN LATERAL (SELECT
        c.created_at + make_interval(secs => 60 * c.has_system + 720 * pos.turn
                                            + round((1 + 540 * pg_temp.sample_unit(tk.key + 1, c.seed))::numeric, 3)) AS user_at,
        pg_temp.sample_unit(tk.key + 2, c.seed) AS r_gap,
        pg_temp.sample_unit(tk.key + 3, c.seed) AS r_role) turn
      CROSS JOIN LATERAL (SELECT pg_temp.sample_unit((c.key * 4096 + k) * 8 + 4, c.seed) AS r_text,
                                 pg_temp.sample_unit((c.key * 4096 + k) * 8 + 5, c.seed) AS r_meta,
                                 pg_temp.sample_unit((c.key * 4096 + k) * 8 + 6, c.seed) AS r_items) r
      CROSS JOIN LATERAL (SELECT
        CASE WHEN k < c.has_system THEN 'system' WHEN NOT pos.reply OR turn.r_role < 0.04 THEN 'user' ELSE 'assistant' END AS role,
        CASE WHEN k < c.has_system THEN c.created_at
             WHEN NOT pos.reply THEN turn.user_at
             WHEN turn.r_gap < 0.01 THEN turn.user_at
             ELSE turn.user_at + make_interval(secs => round((2 + 58 * turn.r_gap)::numeric, 3))
        END AS created_at) rc
      CROSS JOIN LATERAL (SELECT rc.role, rc.created_at, r.r_text,
        CASE rc.role
          WHEN 'system' THEN '{"kind": "program_intro"}'::jsonb
          WHEN 'user' THEN CASE WHEN r.r_meta < 0.6 THEN NULL WHEN r.r_meta < 0.85 THEN '{}'::jsonb
                                ELSE jsonb_build_object('mood_rating', 1 + floor(r.r_items * 10)::int) END
          ELSE jsonb_build_object('model', 'Claude Sonnet 4', 'sources', '[]'::jsonb)
            || CASE WHEN r.r_meta < 0.12 THEN jsonb_build_object('takeaways', to_jsonb((ARRAY['Set realistic goals', 'Start small',
                      'Sleep is part of training', 'Notice stress triggers early', 'Progress beats perfection', 'Plan meals ahead'])
                      [1 + floor(r.r_items * 4)::int : 1 + floor(r.r_items * 4)::int + floor(r.r_text * 3)::int]))
                    WHEN r.r_meta < 0.13 THEN '{"takeaways": []}'::jsonb
                    ELSE '{}'::jsonb END
            || CASE WHEN r.r_items < 0.10 THEN jsonb_build_object('action_items', to_jsonb((ARRAY['Exercise 3x this week',
                      'Walk 20 minutes after lunch', 'Prepare tomorrow''s lunch tonight', 'No screens after 22:30'])
                      [1 + floor(r.r_meta * 3)::int : 2 + floor(r.r_meta * 3)::int]))
                    WHEN r.r_items < 0.11 THEN '{"action_items": "Drink a glass of water first thing"}'::jsonb
                    ELSE '{}'::jsonb END
        END AS metadata) m`;

    await tx`DROP FUNCTION pg_temp.sample_unit(bigint, bigint)`;
    // Fresh statistics, so migrations rehearsed on this data get the plans they would get in production.
    await tx`ANALYZE conversations, messages`;

    const [counts] = await tx<SampleCounts[]>`
      SELECT (SELECT count(DISTINCT CASE WHEN user_id ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                                         THEN lower(user_id) ELSE user_id END) FROM conversations)::int AS users,
             (SELECT count(DISTINCT user_id) FROM conversations)::int AS "sourceUserIds",
             (SELECT count(*) FROM conversations)::int AS conversations,
             (SELECT count(*) FROM conversations WHERE user_id IS NULL)::int AS "conversationsWithoutUser",
             (SELECT count(*) FROM messages)::int AS messages`;
    if (!counts) throw new Error('sample counts query returned no row');
    return counts;
  }) as Promise<SampleCounts>;
}
