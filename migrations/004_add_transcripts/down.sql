-- Reverts 004_add_transcripts (strata backs transcripts up first when it holds rows, SPEC §6).
DROP TABLE transcripts;
