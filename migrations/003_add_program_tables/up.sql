-- 003_add_program_tables: design guide phase 3 — SMART goals, sessions, takeaways, check-ins —
-- and their backfill from conversations.metadata (SPEC §8).
--
-- Deviations from the design, all SPEC §8 or implied by it:
-- * sessions.conversation_id and smart_goals.conversation_id record the source conversation
--   (ON DELETE SET NULL: deleting chat history never deletes the program).
-- * CHECKs the design states in comments (status values) or implies (positive week/session numbers,
--   mood 1–10, progress 0–100), NOT NULL on the owning user of every row, and indexes on the
--   foreign keys the design leaves unindexed (deletes of a goal or conversation stay cheap).
-- * Backfilled ids are derived from the source ids (md5 → uuid), not gen_random_uuid(): rolling
--   back and re-applying yields the same rows, and the rows can be traced back to their source.
-- Timestamps are `timestamp` (without time zone) as in the design; 011 converts them.

CREATE TABLE smart_goals (
  goal_id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id         uuid NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
  conversation_id uuid REFERENCES conversations (id) ON DELETE SET NULL,
  goal_type       varchar(50) NOT NULL,   -- fitness, nutrition, stress, sleep, etc. (open list)
  specific        text NOT NULL,
  measurable      text NOT NULL,
  achievable      text NOT NULL,
  relevant        text NOT NULL,
  time_bound      text NOT NULL,
  status          varchar(20) DEFAULT 'active'
                  CHECK (status IN ('active', 'completed', 'revised', 'abandoned')),
  created_at      timestamp DEFAULT now(),
  completed_at    timestamp
);

CREATE INDEX idx_goals_user ON smart_goals (user_id);
CREATE INDEX idx_goals_status ON smart_goals (status);
CREATE INDEX idx_goals_conversation ON smart_goals (conversation_id);

CREATE TABLE sessions (
  session_id      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id         uuid NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
  goal_id         uuid REFERENCES smart_goals (goal_id) ON DELETE SET NULL,
  conversation_id uuid REFERENCES conversations (id) ON DELETE SET NULL,
  session_number  integer NOT NULL CHECK (session_number > 0),
  week_number     integer NOT NULL CHECK (week_number > 0),
  session_type    varchar(50),            -- goal_setting, check_in, reflection, etc.
  scheduled_date  timestamp,
  completed_date  timestamp,
  status          varchar(20) DEFAULT 'locked'
                  CHECK (status IN ('locked', 'unlocked', 'in_progress', 'completed')),
  summary         text,
  created_at      timestamp DEFAULT now()
);

CREATE INDEX idx_sessions_user ON sessions (user_id);
CREATE INDEX idx_sessions_week ON sessions (week_number);
CREATE UNIQUE INDEX idx_sessions_user_week ON sessions (user_id, week_number, session_number);
CREATE INDEX idx_sessions_goal ON sessions (goal_id);
CREATE INDEX idx_sessions_conversation ON sessions (conversation_id);

CREATE TABLE session_takeaways (
  takeaway_id   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  session_id    uuid NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE,
  key_learnings text,
  action_items  text,
  revised_goal  text,
  created_at    timestamp DEFAULT now()
);

CREATE INDEX idx_takeaways_session ON session_takeaways (session_id);

CREATE TABLE check_ins (
  checkin_id     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id        uuid NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
  goal_id        uuid REFERENCES smart_goals (goal_id) ON DELETE CASCADE,
  checkin_date   date NOT NULL,
  progress_notes text,
  mood_rating    integer CHECK (mood_rating BETWEEN 1 AND 10),
  goal_progress  integer CHECK (goal_progress BETWEEN 0 AND 100),  -- percentage
  created_at     timestamp DEFAULT now()
);

CREATE INDEX idx_checkins_user ON check_ins (user_id);
CREATE INDEX idx_checkins_goal ON check_ins (goal_id);
CREATE INDEX idx_checkins_date ON check_ins (checkin_date);

-- Backfill. A conversation's user is found as SPEC §9 looks a name up: a UUID user_id (any case)
-- as users.user_id, and (for any id) as users.external_id — which covers 002's md5 mapping, since
-- 002 stored every id that is not a UUID in external_id. Both joins hit a unique key, so neither
-- multiplies rows. Conversations without a (known) user produce nothing and are counted below.

-- Goals from metadata.goal_type (a non-empty string that fits varchar(50); others are skipped and
-- counted). The SMART columns are NOT NULL: `specific` falls back to goal_description, then to the
-- goal type; the other parts to '' — never to invented text (SPEC §8).
INSERT INTO smart_goals (goal_id, user_id, conversation_id, goal_type,
                         specific, measurable, achievable, relevant, time_bound, created_at)
