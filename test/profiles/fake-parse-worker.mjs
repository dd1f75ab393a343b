// A stand-in for dist/profiles/parse-worker.js in parse-pool tests (the real one exists only once
// built): same protocol, a trivial "parse", and a way to crash on demand.
import { parentPort } from 'node:worker_threads';

parentPort.on('message', (texts) => {
  if (texts.includes('crash')) process.exit(3);
  parentPort.postMessage(texts.map((text) => ({ data: { text }, issues: [] })));
});
