-- 002_sample_data: a generated SAMPLE of what years of a JSONB blob look like. A real database
-- brings its own rows: see the README.
--
-- 300 users; 296 with a memory profile (users 75, 150, 225 and 300 never got one). Each blob holds
-- up to six arrays — themes, people, coping_tools, goals, strengths, daily_habits — of 0 to 5
-- entries, written by "several app versions", so some are messy: JSON nulls, bare strings where an
-- object was expected, numbers, objects without their name, duplicates (exact, or the same name in
-- other case), wrong types ("intensity": "4"), values out of range, keys nobody reads, explicit
-- nulls; a category may be missing, empty, or not an array at all; some blobs carry extra
-- top-level keys ("version", "notes"), a few are {}. Conversations, messages and crisis flags
-- fill the tables that 004 renames.
--
-- Set-based and deterministic: every choice is a byte of md5(<user>:<category>:<slot>), read with
-- get_byte(), and every id is md5 of a name, so each run — and each re-apply after a rollback —
-- writes the same rows.

INSERT INTO users (id, email, display_name, created_at, updated_at)
SELECT md5('nmp-sample:user:' || n)::uuid,
       format('user%s@example.com', lpad(n::text, 3, '0')),
       CASE WHEN n % 17 = 0 THEN NULL
            ELSE (ARRAY['Ana', 'Ben', 'Chidi', 'Dana', 'Emeka', 'Farah', 'Gus', 'Hana', 'Inès', 'Jon',
                        'Kai', 'Lena', 'Mo', 'Noor', 'Olek', 'Pia', 'Quinn', 'Rui', 'Sade', 'Tomás'])[1 + n % 20]
                 || ' ' || chr(65 + (n * 7) % 26) || '.'
       END,
       timestamptz '2024-01-01 09:00:00+00' + n * interval '26 hours 17 minutes',
       timestamptz '2024-01-01 09:00:00+00' + n * interval '26 hours 17 minutes' + (n % 9) * interval '11 days'
FROM generate_series(1, 300) AS n;

