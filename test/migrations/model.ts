/**
 * An independent model of the 002–004 backfills, in TypeScript over the raw MVP rows: the tests
 * compare the migrations' SQL with it row by row. It follows SPEC §8 and the rules written in the
 * migrations' comments, not their SQL.
 */
import { createHash } from 'node:crypto';
import type { Client } from './apply.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A conversation as read from the database; times in microseconds since the epoch. */
export interface RawConversation {
  id: string;
  userId: string | null;
  metadata: Record<string, Json>;
  createdAt: bigint;
  updatedAt: bigint;
}

/** A message as read from the database. */
export interface RawMessage {
  id: string;
  conversationId: string;
  role: 'user' | 'assistant' | 'system';
  content: string;
  metadata: Record<string, Json> | null;
  createdAt: bigint;
}

/** The MVP tables and the server's clock (UTC, microseconds). */
export interface Mvp {
  conversations: RawConversation[];
  messages: RawMessage[];
  nowUtc: bigint;
}

const micros = (column: string) => `(extract(epoch from ${column}) * 1000000)::bigint::text`;

/** Reads the MVP tables. */
export async function readMvp(sql: Client): Promise<Mvp> {
  const conversations = await sql.unsafe(
    `SELECT id::text, user_id, metadata, ${micros('created_at')} AS created, ${micros('updated_at')} AS updated FROM conversations`);
  const messages = await sql.unsafe(
    `SELECT id::text, conversation_id::text, role::text, content, metadata, ${micros('created_at')} AS created FROM messages`);
  const [now] = await sql.unsafe(`SELECT ${micros("now() AT TIME ZONE 'UTC'")} AS now`);
  return {
    conversations: conversations.map((r) => ({
      id: r.id, userId: r.user_id, metadata: r.metadata, createdAt: BigInt(r.created), updatedAt: BigInt(r.updated),
    })),
    messages: messages.map((r) => ({
      id: r.id, conversationId: r.conversation_id, role: r.role, content: r.content, metadata: r.metadata,
      createdAt: BigInt(r.created),
    })),
    nowUtc: BigInt(now!.now),
  };
}

