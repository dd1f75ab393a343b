-- Checks of 002_sample_data (on users and user_preferences only: they outlive 003_ai_first).

-- check: the six sample users are all there, each with its preferences
SELECT expected.id
FROM (SELECT format('5a3e0000-0000-4000-8000-%s', lpad(n::text, 12, '0'))::uuid AS id FROM generate_series(1, 6) AS n) AS expected
LEFT JOIN users u ON u.id = expected.id
LEFT JOIN user_preferences p ON p.user_id = expected.id
WHERE u.id IS NULL OR p.id IS NULL;