INSERT INTO memory_profiles (id, user_id, summary, mood_baseline, memory, created_at, updated_at)
WITH category (ordinal, key, label) AS (
  VALUES (1, 'themes', 'name'), (2, 'people', 'name'), (3, 'coping_tools', 'name'),
         (4, 'goals', 'title'), (5, 'strengths', 'name'), (6, 'daily_habits', 'name')
),
profile AS (
  SELECT n FROM generate_series(1, 300) AS n WHERE n % 75 <> 0
),
-- How each blob holds each category: 0 = key absent, 1 = not an array, 2 = an array (maybe empty).
shape AS (
  SELECT p.n, c.ordinal, c.key, c.label, decode(md5(format('nmp-sample:%s:%s', p.n, c.ordinal)), 'hex') AS r
  FROM profile p CROSS JOIN category c
),
-- One row per array entry: 0 to 5 per category, with 16 pseudo-random bytes each. Names are taken
-- in turn from a list starting at a random place (`base`), so duplicates are only the planted ones.
slot AS (
  SELECT s.n, s.ordinal, s.key, s.label, j, get_byte(s.r, 2) + j AS pick, decode(md5(format('nmp-sample:%s:%s:%s', s.n, s.ordinal, j)), 'hex') AS r
  FROM shape s CROSS JOIN LATERAL generate_series(1, get_byte(s.r, 0) % 6) AS j
),
-- The well-formed entry of each slot; optional keys are present or not.
clean AS (
  SELECT slot.*, CASE ordinal
    WHEN 1 THEN jsonb_strip_nulls(jsonb_build_object(
      'name', (ARRAY['anxiety', 'grief', 'self-worth', 'work stress', 'loneliness', 'perfectionism', 'anger',
                     'burnout', 'body image', 'trust', 'change', 'boundaries', 'sleep', 'family conflict'])[1 + pick % 14],
      'intensity', CASE WHEN get_byte(r, 2) % 4 <> 0 THEN 1 + get_byte(r, 3) % 5 END,
      'first_mentioned', CASE WHEN get_byte(r, 4) % 3 = 0 THEN to_char(date '2024-01-01' + get_byte(r, 5) + get_byte(r, 6), 'YYYY-MM-DD') END))
    WHEN 2 THEN jsonb_strip_nulls(jsonb_build_object(
      'name', (ARRAY['Mom', 'Dad', 'Sam', 'Alex', 'Grandma Rose', 'Jordan', 'my sister', 'Dr. Patel', 'Lee',
                     'Chris', 'Taylor', 'my boss'])[1 + pick % 12],
      'relationship', CASE WHEN get_byte(r, 2) % 5 <> 0 THEN (ARRAY['parent', 'sibling', 'partner', 'friend', 'colleague',
                                                                    'therapist', 'child', 'other'])[1 + get_byte(r, 3) % 8] END,
      'notes', CASE WHEN get_byte(r, 4) % 3 = 0 THEN (ARRAY['supportive, but worries a lot', 'we argue about money',
                                                            '"always there"', 'moved away in May',
                                                            E'complicated —\nsee session notes'])[1 + get_byte(r, 5) % 5] END))
    WHEN 3 THEN jsonb_strip_nulls(jsonb_build_object(
      'name', (ARRAY['box breathing', 'journaling', 'a walk outside', 'cold water on face', 'calling a friend',
                     '5-4-3-2-1 grounding', 'music', 'yoga', 'naming the feeling', 'stretching'])[1 + pick % 10],
      'effectiveness', CASE WHEN get_byte(r, 2) % 3 <> 0 THEN 1 + get_byte(r, 3) % 5 END))
    WHEN 4 THEN jsonb_strip_nulls(jsonb_build_object(
      'title', (ARRAY['sleep by 11pm', 'set boundaries with work', 'reconnect with old friends', 'run a 5k',
                      'apply for the new role', 'meditate daily', 'spend less time online', 'finish the degree'])[1 + pick % 8],
      'status', CASE WHEN get_byte(r, 2) % 4 <> 0 THEN (ARRAY['active', 'achieved', 'paused', 'dropped'])[1 + get_byte(r, 3) % 4] END,
      'target_date', CASE WHEN get_byte(r, 4) % 3 = 0 THEN to_char(date '2025-01-01' + get_byte(r, 5) * 2, 'YYYY-MM-DD') END))
    WHEN 5 THEN jsonb_strip_nulls(jsonb_build_object(
      'name', (ARRAY['empathy', 'humour', 'persistence', 'curiosity', 'honesty', 'creativity', 'patience',
                     'courage', 'kindness'])[1 + pick % 9],
      'evidence', CASE WHEN get_byte(r, 2) % 3 = 0 THEN (ARRAY['kept going after the layoff', 'makes friends laugh in hard times',
                                                               'finished every session this month'])[1 + get_byte(r, 3) % 3] END))
    ELSE jsonb_strip_nulls(jsonb_build_object(
      'name', (ARRAY['morning walk', 'reading before bed', 'no phone after 10pm', 'gratitude list', 'stretching',
                     'cooking dinner', 'evening tea'])[1 + pick % 7],
      'time_of_day', CASE WHEN get_byte(r, 2) % 4 <> 0 THEN (ARRAY['morning', 'afternoon', 'evening', 'night'])[1 + get_byte(r, 3) % 4] END,
      'days_per_week', CASE WHEN get_byte(r, 4) % 2 = 0 THEN 1 + get_byte(r, 5) % 7 END))
  END AS element
  FROM slot
),
-- About one entry in six is messed up, in one of ten ways.
messy AS (
  SELECT n, ordinal, key, j, CASE get_byte(r, 15) % 60
    WHEN 0 THEN 'null'::jsonb
    WHEN 1 THEN to_jsonb(element ->> label)                                   -- a bare string
    WHEN 2 THEN element - label                                               -- no name (or title)
    WHEN 3 THEN coalesce(lag(element) OVER w, element)                        -- the previous entry again
    WHEN 4 THEN element || jsonb_build_object(label, upper(coalesce(lag(element ->> label) OVER w, element ->> label)))
    WHEN 5 THEN element || (ARRAY[                                            -- a wrong type
      jsonb_build_object('intensity', (1 + get_byte(r, 3) % 5)::text), '{"notes": 12}', '{"effectiveness": "high"}',
      '{"target_date": "next summer"}', '{"evidence": ["kept going", "asked for help"]}',
      jsonb_build_object('days_per_week', (1 + get_byte(r, 5) % 7)::text)]::jsonb[])[ordinal]
    WHEN 6 THEN element || (ARRAY[                                            -- out of range
      '{"intensity": 9}', '{"relationship": "nemesis"}', '{"effectiveness": 0}', '{"status": "someday"}',
      '{"evidence": true}', '{"days_per_week": 8}']::jsonb[])[ordinal]
    WHEN 7 THEN element || '{"source": "v1-import"}'                         -- a key nobody reads
    WHEN 8 THEN element || jsonb_build_object((ARRAY['intensity', 'relationship', 'effectiveness', 'status',
                                                     'evidence', 'time_of_day'])[ordinal], NULL)  -- an explicit null
    WHEN 9 THEN to_jsonb(j)                                                   -- a number
    ELSE element
  END AS element
  FROM clean
  WINDOW w AS (PARTITION BY n, ordinal ORDER BY j)
),
arrays AS (
  SELECT n, ordinal, jsonb_agg(element ORDER BY j) AS elements FROM messy GROUP BY n, ordinal
),
blob AS (
  SELECT s.n, jsonb_object_agg(s.key, CASE
           WHEN get_byte(s.r, 1) % 40 = 1 THEN (ARRAY['"anxiety, mostly"', 'null', '{"name": "journaling"}', '"TBD"',
                                                      '"kindness"', '7']::jsonb[])[s.ordinal]
           ELSE coalesce(a.elements, '[]') END)
         FILTER (WHERE get_byte(s.r, 1) % 40 <> 0) AS categories
  FROM shape s LEFT JOIN arrays a ON a.n = s.n AND a.ordinal = s.ordinal
  GROUP BY s.n
)
SELECT md5('nmp-sample:memory_profile:' || n)::uuid,
       md5('nmp-sample:user:' || n)::uuid,
       CASE WHEN n % 5 = 0 THEN NULL
            WHEN n % 13 = 0 THEN ''
            ELSE (ARRAY['Working through grief after losing a parent last spring.',
                        'High-functioning, anxious about work; responds well to structure.',
                        'Rebuilding routines after burnout. Prefers short check-ins.',
                        'Navigating a breakup; leans on friends, avoids family topics.',
                        E'New to therapy. Says "I''m fine" a lot.',
                        'Sleep is the lever: good nights, good days.'])[1 + n % 6]
       END,
       CASE WHEN n % 4 = 0 THEN NULL ELSE 1 + n % 10 END,
       CASE WHEN n % 60 = 0 THEN '{}'
            ELSE coalesce(categories, '{}')
                 || CASE WHEN n % 7 = 0 THEN '{"version": 2}'::jsonb ELSE '{}' END
                 || CASE WHEN n % 11 = 0 THEN '{"notes": "imported from the v1 app"}'::jsonb ELSE '{}' END
       END,
       timestamptz '2024-01-01 09:30:00+00' + n * interval '26 hours 17 minutes',
       timestamptz '2024-06-01 12:00:00+00' + n * interval '13 hours 3 minutes 7.25 seconds'