/** md5(text)::uuid, as PostgreSQL spells it. */
export function md5Uuid(text: string): string {
  const hex = createHash('md5').update(text, 'utf8').digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** SPEC §8's mapping of a conversation user_id to users.user_id. */
export function userUuid(sourceId: string): string {
  return UUID.test(sourceId) ? sourceId.toLowerCase() : md5Uuid(`strata-user:${sourceId}`);
}

const byTimeThenId = (a: { createdAt: bigint; id: string }, b: { createdAt: bigint; id: string }) =>
  a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;

export interface ModelUser { userId: string; externalId: string | null; createdAt: bigint }
export interface ModelAnalytics { userId: string; analyticsId: string; totalMessages: number; lastActivity: bigint | null; avgResponseMicros: number | null }
export interface ModelGoal { goalId: string; userId: string; conversationId: string; goalType: string; specific: string; measurable: string; achievable: string; relevant: string; timeBound: string; createdAt: bigint }
export interface ModelSession { sessionId: string; userId: string; goalId: string | null; conversationId: string; weekNumber: number; sessionNumber: number; sessionType: string | null; status: 'completed' | 'in_progress'; completedDate: bigint | null; createdAt: bigint }
export interface ModelTakeaway { takeawayId: string; sessionId: string; keyLearnings: string | null; actionItems: string | null; createdAt: bigint }
export interface ModelTranscript { transcriptId: string; sessionId: string; messageOrder: number; sender: string; content: string; timestamp: bigint; metadata: Record<string, Json> | null }

/** The whole expected outcome of 002–004 on `mvp`. */
export interface Model {
  users: ModelUser[];
  analytics: ModelAnalytics[];
  goals: ModelGoal[];
  sessions: ModelSession[];
  takeaways: ModelTakeaway[];
  transcripts: ModelTranscript[];
  skipped: { noUser: number; badWeek: number; badGoal: number };
}

/** A week that 003 accepts: a positive int4 given as an integral JSON number or a digit string. */
export function parseWeek(value: Json | undefined): number | null {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 1 && value <= 2147483647 ? value : null;
  if (typeof value === 'string' && /^[0-9]+$/.test(value)) {
    const n = BigInt(value);
    return n >= 1n && n <= 2147483647n ? Number(n) : null;
  }
  return null;
}

const text = (value: Json | undefined): string | null =>
  value === undefined || value === null ? null : typeof value === 'string' ? value : JSON.stringify(value);
const nonBlank = (value: string | null) => (value !== null && value.trim() !== '' ? value : null);

function items(value: Json | undefined): string[] {
  const list = Array.isArray(value) ? value : typeof value === 'string' ? [value] : [];
  return list.filter((v): v is string => typeof v === 'string' && v.trim() !== '');
}

export function buildModel(mvp: Mvp): Model {
  const messagesOf = new Map<string, RawMessage[]>();
  for (const m of mvp.messages) {
    const list = messagesOf.get(m.conversationId) ?? [];
    list.push(m);
    messagesOf.set(m.conversationId, list);
  }
  for (const list of messagesOf.values()) list.sort(byTimeThenId);

  // 002: users and analytics.
  const users = new Map<string, ModelUser>();
  for (const c of mvp.conversations) {
    if (c.userId === null) continue;
    const userId = userUuid(c.userId);
    const external = UUID.test(c.userId) ? null : c.userId;
    const user = users.get(userId);
    if (!user) users.set(userId, { userId, externalId: external, createdAt: c.createdAt });
    else if (c.createdAt < user.createdAt) user.createdAt = c.createdAt;
  }
  const stats = new Map<string, { total: number; lastMessage: bigint | null; lastConversation: bigint; gaps: bigint[] }>();
  for (const c of mvp.conversations) {
    if (c.userId === null) continue;
    const userId = userUuid(c.userId);
    const s = stats.get(userId) ?? { total: 0, lastMessage: null, lastConversation: c.updatedAt, gaps: [] };
    if (c.updatedAt > s.lastConversation) s.lastConversation = c.updatedAt;
    const list = messagesOf.get(c.id) ?? [];
    s.total += list.length;
    list.forEach((m, i) => {
      if (s.lastMessage === null || m.createdAt > s.lastMessage) s.lastMessage = m.createdAt;
      const next = list[i + 1];
      if (m.role === 'user' && next?.role === 'assistant') s.gaps.push(next.createdAt - m.createdAt);
    });
    stats.set(userId, s);
  }
  const analytics = [...users.keys()].map((userId): ModelAnalytics => {
    const s = stats.get(userId)!;
    return {
      userId,
      analyticsId: md5Uuid(`strata-analytics:${userId}`),
      totalMessages: s.total,
      lastActivity: s.lastMessage ?? s.lastConversation,
      avgResponseMicros: s.gaps.length ? Number(s.gaps.reduce((a, b) => a + b, 0n)) / s.gaps.length : null,
    };
  });

  // 003: goals, sessions, takeaways (owners: every backfilled user, found through the mapping).
  const goals: ModelGoal[] = [];
  const candidates: Omit<ModelSession, 'sessionNumber'>[] = [];
  const skipped = { noUser: 0, badWeek: 0, badGoal: 0 };
  const sevenDays = 7n * 86_400_000_000n;
  for (const c of mvp.conversations) {
    const md = c.metadata;
    const hasWeek = md.week_number !== undefined && md.week_number !== null;
    const hasGoal = md.goal_type !== undefined && md.goal_type !== null;
    if (c.userId === null) {
      if (hasWeek || hasGoal) skipped.noUser += 1;
      continue;
    }
    const userId = userUuid(c.userId);
    let goalId: string | null = null;
    const goalType = md.goal_type;
    if (typeof goalType === 'string' && goalType.trim() !== '' && goalType.length <= 50) {
      goalId = md5Uuid(`strata-goal:${c.id}`);
      goals.push({
        goalId, userId, conversationId: c.id, goalType,
        specific: nonBlank(text(md.specific)) ?? nonBlank(text(md.goal_description)) ?? goalType,
        measurable: text(md.measurable) ?? '', achievable: text(md.achievable) ?? '',
        relevant: text(md.relevant) ?? '', timeBound: text(md.time_bound) ?? '',
        createdAt: c.createdAt,
      });
    } else if (hasGoal) {
      skipped.badGoal += 1;
    }
    const week = parseWeek(md.week_number);
    if (week === null) {
      if (hasWeek) skipped.badWeek += 1;
      continue;
    }
    const completed = c.updatedAt < mvp.nowUtc - sevenDays;
    const type = md.session_type;
    candidates.push({
      sessionId: md5Uuid(`strata-session:${c.id}`), userId, goalId, conversationId: c.id, weekNumber: week,
      sessionType: typeof type === 'string' && type.length <= 50 ? type : null,
      status: completed ? 'completed' : 'in_progress', completedDate: completed ? c.updatedAt : null,
      createdAt: c.createdAt,
    });
  }
  const groups = new Map<string, typeof candidates>();
  for (const s of candidates) {
    const key = `${s.userId}/${s.weekNumber}`;
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  const sessions: ModelSession[] = [];
  for (const group of groups.values()) {
    group
      .sort((a, b) => byTimeThenId({ createdAt: a.createdAt, id: a.conversationId }, { createdAt: b.createdAt, id: b.conversationId }))
      .forEach((s, i) => sessions.push({ ...s, sessionNumber: i + 1 }));
  }

  const takeaways: ModelTakeaway[] = [];
  const transcripts: ModelTranscript[] = [];
  for (const s of sessions) {
    const list = messagesOf.get(s.conversationId) ?? [];
    const learnings: string[] = [];
    const actions: string[] = [];
    let last: bigint | null = null;
    for (const m of list) {
      const found = [items(m.metadata?.takeaways), items(m.metadata?.action_items)];
      learnings.push(...found[0]!);
      actions.push(...found[1]!);
      if (found[0]!.length + found[1]!.length > 0) last = m.createdAt;
    }
    if (last !== null) {
      takeaways.push({
        takeawayId: md5Uuid(`strata-takeaway:${s.sessionId}`), sessionId: s.sessionId,
        keyLearnings: learnings.length ? learnings.join('\n') : null,
        actionItems: actions.length ? actions.join('\n') : null, createdAt: last,
      });
    }
    // 004: transcripts of completed sessions.
    if (s.status === 'completed') {
      list.forEach((m, i) => transcripts.push({
        transcriptId: md5Uuid(`strata-transcript:${s.sessionId}:${m.id}`), sessionId: s.sessionId,
        messageOrder: i + 1, sender: m.role, content: m.content, timestamp: m.createdAt, metadata: m.metadata,
      }));
    }
  }

  return { users: [...users.values()], analytics, goals, sessions, takeaways, transcripts, skipped };
}

/** Sorts rows by a key, for comparing sets of rows. */
export function sortBy<T>(rows: T[], key: (row: T) => string): T[] {
  return [...rows].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}
