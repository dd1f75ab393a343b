-- 003_ai_first: 8 tables → 2. Goals, conversations, check-ins and sessions now live in the AI
-- memory service (Mem0) behind tools; PostgreSQL keeps the static lookup data only: users (phone
-- number → user id) and user_preferences (personality, memory switch, check-in schedule).
--
-- The team backed these tables up to CSV by hand before dropping them. Here strata does it: before
-- this statement runs it locks the six tables, copies every one that holds rows into ONE backup
-- directory (one snapshot, verified against its manifest), skips the empty ones, and refuses to go
-- on without --yes when not on a terminal. `migrate restore <that directory>` after a rollback puts
-- every row back.
--
-- The documents' "future enhancements" (a preferred_messaging_platform column, index tuning,
-- importing the backups into Mem0) are deliberately not here: see the README.
DROP TABLE
  check_in_responses,
  check_ins,
  goal_progress,
  goals,
  conversation_history,
  user_sessions;
