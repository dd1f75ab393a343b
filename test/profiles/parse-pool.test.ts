import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseProfileMarkdown } from '../../src/profiles/markdown.js';
import { createMarkdownParser } from '../../src/profiles/parse-pool.js';

const fakeWorker = new URL('./fake-parse-worker.mjs', import.meta.url);
const builtWorker = new URL('../../dist/profiles/parse-worker.js', import.meta.url);

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

  it.skipIf(!fs.existsSync(builtWorker))('gives the same mappings on the built worker as inline', async () => {
    const parser = createMarkdownParser({ workers: 2, workerUrl: builtWorker, inlineLimit: 0 });
    const texts = ['# P\n\n- **Name:** A\n\n## Goals\n\n- Run\n', '## S\n\nintro\n\n- a\n', ''];
    const results = await Promise.all(texts.map((text) => parser.parse(text)));
    await parser.close();
    expect(results).toEqual(texts.map((text) => parseProfileMarkdown(text)));
  });
});
