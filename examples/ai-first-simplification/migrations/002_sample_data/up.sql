-- 002_sample_data: a SAMPLE shaped like the team's production data on the day of the change
-- (6 users, 6 preferences, 83 conversation_history rows, 2 goals, 3 user_sessions; goal_progress,
-- check_ins and check_in_responses empty). A real database brings its own rows: see the README.
--
-- Deterministic: fixed ids and timestamps (ids of generated rows are md5 of their position), so
-- every run, rollback and re-apply produces the same rows. Phone numbers are in ranges reserved
-- for fiction (+1 202 555-01xx, +44 7700 900xxx, +61 491 570 xxx). Some values are awkward on
-- purpose — NULL next to empty string, commas, quotes, newlines, emoji — because the backup of
-- 003_ai_first must bring every one of them back.

INSERT INTO users (id, phone_number, email, name, timezone, status, created_at, last_active) VALUES
  ('5a3e0000-0000-4000-8000-000000000001', '+12025550101', 'maya@example.com',  'Maya Chen',            'America/New_York',    'active',      '2025-03-02 14:05:00+00', '2025-06-22 07:58:12+00'),
  ('5a3e0000-0000-4000-8000-000000000002', '+12025550102', 'jose@example.com',  'José Álvarez',         'America/Mexico_City', 'active',      '2025-03-09 18:40:00+00', '2025-06-21 23:10:45+00'),
  ('5a3e0000-0000-4000-8000-000000000003', '+447700900103', 'zoe@example.org',  'Zoë "Z" Okafor',       'Europe/London',       'active',      '2025-04-11 09:15:30+00', '2025-06-20 19:02:00+00'),
  ('5a3e0000-0000-4000-8000-000000000004', '+12025550104', NULL,                'Priya, the night owl', 'Asia/Kolkata',        'paused',      '2025-04-28 16:00:00+00', NULL),
  ('5a3e0000-0000-4000-8000-000000000005', '+12025550105', 'no-name@example.net', '',                   'UTC',                 'active',      '2025-05-30 11:11:11+00', '2025-06-01 08:00:00+00'),
  ('5a3e0000-0000-4000-8000-000000000006', '+61491570106', NULL,                NULL,                   'Australia/Sydney',    'deactivated', '2025-06-01 00:00:00+00', '2025-06-02 00:30:00+00');

INSERT INTO user_preferences (id, user_id, default_personality, ai_memory_enabled, check_in_enabled, check_in_time, check_in_days, timezone, created_at, updated_at) VALUES
  ('5a3e0000-0000-4000-8001-000000000001', '5a3e0000-0000-4000-8000-000000000001', 'taskmaster',  true,  true,  '07:00', '{1,3,5}',         NULL,            '2025-03-02 14:05:00+00', '2025-06-10 12:00:00+00'),
  ('5a3e0000-0000-4000-8001-000000000002', '5a3e0000-0000-4000-8000-000000000002', 'cheerleader', true,  true,  '09:00', '{1,2,3,4,5}',     NULL,            '2025-03-09 18:40:00+00', '2025-03-09 18:40:00+00'),
  ('5a3e0000-0000-4000-8001-000000000003', '5a3e0000-0000-4000-8000-000000000003', 'taskmaster',  false, true,  '18:30', '{1,2,3,4,5,6,7}', 'Europe/Lisbon', '2025-04-11 09:15:30+00', '2025-05-01 10:00:00+00'),
  ('5a3e0000-0000-4000-8001-000000000004', '5a3e0000-0000-4000-8000-000000000004', 'cheerleader', true,  false, '21:30', '{}',              NULL,            '2025-04-28 16:00:00+00', '2025-06-15 21:45:00+00'),
  ('5a3e0000-0000-4000-8001-000000000005', '5a3e0000-0000-4000-8000-000000000005', 'cheerleader', true,  true,  '09:00', '{6,7}',           NULL,            '2025-05-30 11:11:11+00', '2025-05-30 11:11:11+00'),
  ('5a3e0000-0000-4000-8001-000000000006', '5a3e0000-0000-4000-8000-000000000006', 'taskmaster',  false, false, '06:15', '{1,2,3,4,5}',     NULL,            '2025-06-01 00:00:00+00', '2025-06-02 00:30:00+00');