FROM blob;

-- 0 to 3 conversations per user, 2 to 6 messages each, and a crisis flag on about one in sixteen.
INSERT INTO conversations (id, user_id, title, started_at, ended_at)
SELECT md5(format('nmp-sample:conversation:%s:%s', n, k))::uuid,
       md5('nmp-sample:user:' || n)::uuid,
       CASE WHEN k % 3 = 0 THEN NULL ELSE (ARRAY['Check-in', 'Rough week', 'Sleep', 'Work', 'Family', 'Small wins'])[1 + (n + k) % 6] END,
       timestamptz '2025-01-06 18:00:00+00' + n * interval '5 hours' + k * interval '3 days',
       CASE WHEN (n + k) % 9 = 0 THEN NULL
            ELSE timestamptz '2025-01-06 18:00:00+00' + n * interval '5 hours' + k * interval '3 days' + (10 + (n * k) % 50) * interval '1 minute'
       END
FROM generate_series(1, 300) AS n
CROSS JOIN LATERAL generate_series(1, n % 4) AS k;

INSERT INTO conversation_messages (id, conversation_id, role, content, created_at)
SELECT md5(format('nmp-sample:message:%s:%s', c.id, m))::uuid,
       c.id,
       CASE WHEN m % 2 = 1 THEN 'user' ELSE 'assistant' END,
       CASE WHEN m % 2 = 1
            THEN (ARRAY['I had a rough night.', 'Work was a lot today', 'I tried the breathing thing, it helped a bit',
                        'Can we talk about my sister?', 'idk'])[1 + get_byte(decode(md5(c.id::text || m), 'hex'), 0) % 5]
            ELSE (ARRAY['That sounds exhausting. What made it rough?', 'What helped, even a little?',
                        'Let''s try naming the feeling first.', 'Of course. What''s on your mind about her?'])[1 + get_byte(decode(md5(c.id::text || m), 'hex'), 1) % 4]
       END,
       c.started_at + m * interval '2 minutes'
FROM conversations c
CROSS JOIN LATERAL generate_series(1, 2 + get_byte(decode(md5(c.id::text), 'hex'), 0) % 5) AS m;

INSERT INTO crisis_flags (id, user_id, conversation_id, severity, reason, flagged_at, resolved_at)
SELECT md5('nmp-sample:crisis_flag:' || c.id)::uuid,
       c.user_id,
       c.id,
       (ARRAY['low', 'medium', 'high', 'critical'])[1 + get_byte(decode(md5(c.id::text), 'hex'), 2) % 4],
       (ARRAY['mentioned not wanting to be here', 'self-harm language', 'panic attack in progress'])[1 + get_byte(decode(md5(c.id::text), 'hex'), 3) % 3],
       c.started_at + interval '10 minutes',
       CASE WHEN get_byte(decode(md5(c.id::text), 'hex'), 4) % 3 = 0 THEN NULL ELSE c.started_at + interval '2 days' END
FROM conversations c
WHERE get_byte(decode(md5(c.id::text), 'hex'), 1) % 16 = 0;
