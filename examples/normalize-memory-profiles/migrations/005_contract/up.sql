-- 005_contract: the deploy is over and every instance runs the new code. The old names go, and so
-- does the frozen copy of the original blobs (memory_profiles_legacy). strata backs that table up
-- before the drop — the original blobs stay on disk, verified, restorable — and refuses to run
-- without --yes when not on a terminal.

DROP VIEW conversations, conversation_messages, crisis_flags;
DROP VIEW memory_profiles;
DROP TABLE memory_profiles_legacy;
