/**
 * Who a user folder belongs to (SPEC §9) and which time zone names PostgreSQL knows.
 * Each is one query for the whole run, never one per user: arrays travel as one jsonb parameter
 * (strata's connection does not load array types, see db/connect.ts `fetchTypes`).
 */
import crypto from 'node:crypto';
import type { Sql } from '../db/connect.js';

// The canonical hyphenated form, any case; PostgreSQL's other spellings are not user folder names.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Longest `users.external_id` (varchar(255), SPEC §8). */
const MAX_EXTERNAL_ID = 255;

/** True when a folder name is a UUID (any case). */
export function isUuid(name: string): boolean {
  return UUID.test(name);
}

// crypto.hash (Node 20.12+) hashes in one call, 2–3× faster than a Hash object: 10,000 names per import.
const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash;

function md5Hex(text: string): string {
  return oneShot ? oneShot('md5', text, 'hex') : crypto.createHash('md5').update(text, 'utf8').digest('hex');
}

/** 002's mapping of a free-text id to `users.user_id`: `md5('strata-user:' || id)::uuid`. */
export function mappedUserId(id: string): string {
  const hex = md5Hex(`strata-user:${id}`);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** How one folder name resolved: an existing user, a user to create, or an error message. */
export type UserResolution =
  | { kind: 'existing'; userId: string }
  | { kind: 'create'; userId: string; externalId: string | null }
  | { kind: 'error'; message: string };

interface UserRow {
  user_id: string;
  external_id: string | null;
}

/**
 * Resolves folder names: a UUID name is looked up as `users.user_id`, then as `external_id`, both in
 * any case (two external_ids differing only in case that both match are an error: which user is
 * meant?); any other name must equal an `external_id` exactly. Unknown names are errors unless `createUsers`,
 * which plans the user with 002's mapping (a UUID is kept as user_id with no external_id; any
 * other id becomes `md5('strata-user:' || id)::uuid` with the id in `external_id`).
 */
export async function resolveUsers(sql: Sql, schema: string, names: readonly string[], createUsers: boolean): Promise<Map<string, UserResolution>> {
  // The mapped ids of non-UUID names are looked up too, to refuse creating a user whose id is taken.
  const ids = names.map((name) => (isUuid(name) ? name.toLowerCase() : mappedUserId(name)));
  // SPEC §9: a UUID name matches in any case, as external_id too. lower(external_id) cannot use the
  // unique index, so this branch (a scan of users) runs only when some folder names are UUIDs.
  const uuidNames = [...new Set(names.filter(isUuid).map((name) => name.toLowerCase()))];
  const rows = await sql<UserRow[]>`
    SELECT u.user_id::text AS user_id, u.external_id
      FROM ${sql(schema)}.users AS u
      JOIN jsonb_array_elements_text(${sql.json(ids)}::jsonb) AS i(id) ON u.user_id = i.id::uuid
    UNION
    SELECT u.user_id::text, u.external_id
      FROM ${sql(schema)}.users AS u
      JOIN jsonb_array_elements_text(${sql.json([...names])}::jsonb) AS n(name) ON u.external_id = n.name
    ${uuidNames.length === 0 ? sql`` : sql`
    UNION
    SELECT u.user_id::text, u.external_id
      FROM ${sql(schema)}.users AS u
      JOIN jsonb_array_elements_text(${sql.json(uuidNames)}::jsonb) AS n(name) ON lower(u.external_id) = n.name`}`;
  const byId = new Map(rows.map((row) => [row.user_id, row]));
  const byExternal = new Map<string, UserRow[]>();
  for (const row of rows) {
    if (row.external_id === null) continue;
    // UUID-shaped external ids under their lower case (a UUID name finds every case variant), others as they are.
    const key = isUuid(row.external_id) ? row.external_id.toLowerCase() : row.external_id;
    const same = byExternal.get(key);
    if (!same) byExternal.set(key, [row]);
    else if (!same.some((r) => r.user_id === row.user_id)) same.push(row);
  }
  const resolutions = new Map<string, UserResolution>();
  names.forEach((name, i) => resolutions.set(name, resolveOne(name, ids[i] as string, byId, byExternal, createUsers)));
  return resolutions;
}

/** `userId`: the name's user_id if it is created (the UUID itself, or 002's mapping of the name). */
function resolveOne(name: string, userId: string, byId: Map<string, UserRow>, byExternal: Map<string, UserRow[]>, createUsers: boolean): UserResolution {
  const uuid = isUuid(name);
  const external = byExternal.get(uuid ? name.toLowerCase() : name) ?? [];
  const found = (uuid ? byId.get(name.toLowerCase()) : undefined) ?? (external.length === 1 ? external[0] : undefined);
  if (found) return { kind: 'existing', userId: found.user_id };
  if (external.length > 1) {
    const list = external.map((row) => JSON.stringify(row.external_id)).sort().join(', ');
    return { kind: 'error', message: `external_ids ${list} all match this folder (a UUID name matches in any case): make them one user, or rename the folder to the user_id of the one you mean` };
  }
  const lookedUp = uuid ? `no user with user_id or external_id "${name}"` : `no user with external_id "${name}"`;
  if (!createUsers) return { kind: 'error', message: `${lookedUp}: pass --create-users to create it` };
  if (name.length > MAX_EXTERNAL_ID) {
    return { kind: 'error', message: `cannot create this user: an external_id is at most ${MAX_EXTERNAL_ID} characters` };
  }
  const taken = byId.get(userId);
  if (taken) {
    return { kind: 'error', message: `cannot create this user: its user_id ${userId} belongs to the user with external_id ${JSON.stringify(taken.external_id)}` };
  }
  return { kind: 'create', userId, externalId: uuid ? null : name };
}

/** The time zone names PostgreSQL knows, plus a suggestion for case slips. */
export interface TimezoneCheck {
  known: Set<string>;
  /** lowercase name → the spelling PostgreSQL knows. */
  suggestions: Map<string, string>;
}

/**
 * Every name PostgreSQL knows as a time zone, in one query (~600 names, ~15 ms: the server scans its
 * zoneinfo tree whatever the WHERE clause, so asking for all of them up front costs no more than
 * asking for the few a run uses, and lets the import check each user as soon as it is parsed).
 */
export async function loadTimezones(sql: Sql): Promise<TimezoneCheck> {
  const check: TimezoneCheck = { known: new Set(), suggestions: new Map() };
  const rows = await sql<{ name: string }[]>`SELECT name FROM pg_timezone_names`;
  for (const { name } of rows) {
    check.known.add(name);
    check.suggestions.set(name.toLowerCase(), name);
  }
  return check;
}

/** Why `name` is not a usable time zone, or undefined when PostgreSQL knows it exactly. */
export function timezoneProblem(name: string, check: TimezoneCheck): string | undefined {
  if (check.known.has(name)) return undefined;
  const suggestion = check.suggestions.get(name.toLowerCase());
  if (suggestion) return `time zone "${name}" is spelled "${suggestion}" in PostgreSQL: use that spelling`;
  return `time zone "${name}" is not known to PostgreSQL (see pg_timezone_names), e.g. "Europe/London" or "UTC"`;
}
