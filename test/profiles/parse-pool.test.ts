import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeFolder } from '../../src/profiles/encode.js';
import { readFolder, type FolderRef } from '../../src/profiles/files.js';
import { parseProfileMarkdown } from '../../src/profiles/markdown.js';
import { createMarkdownParser } from '../../src/profiles/parse-pool.js';
import { FIXTURES, makeProfileDir } from './schema.js';

const fakeWorker = new URL('./fake-parse-worker.mjs', import.meta.url);
const builtWorker = new URL('../../dist/profiles/parse-worker.js', import.meta.url);
const bundledWorker = new URL('../../dist/vendor/parse-worker.mjs', import.meta.url);

describe('markdown parser pool', () => {
  it('parses inline when the compiled worker is absent (running from sources)', async () => {
    const parser = createMarkdownParser({ workers: 4, workerUrl: new URL('./no-such-worker.js', import.meta.url), inlineLimit: 0 });
    expect(await parser.parse('- **A:** b\n')).toEqual({ data: { a: 'b' }, issues: [] });
    await parser.close();
  });

  it('hands batches to workers and returns every result to its own caller, in order', async () => {
    const parser = createMarkdownParser({ workers: 2, workerUrl: fakeWorker, inlineLimit: 3 });
    const texts = Array.from({ length: 500 }, (_, i) => `- **N:** ${i}\n`);
    const results = await Promise.all(texts.map((text) => parser.parse(text)));
    await parser.close();
    // The first three parse inline (real mapping), the rest on the fake worker (echo).
    expect(results.slice(0, 3).map((r) => r.data)).toEqual([{ n: '0' }, { n: '1' }, { n: '2' }]);
    expect(results.slice(3).map((r) => r.data)).toEqual(texts.slice(3).map((text) => ({ text })));
  });

  it('reports the files of a crashed worker as errors and finishes the rest', async () => {
    const parser = createMarkdownParser({ workers: 2, workerUrl: fakeWorker, inlineLimit: 0 });
    const results = await Promise.all(['a', 'crash', ...Array.from({ length: 50 }, (_, i) => `t${i}`)].map((text) => parser.parse(text)));
    await parser.close();
    expect(results[1]?.issues).toEqual([{ line: 1, message: 'could not be parsed: worker exited with code 3' }]);
    expect(results.filter((r) => r.issues.length === 0)).toHaveLength(51);
  });

  it('retries a crashed batch one file at a time, so only the file at fault fails', async () => {
    const parser = createMarkdownParser({ workers: 2, workerUrl: fakeWorker, inlineLimit: 0 });
    await parser.parse('warm-up'); // proves workers can start, so a dying one is the fault of its files
    const texts = [...Array.from({ length: 20 }, (_, i) => `t${i}`), 'crash', 'last'];
    const results = await Promise.all(texts.map((text) => parser.parse(text)));
    await parser.close();
    expect(results.map((r) => (r.issues.length > 0 ? 'failed' : r.data.text))).toEqual([...texts.slice(0, 20), 'failed', 'last']);
  });

  it('falls back to inline parsing when no worker can start', async () => {
    const parser = createMarkdownParser({ workers: 2, workerUrl: new URL('./broken-parse-worker.mjs', import.meta.url), inlineLimit: 0 });
    const results = await Promise.all(['- **A:** 1\n', '- **B:** 2\n', '- **C:** 3\n'].map((text) => parser.parse(text)));
    await parser.close();
    expect(results.map((r) => r.data)).toEqual([{ a: '1' }, { b: '2' }, { c: '3' }]);
  });

  it('stops a worker past its deadline: the file at fault gets an error, the rest are parsed', async () => {
    const parser = createMarkdownParser({ workers: 1, workerUrl: fakeWorker, inlineLimit: 0, deadlineMs: 300, deadlineMsPerMiB: 0 });
    await parser.parse('warm-up'); // the first batch of a worker gets extra time to start
    const texts = ['t0', 'hang', 't2', 't3'];
    const results = await Promise.all(texts.map((text) => parser.parse(text)));
    await parser.close();
    expect(results.map((r) => (r.issues.length > 0 ? r.issues[0]?.message : r.data.text))).toEqual([
      't0', 'could not be parsed: parsing took longer than 0.3 s: the file may be crafted to be slow', 't2', 't3',
    ]);
  });

  it('sends a large file to a worker even among the first, inline ones', async () => {
    const parser = createMarkdownParser({ workers: 1, workerUrl: fakeWorker, inlineLimit: 100, largeFile: 15 });
    const results = await Promise.all(['- **A:** 1\n', `- **B:** ${'x'.repeat(20)}\n`].map((text) => parser.parse(text)));
    await parser.close();
    expect(results.map((r) => r.data)).toEqual([{ a: '1' }, { text: `- **B:** ${'x'.repeat(20)}\n` }]);
  });

  it('with shareWork, parses on the calling thread while the workers have a backlog', async () => {
    const parser = createMarkdownParser({ workers: 1, workerUrl: fakeWorker, inlineLimit: 0, shareWork: true });
    const texts = Array.from({ length: 1000 }, (_, i) => `- **N:** ${i}\n`);
    const results = await Promise.all(texts.map((text) => parser.parse(text)));
    await parser.close();
    const inline = results.filter((r) => !('text' in r.data));
    expect(inline.length).toBeGreaterThan(0);
    expect(inline.length).toBeLessThan(texts.length);
    // Same answers whichever thread parsed: each caller gets its own file's result.
    results.forEach((r, i) => expect(r.data).toEqual('text' in r.data ? { text: texts[i] } : { n: String(i) }));
  });

  it('gives the same mappings on the built worker as inline (npm test builds dist/ first)', async () => {
    expect(fs.existsSync(builtWorker), 'dist/profiles/parse-worker.js is missing: run npm run build').toBe(true);
    const parser = createMarkdownParser({ workers: 2, workerUrl: builtWorker, inlineLimit: 0 });
    const texts = ['# P\n\n- **Name:** A\n\n## Goals\n\n- Run\n', '## S\n\nintro\n\n- a\n', ''];
    const results = await Promise.all(texts.map((text) => parser.parse(text)));
    await parser.close();
    expect(results).toEqual(texts.map((text) => parseProfileMarkdown(text)));
  });

  const fixtureRefs: FolderRef[] = fs.readdirSync(FIXTURES, { withFileTypes: true })
    .filter((entry) => entry.isDirectory()).map((entry) => ({ name: entry.name, path: path.join(FIXTURES, entry.name) }));
  /** What reading and parsing a folder on this thread gives (the reference every path must match). */
  const readHere = (ref: FolderRef) => {
    const ignored: string[] = [];
    return encodeFolder(readFolder(FIXTURES, ref, parseProfileMarkdown, ignored), ignored);
  };

  it('reads and parses folders inline when the compiled worker is absent', async () => {
    const parser = createMarkdownParser({ workers: 2, workerUrl: new URL('./no-such-worker.js', import.meta.url), inlineLimit: 0 });
    const results = await Promise.all(fixtureRefs.map((ref) => parser.readFolder(FIXTURES, ref)));
    await parser.close();
    expect(results).toEqual(fixtureRefs.map(readHere));
  });

  it('sends folders to workers, and reports a folder that crashes a worker on its own', async () => {
    const names = ['a', 'b', 'crash', 'c'];
    const dir = await makeProfileDir({ ...Object.fromEntries(names.map((name) => [`${name}/profile.md`, '- **A:** b\n'])), 'crash/Patterns.md': 'x' });
    const parser = createMarkdownParser({ workers: 2, workerUrl: fakeWorker, inlineLimit: 0 });
    await parser.parse('warm-up');
    const results = await Promise.all(names.map((name) => parser.readFolder(dir, { name, path: path.join(dir, name) })));
    await parser.close();
    expect(results.map((r) => r.ignored)).toEqual([['fake:a'], ['fake:b'], [], ['fake:c']]);
    // What reading found stays; the crash is added.
    expect(results[2]?.errors).toEqual([
      { path: path.join(dir, 'crash', 'Patterns.md'), message: 'file names are case-sensitive: rename it to patterns.md' },
      { path: path.join(dir, 'crash'), message: 'could not be read: worker exited with code 3' },
    ]);
  });

  it('does not send a folder without a readable file to a worker', async () => {
    const dir = await makeProfileDir({ 'u1/notes.md': 'x' });
    const parser = createMarkdownParser({ workers: 1, workerUrl: fakeWorker, inlineLimit: 0 });
    const result = await parser.readFolder(dir, { name: 'u1', path: path.join(dir, 'u1') });
    await parser.close();
    expect(result).toEqual({
      name: 'u1', path: path.join(dir, 'u1'), json: {}, paths: {}, ignored: [path.join(dir, 'u1', 'notes.md')],
      errors: [{ path: path.join(dir, 'u1'), message: 'no profile.md, preferences.md or patterns.md in this folder: a user folder needs at least one of the three files' }],
    });
  });

  it('reads folders on the bundled worker (one file, markdown-it included) as inline', async () => {
    expect(fs.existsSync(bundledWorker), 'dist/vendor/parse-worker.mjs is missing: run npm run build').toBe(true);
    const parser = createMarkdownParser({ workers: 2, workerUrl: bundledWorker, inlineLimit: 0 });
    const results = await Promise.all(fixtureRefs.map((ref) => parser.readFolder(FIXTURES, ref)));
    await parser.close();
    expect(results).toEqual(fixtureRefs.map(readHere));
  });

  it('reads folders on the built worker as inline, large files parsed as tasks of their own', async () => {
    expect(fs.existsSync(builtWorker), 'dist/profiles/parse-worker.js is missing: run npm run build').toBe(true);
    for (const largeFile of [64 * 1024, 100]) {
      const parser = createMarkdownParser({ workers: 2, workerUrl: builtWorker, inlineLimit: 0, largeFile });
      const results = await Promise.all(fixtureRefs.map((ref) => parser.readFolder(FIXTURES, ref)));
      await parser.close();
      expect(results).toEqual(fixtureRefs.map(readHere));
    }
  });
});

