-- 004_add_transcripts: design guide phase 4 — session transcripts, filled from the messages of
-- each completed session's source conversation (SPEC §8).
--
-- The design's sketch joins messages to sessions on user and week, so a user with two sessions
-- in a week would get every message twice; we use sessions.conversation_id (003) instead.
-- Deviations: CHECKs the design implies (sender values, positive order), NOT NULL session_id,
-- and idx_transcripts_order is UNIQUE — an order is a position within its session.
-- The foreign key and the indexes are added after the load: validating half a million rows in one
-- anti-join and building each index with one sort is about twice as fast as per-row checks.

CREATE TABLE transcripts (
  transcript_id   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  session_id      uuid NOT NULL,          -- → sessions ON DELETE CASCADE, added after the load
  message_order   integer NOT NULL CHECK (message_order > 0),
  sender          varchar(20) NOT NULL CHECK (sender IN ('user', 'assistant', 'system')),
  message_content text NOT NULL,
  "timestamp"     timestamp DEFAULT now(),
  metadata        jsonb
);

-- Backfill: one row per message, numbered by created_at then id (ties broken the same way
-- everywhere: 002's response times, 003's takeaways, this). Ids derive from session and message,
-- so a rollback and re-apply yields the same rows.
INSERT INTO transcripts (transcript_id, session_id, message_order, sender, message_content, "timestamp", metadata)
SELECT md5('strata-transcript:' || s.session_id::text || ':' || m.id::text)::uuid,
       s.session_id,
       row_number() OVER (PARTITION BY s.session_id ORDER BY m.created_at, m.id),
       m.role::text,
       m.content,
       m.created_at,
       m.metadata
FROM sessions s
JOIN messages m ON m.conversation_id = s.conversation_id
WHERE s.status = 'completed';

ALTER TABLE transcripts ADD CONSTRAINT transcripts_session_id_fkey
  FOREIGN KEY (session_id) REFERENCES sessions (session_id) ON DELETE CASCADE;
CREATE INDEX idx_transcripts_session ON transcripts (session_id);
CREATE UNIQUE INDEX idx_transcripts_order ON transcripts (session_id, message_order);

DO $$
DECLARE
  rows_made int; sessions_with int; without_source int;
BEGIN
  SELECT count(*), count(DISTINCT session_id) INTO rows_made, sessions_with FROM transcripts;
  SELECT count(*) INTO without_source FROM sessions WHERE status = 'completed' AND conversation_id IS NULL;
  RAISE NOTICE '004 backfill: % transcript rows for % completed sessions', rows_made, sessions_with;
  IF without_source > 0 THEN
    RAISE NOTICE 'skipped % completed sessions without a source conversation', without_source;
  END IF;
END $$;
