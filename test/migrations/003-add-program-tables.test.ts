import { beforeAll, describe, expect, it } from 'vitest';
import { generateSampleData } from '../../src/sample/generate.js';
import { useDatabase } from '../support/database.js';
import { type Client, inRollback, runChecks, runStep, type StepOutput } from './apply.js';
import { buildModel, md5Uuid, type Model, readMvp, sortBy } from './model.js';
import { mvpDigest, schemaSnapshot, tableDigest } from './snapshot.js';

const NAME = '003_add_program_tables';
const EDGE_USER = 'edge_user_0000000000000000000';
const micros = (column: string) => `(extract(epoch from ${column}) * 1000000)::bigint::text`;
const big = (v: string | null) => (v === null ? null : BigInt(v));

/** Hand-made conversations of one user, for the week rules the generator cannot pin down. */
async function insertEdgeCases(sql: Client): Promise<void> {
  const weeks: [string, string, string][] = [
    // [id suffix, metadata, created_at]
    ['01', '{"week_number": 1, "goal_type": "fitness", "specific": "  ", "goal_description": "Walk more", "measurable": "10k steps"}', '2024-03-01 09:00'],
    ['02', `{"week_number": "1", "session_type": "${'x'.repeat(51)}"}`, '2024-03-02 09:00'],
    ['03', '{"week_number": 2.0, "goal_type": "sleep"}', '2024-03-03 09:00'],
    ['04', '{"week_number": "99999999999"}', '2024-03-04 09:00'],
    ['05', '{"week_number": 10000000000}', '2024-03-04 09:00'],
    ['06', '{"week_number": "two", "goal_type": "stress"}', '2024-03-04 09:00'],
    ['07', '{"week_number": 1.5}', '2024-03-04 09:00'],
    ['08', '{"week_number": -1}', '2024-03-04 09:00'],
    ['09', '{"week_number": 0}', '2024-03-04 09:00'],
    ['10', '{"week_number": true}', '2024-03-04 09:00'],
    ['11', '{"week_number": null, "goal_type": null}', '2024-03-04 09:00'],
    ['12', `{"goal_type": "${'y'.repeat(51)}"}`, '2024-03-04 09:00'],
    ['13', '{"week_number": "3", "session_type": "reflection"}', '2024-03-05 09:00'],
    ['14', '{"week_number": 3}', '2024-03-05 09:00'],
  ];
  for (const [suffix, metadata, created] of weeks) {
    await sql`INSERT INTO conversations (id, user_id, metadata, created_at, updated_at)
              VALUES (${`00000000-0000-4000-8000-0000000000${suffix}`}, ${EDGE_USER}, ${metadata}::text::jsonb, ${created}, ${created})`;
  }
  await sql`
    INSERT INTO messages (id, conversation_id, role, content, metadata, created_at) VALUES
      ('00000000-0000-4000-9000-000000000001', '00000000-0000-4000-8000-000000000001', 'assistant', 'a', '{"takeaways": ["Start small", "Rest"]}', '2024-03-01 09:01'),
      ('00000000-0000-4000-9000-000000000002', '00000000-0000-4000-8000-000000000001', 'user', 'b', '{"takeaways": [1, "Sleep", null, "  "], "action_items": "Walk daily"}', '2024-03-01 09:00'),
      ('00000000-0000-4000-9000-000000000003', '00000000-0000-4000-8000-000000000001', 'assistant', 'c', '{"action_items": ["Plan meals", "Stretch"]}', '2024-03-01 09:02'),
      ('00000000-0000-4000-9000-000000000004', '00000000-0000-4000-8000-000000000003', 'assistant', 'd', '{"takeaways": []}', '2024-03-03 09:01')`;
}