-- 83 messages: user n has 24, 19, 15, 12, 8 and 5 of them, alternating user and assistant, set-based.
INSERT INTO conversation_history (id, user_id, role, content, personality, platform, metadata, created_at)
SELECT md5(format('ai-first-sample:conversation_history:%s:%s', c.n, k))::uuid,
       u.id,
       CASE WHEN k % 2 = 1 THEN 'user' ELSE 'assistant' END,
       CASE WHEN k % 2 = 1
            THEN (ARRAY[
                   'I want to get fit',
                   'Skipped the gym again, ugh',
                   'Can we move my check-in to 7:30?',
                   'Done! 5k in 31:20 🏃',
                   E'Two things:\n1. I slept badly\n2. I still went',
                   'Remind me why I''m doing this',
                   'feeling "meh", honestly',
                   'Read 40 pages, finished chapter 3, on to 4',
                   E'tab\tseparated\tthoughts',
                   'ok'
                 ])[1 + (c.n * 7 + k) % 10]
            ELSE (ARRAY[
                   'Gym 3x weekly? Let''s lock it in! 🎯',
                   'No excuses. Shoes on, out the door, 20 minutes.',
                   'Moved: tomorrow 7:30. Don''t make me chase you 😤',
                   'Look at you go!! 🎉 That''s a PB, right?',
                   E'Rough night, still showed up.\nThat''s the habit talking.',
                   'Because future-you asked for it, in writing.',
                   '"Meh" days count too. One small thing today?',
                   'Chapter 4 tonight, then lights out by 11.',
                   'Back\slash\es are fine here: C:\goals\2025',
                   ''
                 ])[1 + (c.n * 7 + k) % 10]
       END,
       CASE WHEN k % 2 = 0 THEN p.default_personality END,
       CASE WHEN c.n = 6 THEN 'sms' WHEN k % 11 = 0 THEN 'web' ELSE 'whatsapp' END,
       CASE WHEN k % 2 = 1 THEN jsonb_build_object('wa_message_id', 'wamid.' || left(md5(format('%s:%s', c.n, k)), 16))
            WHEN k % 5 = 0 THEN jsonb_build_object('tokens', 40 + k * 3, 'tools', jsonb_build_array('create_goal', 'schedule_reminder'))
            ELSE '{}'::jsonb
       END,
       u.created_at + make_interval(days => k, mins => (k % 2) * 2, secs => (c.n * 13 + k * 7) % 60)
FROM (VALUES (1, 24), (2, 19), (3, 15), (4, 12), (5, 8), (6, 5)) AS c (n, count)
JOIN users u ON u.id = format('5a3e0000-0000-4000-8000-%s', lpad(c.n::text, 12, '0'))::uuid
JOIN user_preferences p ON p.user_id = u.id
CROSS JOIN LATERAL generate_series(1, c.count) AS k;

INSERT INTO goals (id, user_id, title, description, category, target_date, status, created_at, updated_at) VALUES
  ('5a3e0000-0000-4000-8002-000000000001', '5a3e0000-0000-4000-8000-000000000001', 'Gym 3x weekly',
   E'Mon/Wed/Fri, 7am.\nNo "I''ll go tomorrow" 🎯', 'fitness', '2025-09-30', 'active', '2025-06-02 07:10:00+00', '2025-06-20 08:00:00+00'),
  ('5a3e0000-0000-4000-8002-000000000002', '5a3e0000-0000-4000-8000-000000000003', 'Read 12 books this year',
   NULL, 'learning', NULL, 'active', '2025-04-12 20:00:00+00', '2025-04-12 20:00:00+00');

INSERT INTO user_sessions (id, user_id, platform, started_at, ended_at, message_count) VALUES
  ('5a3e0000-0000-4000-8003-000000000001', '5a3e0000-0000-4000-8000-000000000001', 'whatsapp', '2025-06-22 07:58:12+00', '2025-06-22 08:21:40.5+00', 14),
  ('5a3e0000-0000-4000-8003-000000000002', '5a3e0000-0000-4000-8000-000000000002', 'web',      '2025-06-21 23:02:00+00', NULL, 3),
  ('5a3e0000-0000-4000-8003-000000000003', '5a3e0000-0000-4000-8000-000000000006', 'sms',      '2025-06-02 00:25:00+00', '2025-06-02 00:30:00+00', 0);
