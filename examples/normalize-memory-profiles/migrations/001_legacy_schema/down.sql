-- Removes the legacy schema; strata backs up the tables that hold rows first (SPEC §6).
DROP TABLE crisis_flags, conversation_messages, conversations, memory_profiles, users;
