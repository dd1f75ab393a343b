/**
 * Worker-thread side of parse-pool.ts: receives batches of tasks (a file's text, or a user folder's
 * texts to parse), answers with their results in the same order. Loaded from the compiled package:
 * dist/vendor/parse-worker.mjs (this module and markdown-it bundled into one file by
 * scripts/bundle-parse-worker.mjs, which starts faster), else dist/profiles/parse-worker.js.
 */
import { parentPort } from 'node:worker_threads';
import { runTask, type Task } from './folder-task.js';

parentPort?.on('message', (tasks: Task[]) => {
  parentPort?.postMessage(tasks.map(runTask));
});
