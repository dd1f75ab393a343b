-- Removes the sample: its 300 users, and with them (ON DELETE CASCADE) their profiles,
-- conversations, messages and flags. Rows of any other user are left alone.
DELETE FROM users WHERE id IN (SELECT md5('nmp-sample:user:' || n)::uuid FROM generate_series(1, 300) AS n);