describe('003_add_program_tables on generated data', () => {
  const db = useDatabase();
  let sql: Client;
  let model: Model;
  let schemaBefore: string[];
  let dataBefore: string[];
  let upOutput: StepOutput;

  const dataDigest = async () => [
    await mvpDigest(sql),
    await tableDigest(sql, 'users', 'user_id'),
    await tableDigest(sql, 'engagement_analytics', 'user_id'),
  ];
  const programDigest = async () => [
    await tableDigest(sql, 'smart_goals', 'goal_id'),
    await tableDigest(sql, 'sessions', 'session_id'),
    await tableDigest(sql, 'session_takeaways', 'takeaway_id'),
  ];

  beforeAll(async () => {
    sql = db.current.sql;
    await runStep(db.current.url, '001_mvp', 'up');
    await generateSampleData(db.current.sql, { users: 150, seed: 42, conversationsPerUser: 8, messagesPerConversation: 8 });
    await insertEdgeCases(sql);
    await runStep(db.current.url, '002_add_user_tables', 'up');
    model = buildModel(await readMvp(sql));
    schemaBefore = await schemaSnapshot(sql);
    dataBefore = await dataDigest();
    upOutput = await runStep(db.current.url, NAME, 'up');
  });

  it('reports what it made and what it skipped, with counts (NOTICE)', () => {
    const completed = model.sessions.filter((s) => s.status === 'completed').length;
    expect(upOutput.notices[0]).toBe(`003 backfill: ${model.goals.length} smart_goals, ${model.sessions.length} sessions ` +
      `(${completed} completed), ${model.takeaways.length} session_takeaways`);
    expect(model.skipped.noUser).toBeGreaterThan(0);
    expect(model.skipped.badWeek).toBeGreaterThan(0);
    expect(model.skipped.badGoal).toBeGreaterThan(0);
    expect(upOutput.notices).toContain(`skipped ${model.skipped.noUser} conversations with program metadata but no user_id`);
    expect(upOutput.notices.find((n) => n.startsWith('skipped') && n.includes('week_number')))
      .toMatch(new RegExp(`^skipped ${model.skipped.badWeek} sessions: metadata.week_number is not a positive integer \\(e\\.g\\. .*"two"`));
    expect(upOutput.notices.find((n) => n.includes('goal_type')))
      .toMatch(new RegExp(`^skipped ${model.skipped.badGoal} goals: `));
    expect(upOutput.notices).toHaveLength(4);
  });

  it('backfills goals from metadata.goal_type with SMART parts, never invented text', async () => {
    const rows = await sql.unsafe(`
      SELECT goal_id::text, user_id::text, conversation_id::text, goal_type, specific, measurable, achievable,
             relevant, time_bound, status, completed_at, ${micros('created_at')} AS created FROM smart_goals`);
    const actual = rows.map((r) => ({
      goalId: r.goal_id, userId: r.user_id, conversationId: r.conversation_id, goalType: r.goal_type, specific: r.specific,
      measurable: r.measurable, achievable: r.achievable, relevant: r.relevant, timeBound: r.time_bound, createdAt: big(r.created),
    }));
    expect(sortBy(actual, (g) => g.goalId)).toEqual(sortBy(model.goals, (g) => g.goalId));
    expect(rows.every((r) => r.status === 'active' && r.completed_at === null)).toBe(true);
    // All three fallbacks of `specific` occur in the data.
    expect(model.goals.some((g) => g.specific === g.goalType)).toBe(true);
    expect(model.goals.some((g) => g.measurable === '')).toBe(true);
    expect(model.goals.some((g) => g.measurable !== '')).toBe(true);
  });

  it('backfills sessions numbered 1..n per user and week by creation time', async () => {
    const rows = await sql.unsafe(`
      SELECT session_id::text, user_id::text, goal_id::text, conversation_id::text, week_number, session_number,
             session_type, status, ${micros('completed_date')} AS completed, ${micros('created_at')} AS created FROM sessions`);
    const actual = rows.map((r) => ({
      sessionId: r.session_id, userId: r.user_id, goalId: r.goal_id, conversationId: r.conversation_id,
      weekNumber: r.week_number, sessionNumber: r.session_number, sessionType: r.session_type, status: r.status,
      completedDate: big(r.completed), createdAt: big(r.created),
    }));
    expect(sortBy(actual, (s) => s.sessionId)).toEqual(sortBy(model.sessions, (s) => s.sessionId));
    expect(new Set(model.sessions.map((s) => s.status))).toEqual(new Set(['completed', 'in_progress']));
    expect(model.sessions.some((s) => s.sessionNumber > 1)).toBe(true);
    expect(model.sessions.some((s) => s.goalId !== null)).toBe(true);
  });

  it('reads weeks strictly: JSON integers and digit strings only', async () => {
    const rows = await sql<{ conversation: string; week_number: number; session_number: number; session_type: string | null; goal: string | null }[]>`
      SELECT right(s.conversation_id::text, 2) AS conversation, s.week_number, s.session_number, s.session_type,
             g.goal_type AS goal
      FROM sessions s LEFT JOIN smart_goals g USING (goal_id)
      WHERE s.user_id = ${md5Uuid(`strata-user:${EDGE_USER}`)}
      ORDER BY s.week_number, s.session_number`;
    expect(rows).toEqual([
      { conversation: '01', week_number: 1, session_number: 1, session_type: null, goal: 'fitness' },
      { conversation: '02', week_number: 1, session_number: 2, session_type: null, goal: null }, // 51-char type dropped
      { conversation: '03', week_number: 2, session_number: 1, session_type: null, goal: 'sleep' }, // 2.0 is integral
      // same created_at: the conversation id decides
      { conversation: '13', week_number: 3, session_number: 1, session_type: 'reflection', goal: null },
      { conversation: '14', week_number: 3, session_number: 2, session_type: null, goal: null },
    ]);
    const [goal] = await sql<{ specific: string; measurable: string; achievable: string }[]>`
      SELECT specific, measurable, achievable FROM smart_goals WHERE conversation_id = '00000000-0000-4000-8000-000000000001'`;
    expect(goal).toEqual({ specific: 'Walk more', measurable: '10k steps', achievable: '' });
    // "two" skipped for the session, but its goal is kept; a 51-character goal type is skipped.
    const goals = await sql<{ c: string }[]>`
      SELECT right(conversation_id::text, 2) AS c FROM smart_goals
      WHERE user_id = ${md5Uuid(`strata-user:${EDGE_USER}`)} ORDER BY 1`;
    expect(goals.map((g) => g.c)).toEqual(['01', '03', '06']);
  });

  it('collects takeaways and action items per session, newline-joined in message order', async () => {
    const rows = await sql.unsafe(`
      SELECT takeaway_id::text, session_id::text, key_learnings, action_items, revised_goal,
             ${micros('created_at')} AS created FROM session_takeaways`);
    const actual = rows.map((r) => ({
      takeawayId: r.takeaway_id, sessionId: r.session_id, keyLearnings: r.key_learnings, actionItems: r.action_items,
      createdAt: big(r.created),
    }));
    expect(sortBy(actual, (t) => t.takeawayId)).toEqual(sortBy(model.takeaways, (t) => t.takeawayId));
    const edge = rows.find((r) => r.session_id === md5Uuid('strata-session:00000000-0000-4000-8000-000000000001'));
    expect(edge).toMatchObject({ key_learnings: 'Sleep\nStart small\nRest', action_items: 'Walk daily\nPlan meals\nStretch' });
    // A session whose messages carry only an empty array gets no row.
    expect(rows.some((r) => r.session_id === md5Uuid('strata-session:00000000-0000-4000-8000-000000000003'))).toBe(false);
  });

  it('enforces the design CHECKs', async () => {
    const userId = model.users[0]!.userId;
    const code = async (statement: string) => {
      try {
        await inRollback(db.current.sql, async (tx) => { await tx.unsafe(statement, [userId]); });
        return 'ok';
      } catch (error) {
        return (error as { code?: string }).code;
      }
    };
    expect(await code(`INSERT INTO check_ins (user_id, checkin_date, mood_rating, goal_progress) VALUES ($1, '2024-01-01', 10, 100)`)).toBe('ok');
    expect(await code(`INSERT INTO check_ins (user_id, checkin_date, mood_rating) VALUES ($1, '2024-01-01', 11)`)).toBe('23514');
    expect(await code(`INSERT INTO check_ins (user_id, checkin_date, goal_progress) VALUES ($1, '2024-01-01', -1)`)).toBe('23514');
    expect(await code(`INSERT INTO sessions (user_id, session_number, week_number) VALUES ($1, 1, 0)`)).toBe('23514');
    expect(await code(`INSERT INTO sessions (user_id, session_number, week_number) VALUES ($1, 0, 1)`)).toBe('23514');
    expect(await code(`INSERT INTO sessions (user_id, session_number, week_number, status) VALUES ($1, 9, 9, 'done')`)).toBe('23514');
    expect(await code(`INSERT INTO smart_goals (user_id, goal_type, specific, measurable, achievable, relevant, time_bound, status)
                       VALUES ($1, 'sleep', 's', '', '', '', '', 'paused')`)).toBe('23514');
  });

  it('passes its checks', async () => {
    const results = await runChecks(sql, NAME);
    expect(results).toHaveLength(5);
    for (const r of results) expect(r.violations, r.check).toEqual([]);
  });

  describe('each check fails on a database crafted to violate it', () => {
    const failing = async (craft: (tx: Client) => Promise<unknown>) => {
      let failed: string[] = [];
      await inRollback(db.current.sql, async (tx) => {
        await craft(tx);
        failed = (await runChecks(tx, NAME)).filter((r) => r.violations.length > 0).map((r) => r.check);
      });
      return failed;
    };
    const someSession = `(SELECT session_id FROM sessions WHERE session_number = 2 ORDER BY session_id LIMIT 1)`;

    it('a duplicate user/week/number (once the unique index is gone)', async () => {
      expect(await failing(async (tx) => {
        await tx`DROP INDEX idx_sessions_user_week`;
        await tx.unsafe(`INSERT INTO sessions (user_id, week_number, session_number)
                         SELECT user_id, week_number, session_number FROM sessions WHERE session_id = ${someSession}`);
      })).toEqual(['sessions are unique per user, week and session number']);
    });

    it('a gap in the numbering', async () => {
      expect(await failing((tx) => tx.unsafe(`UPDATE sessions SET session_number = 7 WHERE session_id = ${someSession}`)))
        .toEqual(['sessions are numbered 1..n without gaps per user and week']);
    });

    it('a session or goal moved to another user', async () => {
      const other = model.users[1]!.userId;
      expect(await failing((tx) => tx`
        UPDATE sessions SET user_id = ${other}, week_number = 999, session_number = 1
        WHERE session_id = (SELECT session_id FROM sessions s WHERE user_id <> ${other} AND goal_id IS NULL
                              AND NOT EXISTS (SELECT 1 FROM sessions n WHERE (n.user_id, n.week_number) = (s.user_id, s.week_number)
                                                AND n.session_number > s.session_number)
                            ORDER BY session_id LIMIT 1)`))
        .toEqual(['every backfilled session belongs to the user of its source conversation']);
      expect(await failing((tx) => tx`
        UPDATE smart_goals SET user_id = ${other}
        WHERE goal_id = (SELECT goal_id FROM smart_goals g WHERE user_id <> ${other}
                           AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.goal_id = g.goal_id) ORDER BY goal_id LIMIT 1)`))
        .toEqual(['every backfilled goal belongs to the user of its source conversation']);
    });

    it("a session linked to another user's goal", async () => {
      expect(await failing((tx) => tx`
        UPDATE sessions s SET goal_id = (SELECT goal_id FROM smart_goals g WHERE g.user_id <> s.user_id ORDER BY goal_id LIMIT 1)
        WHERE session_id = (SELECT session_id FROM sessions ORDER BY session_id LIMIT 1)`))
        .toEqual(["a session's goal belongs to the session's user"]);
    });
  });

  it('down drops the program tables and leaves schema and data as before; re-applying gives identical rows', async () => {
    const first = await programDigest();
    await runStep(db.current.url, NAME, 'down');
    expect(await schemaSnapshot(sql)).toEqual(schemaBefore);
    expect(await dataDigest()).toEqual(dataBefore);
    const again = await runStep(db.current.url, NAME, 'up');
    expect(again.notices).toEqual(upOutput.notices);
    expect(await programDigest()).toEqual(first);
  });
});
