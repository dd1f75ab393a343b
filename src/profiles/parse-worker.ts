/**
 * Worker-thread side of parse-pool.ts: receives batches of tasks (a file's text, or a user folder
 * to read and parse), answers with their results in the same order. Loaded only from the compiled
 * package (`dist/profiles/parse-worker.js`).
 */
import { parentPort } from 'node:worker_threads';
import { runTask, type Task } from './parse-pool.js';

parentPort?.on('message', (tasks: Task[]) => {
  parentPort?.postMessage(tasks.map(runTask));
});
