-- Removes the legacy schema. Tables holding rows are backed up by strata first (SPEC §6).
DROP TABLE
  check_in_responses,
  check_ins,
  goal_progress,
  goals,
  conversation_history,
  user_sessions,
  user_preferences,
  users;
