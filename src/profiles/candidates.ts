/**
 * One user folder on its way to the database (SPEC §9): its parsed values, where they came from,
 * and every problem found, always in the same order (folder and file errors, markdown issues, the
 * timezone key, the user, folders naming the same user, the time zone name), so that a report
 * reads the same however the import scheduled the work.
 */
import type { ParsedFolder } from './encode.js';
import type { ImportIssue, ProfileColumn, ProfileObject } from './types.js';
import { timezoneProblem, type TimezoneCheck, type UserResolution } from './users.js';
import type { VerifiedProfile } from './verify.js';
import type { PlannedProfile } from './write.js';

/** One user folder after parsing: its values, where they came from, and its problems. */
export interface Candidate {
  /** Its place among the folders read (folder order). */
  index: number;
  folder: ParsedFolder;
  profile: PlannedProfile;
  errors: ImportIssue[];
}

/** A folder's candidate: file errors, markdown issues (`line N: …`) and the timezone key, as encode.ts found them. */
export function toCandidate(folder: ParsedFolder, index: number): Candidate {
  const profile: PlannedProfile = { user: folder.name, userId: '', json: folder.json };
  if (folder.timezone !== undefined) profile.timezone = folder.timezone;
  return { index, folder, profile, errors: [...folder.errors] };
}

/** The candidate's values as objects, with the file each came from (`--verify`). */
export function toVerified(candidate: Candidate): VerifiedProfile {
  const { folder, profile } = candidate;
  const columns: Partial<Record<ProfileColumn, ProfileObject>> = {};
  for (const [column, json] of Object.entries(profile.json) as [ProfileColumn, string][]) columns[column] = JSON.parse(json) as ProfileObject;
  const verified: VerifiedProfile = { user: profile.user, userId: profile.userId, columns, paths: { ...folder.paths } };
  if (profile.timezone !== undefined) {
    verified.timezone = profile.timezone;
    verified.paths.timezone = folder.timezonePath;
  }
  return verified;
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
  if (problem) candidate.errors.push({ path: candidate.folder.timezonePath ?? '', message: problem });
}
