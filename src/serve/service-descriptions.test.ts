/**
 * JobService keeps parsed job descriptions by their text (spec/serving.md,
 * "Serving cost"): a text POSTed again runs as the first time did, a text
 * that fails fails again with the same message, jobs cannot change what a
 * later request with the same text gets, and the kept texts are bounded.
 * A real store and the in-process executor; hello.nexe from examples/.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InProcessExecutor } from '../jobs/in-process.js';
import { HttpError, JobService } from './service.js';
import { ObjectStore } from './store.js';

const HELLO = readFileSync(join(import.meta.dirname, '..', '..', 'examples', 'hello.nexe'));

let root = '';
let executor: InProcessExecutor;
let service: JobService;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'zerovm-service-descriptions-'));
  const store = ObjectStore.open(join(root, 'store'));
  store.putContainer('a', 'bin');
  store.putBytes('a', 'bin', 'hello.nexe', HELLO);
  executor = new InProcessExecutor();
  service = new JobService({ store, executor, sysimages: new Map(), limits: { maxNodes: 8, maxJobBytes: 65536, maxOutput: 1 << 20 } });
});
afterEach(async () => {
  await executor.close();
  rmSync(root, { recursive: true, force: true });
});

const run = (text: string): ReturnType<JobService['runDescription']> => service.runDescription(text, { account: 'a' });
const header = (response: { headers: readonly (readonly [string, string])[] }, name: string): string | undefined => response.headers.find(([n]) => n === name)?.[1];

describe('job descriptions kept by their text', () => {
  it('run again as the first time, with the same answer', async () => {
    const text = JSON.stringify([{ name: 'h', exec: { path: 'swift://~/bin/hello.nexe', args: ['x'], env: { A: '1' } }, devices: [{ name: 'stdout', meta: { k: 'v' } }], count: 2 }]);
    const first = await run(text);
    const second = await run(text);
    for (const response of [first, second]) {
      expect(response.status).toBe(200);
      expect(response.body.toString()).toBe('hello, world\nhello, world\n');
      expect(header(response, 'X-Nexe-System')).toBe('h-1,h-2');
      expect(header(response, 'X-Object-Meta-k')).toBe('v');
    }
  });

  it('a text that fails fails again, with the same message', async () => {
    const bad = JSON.stringify([{ name: 'h', exec: { path: 'swift://~/bin/hello.nexe' }, devices: [{ name: 'nonesuch' }] }]);
    const messages: string[] = [];
    for (let i = 0; i < 2; i++) {
      const error = await run(bad).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(HttpError);
      expect((error as HttpError).status).toBe(400);
      messages.push((error as HttpError).message);
    }
    expect(messages[1]).toBe(messages[0]);
  });

  it('more distinct texts than are kept all run, the first one again after the others', async () => {
    const texts = Array.from({ length: 70 }, (_, i) => JSON.stringify([{ name: `n${i}`, exec: { path: 'swift://~/bin/hello.nexe' }, devices: [{ name: 'stdout' }] }]));
    for (const text of [...texts, texts[0]!]) {
      const response = await run(text);
      expect(response.body.toString()).toBe('hello, world\n');
    }
    expect(header(await run(texts[0]!), 'X-Nexe-System')).toBe('n0');
  }, 60_000);
});