SELECT md5('strata-goal:' || c.id::text)::uuid,
       coalesce(by_id.user_id, by_external.user_id),
       c.id,
       c.metadata ->> 'goal_type',
       coalesce(nullif(btrim(c.metadata ->> 'specific'), ''),
                nullif(btrim(c.metadata ->> 'goal_description'), ''),
                c.metadata ->> 'goal_type'),
       coalesce(c.metadata ->> 'measurable', ''),
       coalesce(c.metadata ->> 'achievable', ''),
       coalesce(c.metadata ->> 'relevant', ''),
       coalesce(c.metadata ->> 'time_bound', ''),
       c.created_at
FROM conversations c
LEFT JOIN users by_id
       ON by_id.user_id = CASE WHEN c.user_id ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                               THEN c.user_id::uuid END
LEFT JOIN users by_external ON by_external.external_id = c.user_id
WHERE coalesce(by_id.user_id, by_external.user_id) IS NOT NULL
  AND jsonb_typeof(c.metadata -> 'goal_type') = 'string'
  AND btrim(c.metadata ->> 'goal_type') <> ''
  AND char_length(c.metadata ->> 'goal_type') <= 50;

-- Sessions from metadata.week_number. A week is an integer when it is a JSON number that is
-- integral, or a string of digits (SPEC §8); it must also be a positive int4 (the CHECK above).
-- "two", 1.5, true, -1, 0, "3a" are skipped and counted — never a crash, never guessed (the
-- design's COALESCE(..., 1) would have invented week 1). The nested CASEs fix the evaluation
-- order, so no cast ever sees a value it cannot take.
-- session_number: 1..n per user and week by creation time — the design leaves it NULL and would
-- break its own unique index. status: completed when the conversation was last updated more than
-- 7 days ago (the design's rule; timestamps are UTC, per the design's notes), and then
-- completed_date is that last update. session_type is taken when it is a string that fits.
INSERT INTO sessions (session_id, user_id, goal_id, conversation_id, session_number, week_number,
                      session_type, completed_date, status, created_at)
SELECT md5('strata-session:' || src.conversation_id::text)::uuid,
       src.user_id,
       g.goal_id,
       src.conversation_id,
       row_number() OVER (PARTITION BY src.user_id, src.week_number
                          ORDER BY src.created_at, src.conversation_id),
       src.week_number,
       src.session_type,
       CASE WHEN src.completed THEN src.updated_at END,
       CASE WHEN src.completed THEN 'completed' ELSE 'in_progress' END,
       src.created_at
FROM (
  SELECT c.id AS conversation_id, c.created_at, c.updated_at,
         coalesce(by_id.user_id, by_external.user_id) AS user_id,
         c.updated_at < (now() AT TIME ZONE 'UTC') - interval '7 days' AS completed,
         CASE WHEN jsonb_typeof(c.metadata -> 'session_type') = 'string'
                   AND char_length(c.metadata ->> 'session_type') <= 50
              THEN c.metadata ->> 'session_type' END AS session_type,
         CASE jsonb_typeof(c.metadata -> 'week_number')
           WHEN 'number' THEN
             CASE WHEN (c.metadata -> 'week_number')::numeric % 1 = 0
                       AND (c.metadata -> 'week_number')::numeric BETWEEN 1 AND 2147483647
                  THEN (c.metadata -> 'week_number')::numeric::integer END
           WHEN 'string' THEN
             CASE WHEN c.metadata ->> 'week_number' ~ '^[0-9]+$' THEN
               CASE WHEN (c.metadata ->> 'week_number')::numeric BETWEEN 1 AND 2147483647
                    THEN (c.metadata ->> 'week_number')::numeric::integer END
             END
         END AS week_number
  FROM conversations c
  LEFT JOIN users by_id
         ON by_id.user_id = CASE WHEN c.user_id ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                                 THEN c.user_id::uuid END
  LEFT JOIN users by_external ON by_external.external_id = c.user_id
) src
-- The goal backfilled from the same conversation, when there is one.
LEFT JOIN smart_goals g ON g.conversation_id = src.conversation_id
WHERE src.user_id IS NOT NULL
  AND src.week_number IS NOT NULL;

-- Takeaways: one row per session whose source conversation's messages carry metadata.takeaways or
-- metadata.action_items (arrays of strings in the MVP; a lone string counts as one item; other
-- values, non-string elements and blank strings are ignored). Items are newline-joined in message
-- order (created_at, then id), then array order. created_at: the last message that contributed.
INSERT INTO session_takeaways (takeaway_id, session_id, key_learnings, action_items, created_at)
SELECT md5('strata-takeaway:' || s.session_id::text)::uuid,
       s.session_id,
       string_agg(item.text, E'\n' ORDER BY m.created_at, m.id, item.ordinality)
         FILTER (WHERE item.kind = 'takeaways'),
       string_agg(item.text, E'\n' ORDER BY m.created_at, m.id, item.ordinality)
         FILTER (WHERE item.kind = 'action_items'),
       max(m.created_at)
FROM sessions s
JOIN messages m ON m.conversation_id = s.conversation_id
CROSS JOIN LATERAL (
  SELECT k.kind, e.value #>> '{}' AS text, e.ordinality
  FROM (VALUES ('takeaways'), ('action_items')) AS k (kind)
  CROSS JOIN LATERAL jsonb_array_elements(
    CASE jsonb_typeof(m.metadata -> k.kind)
      WHEN 'array' THEN m.metadata -> k.kind
      WHEN 'string' THEN jsonb_build_array(m.metadata -> k.kind)
      ELSE '[]'::jsonb
    END) WITH ORDINALITY AS e (value, ordinality)
  WHERE jsonb_typeof(e.value) = 'string' AND btrim(e.value #>> '{}') <> ''
) item
WHERE m.metadata ?| ARRAY['takeaways', 'action_items']
GROUP BY s.session_id;

-- What was skipped, and why (SPEC §8: counted in the output, never a crash). Only conversations
-- that carry program metadata (a non-null week_number or goal_type) count as skipped.
DO $$
DECLARE
  goals int; sessions_made int; completed int; takeaways int;
  no_user int; unknown_user int; bad_week int; bad_goal int;
  week_examples text; goal_examples text;
BEGIN
  SELECT count(*) INTO goals FROM smart_goals;
  SELECT count(*), count(*) FILTER (WHERE status = 'completed') INTO sessions_made, completed FROM sessions;
  SELECT count(*) INTO takeaways FROM session_takeaways;

  WITH program AS (
    SELECT c.id, c.user_id, c.metadata,
           coalesce(by_id.user_id, by_external.user_id) AS owner,
           coalesce(jsonb_typeof(c.metadata -> 'week_number'), 'null') <> 'null' AS has_week,
           coalesce(jsonb_typeof(c.metadata -> 'goal_type'), 'null') <> 'null' AS has_goal
    FROM conversations c
    LEFT JOIN users by_id
           ON by_id.user_id = CASE WHEN c.user_id ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                                   THEN c.user_id::uuid END
    LEFT JOIN users by_external ON by_external.external_id = c.user_id
  ), skipped AS (
    SELECT p.*,
           p.owner IS NOT NULL AND p.has_week
             AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.conversation_id = p.id) AS week_skipped,
           p.owner IS NOT NULL AND p.has_goal
             AND NOT EXISTS (SELECT 1 FROM smart_goals g WHERE g.conversation_id = p.id) AS goal_skipped
    FROM program p
    WHERE p.has_week OR p.has_goal
  )
  SELECT count(*) FILTER (WHERE user_id IS NULL),
         count(*) FILTER (WHERE user_id IS NOT NULL AND owner IS NULL),
         count(*) FILTER (WHERE week_skipped),
         count(*) FILTER (WHERE goal_skipped),
         -- up to five offending values, the most frequent first, as JSON ("two", 1.5, …)
         (SELECT string_agg(v, ', ' ORDER BY n DESC, v)
            FROM (SELECT (metadata -> 'week_number')::text AS v, count(*) AS n FROM skipped
                  WHERE week_skipped GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5) e),
         (SELECT string_agg(v, ', ' ORDER BY n DESC, v)
            FROM (SELECT (metadata -> 'goal_type')::text AS v, count(*) AS n FROM skipped
                  WHERE goal_skipped GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5) e)
    INTO no_user, unknown_user, bad_week, bad_goal, week_examples, goal_examples
  FROM skipped;

  RAISE NOTICE '003 backfill: % smart_goals, % sessions (% completed), % session_takeaways',
    goals, sessions_made, completed, takeaways;
  IF no_user > 0 THEN
    RAISE NOTICE 'skipped % conversations with program metadata but no user_id', no_user;
  END IF;
  IF unknown_user > 0 THEN
    RAISE NOTICE 'skipped % conversations whose user_id has no row in users', unknown_user;
  END IF;
  IF bad_week > 0 THEN
    RAISE NOTICE 'skipped % sessions: metadata.week_number is not a positive integer (e.g. %)',
      bad_week, week_examples;
  END IF;
  IF bad_goal > 0 THEN
    RAISE NOTICE 'skipped % goals: metadata.goal_type is not a non-empty string of at most 50 characters (e.g. %)',
      bad_goal, goal_examples;
  END IF;
END $$;
