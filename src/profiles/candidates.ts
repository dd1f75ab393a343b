/**
 * One user folder on its way to the database (SPEC §9): its parsed values, where they came from,
 * and every problem found, always in the same order (folder and file errors, markdown issues, the
 * timezone key, the user, folders naming the same user, the time zone name), so that a report
 * reads the same however the import scheduled the work.
 */
import type { UserFolder } from './files.js';
import type { ParsedMarkdown } from './markdown.js';
import type { ImportIssue, ProfileColumn, ProfileObject } from './types.js';
import { timezoneProblem, type TimezoneCheck, type UserResolution } from './users.js';
import type { VerifiedProfile } from './verify.js';

/** One user folder after parsing: its values, where they came from, and its problems. */
export interface Candidate {
  folder: UserFolder<ParsedMarkdown>;
  profile: VerifiedProfile;
  errors: ImportIssue[];
}

/** A folder's candidate: file errors, markdown issues (`line N: …`) and the timezone key checked. */
export function toCandidate(folder: UserFolder<ParsedMarkdown>): Candidate {
  const profile: VerifiedProfile = { user: folder.name, userId: '', columns: {}, paths: {} };
  const candidate: Candidate = { folder, profile, errors: [...folder.errors] };
  for (const file of folder.files) {
    const parsed = file.content;
    for (const issue of parsed.issues) candidate.errors.push({ path: file.path, message: `line ${issue.line}: ${issue.message}` });
    profile.columns[file.column] = parsed.data;
    profile.paths[file.column] = file.path;
  }
  readTimezone(candidate);
  return candidate;
}

/** SPEC §9: a top-level `timezone` key in profile.md or preferences.md also sets the column. */
function readTimezone(candidate: Candidate): void {
  const { profile } = candidate;
  const sources: { column: ProfileColumn; data: ProfileObject }[] = [];
  for (const column of ['profile', 'preferences'] as const) {
    const data = profile.columns[column];
    if (data && Object.hasOwn(data, 'timezone')) sources.push({ column, data });
  }
  for (const { column, data } of sources) {
    const value = data.timezone;
    const path = profile.paths[column] ?? candidate.folder.path;
    if (typeof value !== 'string') {
      candidate.errors.push({ path, message: 'timezone must be one time zone name, e.g. "Timezone: Europe/London"' });
    } else if (profile.timezone !== undefined && profile.timezone !== value) {
      candidate.errors.push({ path, message: `timezone "${value}" differs from "${profile.timezone}" in ${profile.paths.timezone}: keep one` });
    } else if (profile.timezone === undefined) {
      profile.timezone = value;
      profile.paths.timezone = path;
    }
  }
}

/** Records who the folder's user is (or why that is unknown). */
export function applyResolution(candidate: Candidate, resolution: UserResolution | undefined): void {
  if (!resolution || resolution.kind === 'error') {
    candidate.errors.push({ path: candidate.folder.path, message: resolution?.message ?? 'user not resolved' });
    return;
  }
  candidate.profile.userId = resolution.userId;
  if (resolution.kind === 'create') candidate.profile.create = { externalId: resolution.externalId };
}

/** The user ids that more than one folder name resolves to (`ABC…` and `abc…`, or a UUID and an external id). */
export function sharedUserIds(resolutions: ReadonlyMap<string, UserResolution>): Set<string> {
  const seen = new Set<string>();
  const shared = new Set<string>();
  for (const resolution of resolutions.values()) {
    if (resolution.kind === 'error') continue;
    if (seen.has(resolution.userId)) shared.add(resolution.userId);
    seen.add(resolution.userId);
  }
  return shared;
}

/** Two folders naming one user would fight: refuse both. */
export function rejectSameUser(candidates: readonly Candidate[]): void {
  const byUser = new Map<string, Candidate[]>();
  for (const candidate of candidates) {
    if (candidate.profile.userId === '') continue;
    byUser.set(candidate.profile.userId, [...(byUser.get(candidate.profile.userId) ?? []), candidate]);
  }
  for (const [userId, same] of byUser) {
    if (same.length < 2) continue;
    const names = same.map((c) => c.folder.name).join(', ');
    for (const candidate of same) {
      candidate.errors.push({ path: candidate.folder.path, message: `folders ${names} are the same user (user_id ${userId}): keep one` });
    }
  }
}

/** Checks the time zone name a candidate sets, if any, against PostgreSQL's. */
export function checkTimezone(candidate: Candidate, timezones: TimezoneCheck): void {
  const { profile } = candidate;
  const problem = profile.timezone === undefined ? undefined : timezoneProblem(profile.timezone, timezones);
  if (problem) candidate.errors.push({ path: profile.paths.timezone ?? '', message: problem });
}
