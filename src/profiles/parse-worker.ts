/**
 * Worker-thread side of parse-pool.ts: receives batches of markdown texts, answers with their
 * mappings in the same order. Loaded only from the compiled package (`dist/profiles/parse-worker.js`).
 */
import { parentPort } from 'node:worker_threads';
import { parseProfileMarkdown } from './markdown.js';

parentPort?.on('message', (texts: string[]) => {
  parentPort?.postMessage(texts.map((text) => parseProfileMarkdown(text)));
});
