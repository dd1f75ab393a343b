import { beforeAll, describe, expect, it } from 'vitest';
import { generateSampleData } from '../../src/sample/generate.js';
import { useDatabase } from '../support/database.js';
import { type Client, inRollback, runChecks, runStep, type StepOutput } from './apply.js';
import { buildModel, type Model, readMvp, sortBy } from './model.js';
import { mvpDigest, schemaSnapshot, tableDigest } from './snapshot.js';

const NAME = '004_add_transcripts';
const CHECK = 'transcripts equal their source messages (same count, order and content per completed session)';

describe('004_add_transcripts on generated data', () => {
  const db = useDatabase();
  let sql: Client;
  let model: Model;
  let schemaBefore: string[];
  let dataBefore: string[];
  let upOutput: StepOutput;

  const dataDigest = async () => [
    await mvpDigest(sql),
    await tableDigest(sql, 'sessions', 'session_id'),
    await tableDigest(sql, 'smart_goals', 'goal_id'),
  ];

  beforeAll(async () => {
    sql = db.current.sql;
    await runStep(db.current.url, '001_mvp', 'up');
    await generateSampleData(db.current.sql, { users: 100, seed: 99, conversationsPerUser: 8, messagesPerConversation: 10 });
    await runStep(db.current.url, '002_add_user_tables', 'up');
    await runStep(db.current.url, '003_add_program_tables', 'up');
    model = buildModel(await readMvp(sql));
    schemaBefore = await schemaSnapshot(sql);
    dataBefore = await dataDigest();
    upOutput = await runStep(db.current.url, NAME, 'up');
  });

  it('copies the messages of every completed session, in order, once', async () => {
    const rows = await sql.unsafe(`
      SELECT transcript_id::text, session_id::text, message_order, sender, message_content, metadata,
             (extract(epoch from "timestamp") * 1000000)::bigint::text AS ts FROM transcripts`);
    const actual = rows.map((r) => ({
      transcriptId: r.transcript_id, sessionId: r.session_id, messageOrder: r.message_order, sender: r.sender,
      content: r.message_content, timestamp: BigInt(r.ts), metadata: r.metadata,
    }));
    expect(actual.length).toBe(model.transcripts.length);
    expect(sortBy(actual, (t) => t.transcriptId)).toEqual(sortBy(model.transcripts, (t) => t.transcriptId));
    const sessions = new Set(model.transcripts.map((t) => t.sessionId)).size;
    expect(upOutput.notices).toEqual([`004 backfill: ${model.transcripts.length} transcript rows for ${sessions} completed sessions`]);
  });

  it('keeps the design table: foreign key to sessions (cascade), indexes, CHECKs', async () => {
    const schema = await schemaSnapshot(sql);
    expect(schema).toEqual(expect.arrayContaining([
      'constraint transcripts.transcripts_session_id_fkey FOREIGN KEY (session_id) REFERENCES sessions(session_id) ON DELETE CASCADE',
      'index CREATE INDEX idx_transcripts_session ON public.transcripts USING btree (session_id)',
      'index CREATE UNIQUE INDEX idx_transcripts_order ON public.transcripts USING btree (session_id, message_order)',
      'column transcripts.timestamp timestamp without time zone null default now()',
    ]));
  });

  it('does not duplicate messages of users with several sessions in a week (the design sketch would)', () => {
    const completed = model.sessions.filter((s) => s.status === 'completed');
    const perWeek = new Map<string, number>();
    for (const s of completed) perWeek.set(`${s.userId}/${s.weekNumber}`, (perWeek.get(`${s.userId}/${s.weekNumber}`) ?? 0) + 1);
    expect([...perWeek.values()].some((n) => n > 1)).toBe(true);
    const ids = model.transcripts.map((t) => t.transcriptId);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('passes its check', async () => {
    const results = await runChecks(sql, NAME);
    expect(results).toEqual([{ check: CHECK, violations: [] }]);
  });

  describe('the check fails on a database crafted to violate it', () => {
    const problems = async (craft: (tx: Client) => Promise<unknown>) => {
      let found: unknown[] = [];
      await inRollback(db.current.sql, async (tx) => {
        await craft(tx);
        const [result] = await runChecks(tx, NAME);
        found = result!.violations.map((v) => v.problem);
      });
      return found;
    };
    const oneTranscript = '(SELECT transcript_id FROM transcripts WHERE message_order = 2 ORDER BY transcript_id LIMIT 1)';

    it('edited content', async () => {
      expect(await problems((tx) => tx.unsafe(`UPDATE transcripts SET message_content = message_content || '!' WHERE transcript_id = ${oneTranscript}`)))
        .toEqual(['transcript differs from its source message']);
    });

    it('a missing row', async () => {
      expect(await problems(async (tx) => {
        await tx.unsafe(`DELETE FROM transcripts t USING (SELECT session_id FROM transcripts WHERE transcript_id = ${oneTranscript}) s
                         WHERE t.session_id = s.session_id AND t.message_order = (SELECT max(message_order) FROM transcripts x WHERE x.session_id = s.session_id)`);
      })).toEqual(['source message missing from transcripts']);
    });

    it('two rows in the wrong order', async () => {
      expect(await problems(async (tx) => {
        await tx`DROP INDEX idx_transcripts_order`;
        await tx.unsafe(`UPDATE transcripts t SET message_order = 3 - t.message_order
                         WHERE t.message_order IN (1, 2)
                           AND t.session_id = (SELECT session_id FROM transcripts WHERE transcript_id = ${oneTranscript})`);
      })).toEqual(['transcript differs from its source message', 'transcript differs from its source message']);
    });

    it('a new message in the source conversation of a completed session', async () => {
      expect(await problems((tx) => tx`
        INSERT INTO messages (conversation_id, role, content, created_at)
        SELECT conversation_id, 'user', 'late reply', now() FROM sessions WHERE status = 'completed' ORDER BY session_id LIMIT 1`))
        .toEqual(['source message missing from transcripts']);
    });

    it('a transcript for a session that is not completed', async () => {
      expect(await problems((tx) => tx`
        INSERT INTO transcripts (session_id, message_order, sender, message_content)
        SELECT session_id, 1, 'user', 'hi' FROM sessions WHERE status = 'in_progress' ORDER BY session_id LIMIT 1`))
        .toEqual(['transcript row without a source message']);
    });

    it('but not once the source conversation is deleted (nothing left to compare with)', async () => {
      expect(await problems((tx) => tx`
        DELETE FROM conversations WHERE id = (SELECT conversation_id FROM sessions s
          WHERE status = 'completed' AND EXISTS (SELECT 1 FROM transcripts t WHERE t.session_id = s.session_id)
          ORDER BY session_id LIMIT 1)`)).toEqual([]);
    });
  });

  it('down restores schema and data exactly; re-applying gives identical rows', async () => {
    const first = await tableDigest(sql, 'transcripts', 'transcript_id');
    await runStep(db.current.url, NAME, 'down');
    expect(await schemaSnapshot(sql)).toEqual(schemaBefore);
    expect(await dataDigest()).toEqual(dataBefore);
    const again = await runStep(db.current.url, NAME, 'up');
    expect(again.notices).toEqual(upOutput.notices);
    expect(await tableDigest(sql, 'transcripts', 'transcript_id')).toBe(first);
  });

  it('counts completed sessions whose source conversation is gone', async () => {
    await runStep(db.current.url, NAME, 'down');
    await sql`DELETE FROM conversations WHERE id = (SELECT conversation_id FROM sessions WHERE status = 'completed' ORDER BY session_id LIMIT 1)`;
    const output = await runStep(db.current.url, NAME, 'up');
    expect(output.notices[1]).toBe('skipped 1 completed sessions without a source conversation');
    expect((await runChecks(sql, NAME))[0]!.violations).toEqual([]);
  });
});
