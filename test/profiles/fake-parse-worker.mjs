// A stand-in for dist/profiles/parse-worker.js in parse-pool tests (the real one exists only once
// built): same protocol (a file's text, or a folder to read), a trivial answer, and ways to
// misbehave on demand: a text or folder named `crash` exits the thread, `hang` keeps it busy
// forever (a file that would take forever to parse).
import { parentPort } from 'node:worker_threads';

parentPort.on('message', (tasks) => {
  const names = tasks.map((task) => (typeof task === 'string' ? task : task.folder.name));
  if (names.includes('crash')) process.exit(3);
  if (names.includes('hang')) {
    while (true) {
      // parsing a crafted file, forever
    }
  }
  parentPort.postMessage(tasks.map((task) => (typeof task === 'string'
    ? { data: { text: task }, issues: [] }
    : { name: task.folder.name, path: task.folder.path, json: {}, paths: {}, errors: [], ignored: [`fake:${task.folder.name}`] })));
});
