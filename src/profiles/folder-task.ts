/**
 * The work of a parse worker (parse-pool.ts), also run on the import's thread for small imports:
 * parse the files of a user folder the import's thread has read (files.ts `readFolder`) with the
 * markdown mapping, and encode the result (encode.ts) as one string for the trip back.
 */
import { encodeFolder, packFolder } from './encode.js';
import type { UserFolder } from './files.js';
import { parseProfileMarkdown, type ParsedMarkdown } from './markdown.js';

/** What a worker is asked: one file's text, or a folder whose files' texts are to be parsed. */
export type Task = string | FolderTask;

/** A user folder read (its files' texts), to parse and encode. */
export interface FolderTask {
  folder: UserFolder<string>;
  /** Markdown files in the folder that are not one of the three. */
  ignored: string[];
}

/** What a task answers: a file's mapping, or a folder packed (encode.ts `packFolder`). */
export type TaskResult = ParsedMarkdown | string;

/** Runs a task on this thread. */
export function runTask(task: Task): TaskResult {
  if (typeof task === 'string') return parseProfileMarkdown(task);
  const { folder, ignored } = task;
  const files = folder.files.map((file) => ({ column: file.column, path: file.path, content: parseProfileMarkdown(file.content) }));
  return packFolder(encodeFolder({ name: folder.name, path: folder.path, files, errors: folder.errors }, ignored));
}
