-- Checks of 003_add_program_tables (SPEC §8). Each passes when its SELECT returns no rows.
-- A conversation's user is resolved as in up.sql (SPEC §9's lookup): a UUID user_id as
-- users.user_id, and any user_id as users.external_id.

-- check: sessions are unique per user, week and session number
SELECT user_id, week_number, session_number, count(*) AS sessions
FROM sessions
GROUP BY user_id, week_number, session_number
HAVING count(*) > 1;

-- check: sessions are numbered 1..n without gaps per user and week
SELECT user_id, week_number, min(session_number) AS first_number, max(session_number) AS last_number,
       count(DISTINCT session_number) AS distinct_numbers
FROM sessions
GROUP BY user_id, week_number
HAVING min(session_number) <> 1 OR max(session_number) <> count(DISTINCT session_number);

-- check: every backfilled session belongs to the user of its source conversation
SELECT s.session_id, s.user_id, c.id AS conversation_id, c.user_id AS conversation_user_id
FROM sessions s
JOIN conversations c ON c.id = s.conversation_id
LEFT JOIN users by_id
       ON by_id.user_id = CASE WHEN c.user_id ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                               THEN c.user_id::uuid END
LEFT JOIN users by_external ON by_external.external_id = c.user_id
WHERE s.user_id IS DISTINCT FROM coalesce(by_id.user_id, by_external.user_id);

-- check: every backfilled goal belongs to the user of its source conversation
SELECT g.goal_id, g.user_id, c.id AS conversation_id, c.user_id AS conversation_user_id
FROM smart_goals g
JOIN conversations c ON c.id = g.conversation_id
LEFT JOIN users by_id
       ON by_id.user_id = CASE WHEN c.user_id ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                               THEN c.user_id::uuid END
LEFT JOIN users by_external ON by_external.external_id = c.user_id
WHERE g.user_id IS DISTINCT FROM coalesce(by_id.user_id, by_external.user_id);

-- check: a session's goal belongs to the session's user
SELECT s.session_id, s.user_id, g.goal_id, g.user_id AS goal_user_id
FROM sessions s
JOIN smart_goals g ON g.goal_id = s.goal_id
WHERE g.user_id <> s.user_id;
