-- 004_rename_conversation_tables: every per-user table gets the user_ prefix. An instance still
-- running the old code during the deploy keeps working: each old name becomes a view of the
-- renamed table. Views this simple are automatically updatable, so the old code's INSERT, UPDATE,
-- DELETE and RETURNING go through to the table (with its defaults, CHECKs and foreign keys).
-- 005_contract drops the views once every instance runs the new code.
--
-- Renaming is a catalog change: no data moves, each ALTER holds its ACCESS EXCLUSIVE lock only
-- for an instant (within --ddl-lock-timeout, retried). Indexes and constraints keep their names.

ALTER TABLE conversations RENAME TO user_conversations;
ALTER TABLE conversation_messages RENAME TO user_conversation_messages;
ALTER TABLE crisis_flags RENAME TO user_crisis_flags;

CREATE VIEW conversations AS SELECT * FROM user_conversations;
CREATE VIEW conversation_messages AS SELECT * FROM user_conversation_messages;
CREATE VIEW crisis_flags AS SELECT * FROM user_crisis_flags;
