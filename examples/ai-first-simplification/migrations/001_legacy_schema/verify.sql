-- Checks of 001_legacy_schema. `migrate verify` runs the checks of every applied migration against
-- the schema as it is now, so these only read the two tables that outlive 003_ai_first.

-- check: every user has exactly one preferences row
SELECT u.id, u.phone_number
FROM users u
LEFT JOIN user_preferences p ON p.user_id = u.id
WHERE p.id IS NULL;

-- check: every time zone is one PostgreSQL knows (check-ins are scheduled in it)
SELECT 'users' AS source, id, timezone FROM users
WHERE timezone NOT IN (SELECT name FROM pg_timezone_names)
UNION ALL
SELECT 'user_preferences', user_id, timezone FROM user_preferences
WHERE timezone IS NOT NULL AND timezone NOT IN (SELECT name FROM pg_timezone_names);
