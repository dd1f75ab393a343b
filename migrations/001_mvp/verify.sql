-- check: conversation metadata is a JSON object (later phases read keys from it)
SELECT id, jsonb_typeof(metadata) AS metadata_type
FROM conversations
WHERE jsonb_typeof(metadata) <> 'object';

-- check: message_count is never negative
SELECT id, message_count
FROM conversations
WHERE message_count < 0;
