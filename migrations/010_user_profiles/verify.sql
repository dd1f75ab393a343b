-- Checks of 010_user_profiles (SPEC §8). Each passes when its SELECT returns no rows.

-- check: one profile per user (every user has exactly one)
SELECT u.user_id, count(p.user_id) AS profiles
FROM users u
LEFT JOIN user_profiles p ON p.user_id = u.user_id
GROUP BY u.user_id
HAVING count(p.user_id) <> 1
ORDER BY u.user_id;

-- check: profile, preferences and patterns are JSON objects
SELECT user_id, jsonb_typeof(profile) AS profile, jsonb_typeof(preferences) AS preferences,
       jsonb_typeof(patterns) AS patterns
FROM user_profiles
WHERE jsonb_typeof(profile) <> 'object' OR jsonb_typeof(preferences) <> 'object' OR jsonb_typeof(patterns) <> 'object'
ORDER BY user_id;

-- check: every timezone is a time zone name PostgreSQL knows (pg_timezone_names)
WITH zones AS (SELECT timezone, count(*) AS profiles FROM user_profiles GROUP BY timezone)
SELECT z.timezone, z.profiles
FROM zones z
WHERE NOT EXISTS (SELECT 1 FROM pg_timezone_names n WHERE n.name = z.timezone)
ORDER BY z.timezone;
