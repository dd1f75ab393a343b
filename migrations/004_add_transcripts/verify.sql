-- Checks of 004_add_transcripts (SPEC §8). Passes when the SELECT returns no rows.

-- Expected: the source conversation's messages of every completed session, numbered by created_at
-- then id. Transcripts of sessions whose conversation was deleted since (conversation_id set NULL)
-- have no source left to compare with and are not checked; any other transcript row must match.

-- check: transcripts equal their source messages (same count, order and content per completed session)
WITH expected AS (
  SELECT s.session_id,
         row_number() OVER (PARTITION BY s.session_id ORDER BY m.created_at, m.id) AS message_order,
         m.role::text AS sender, m.content, m.created_at, m.metadata
  FROM sessions s
  JOIN messages m ON m.conversation_id = s.conversation_id
  WHERE s.status = 'completed'
), actual AS (
  SELECT t.*
  FROM transcripts t
  JOIN sessions s ON s.session_id = t.session_id
  WHERE s.conversation_id IS NOT NULL
)
SELECT coalesce(e.session_id, a.session_id) AS session_id,
       coalesce(e.message_order, a.message_order) AS message_order,
       CASE WHEN a.session_id IS NULL THEN 'source message missing from transcripts'
            WHEN e.session_id IS NULL THEN 'transcript row without a source message'
            ELSE 'transcript differs from its source message' END AS problem
FROM expected e
FULL JOIN actual a ON a.session_id = e.session_id AND a.message_order = e.message_order
WHERE e.session_id IS NULL
   OR a.session_id IS NULL
   OR (a.sender, a.message_content, a."timestamp", a.metadata)
      IS DISTINCT FROM (e.sender, e.content, e.created_at, e.metadata)
ORDER BY 1, 2;
