/**
 * Small types shared by the markdown-profile import (SPEC §9): the JSON the mapping produces,
 * the three files and their columns, and the error entries every stage reports.
 */

/** A JSON value as the markdown mapping produces it: strings, null, arrays and objects of them. */
export type ProfileValue = string | null | ProfileValue[] | ProfileObject;

/** A JSON object produced from one markdown file (or one section of it). */
export interface ProfileObject {
  [key: string]: ProfileValue;
}

/** The three files of a user folder and the `user_profiles` column each one fills (SPEC §9). */
export const PROFILE_FILES = {
  profile: 'profile.md',
  preferences: 'preferences.md',
  patterns: 'patterns.md',
} as const;

/** A jsonb column of `user_profiles` filled from a file. */
export type ProfileColumn = keyof typeof PROFILE_FILES;

/** The columns in the order they are read, written and reported. */
export const PROFILE_COLUMNS: readonly ProfileColumn[] = ['profile', 'preferences', 'patterns'];

/** One problem with the input, as SPEC §5's `import-profiles` JSON lists it. */
export interface ImportIssue {
  /** The file or folder at fault (as given: relative when DIR was relative). */
  path: string;
  /** What is wrong and, where it helps, how to fix it; markdown problems start with `line N:`. */
  message: string;
}

/** Where progress and warnings go; structurally compatible with core's `Logger`. */
export interface ImportLog {
  info(message: string): void;
  warn(message: string): void;
}

/** A log that drops everything. */
export const silentImportLog: ImportLog = { info: () => {}, warn: () => {} };
