-- Checks of 004_rename_conversation_tables (new names only: the old ones go in 005).

-- check: a crisis flag's conversation belongs to the flagged user
SELECT f.id AS flag_id, f.user_id, c.id AS conversation_id, c.user_id AS conversation_user_id
FROM user_crisis_flags f
JOIN user_conversations c ON c.id = f.conversation_id
WHERE c.user_id <> f.user_id;

-- check: messages are not older than their conversation
SELECT m.id AS message_id, m.created_at, c.id AS conversation_id, c.started_at
FROM user_conversation_messages m
JOIN user_conversations c ON c.id = m.conversation_id
WHERE m.created_at < c.started_at;
