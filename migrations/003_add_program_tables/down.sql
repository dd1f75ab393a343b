-- Reverts 003_add_program_tables: drops the program tables, children first, never CASCADE (a
-- dependent this file does not know about, e.g. 004's transcripts, must stop the rollback).
-- strata backs up the ones holding rows first (SPEC §6). The MVP tables are untouched by 003.
DROP TABLE check_ins;
DROP TABLE session_takeaways;
DROP TABLE sessions;
DROP TABLE smart_goals;
