/**
 * README's embedding example is examples/embed.mjs, word for word, and it
 * runs: through the package's own export ('zerovm-ts'), on this machine's
 * default engine.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nativeEngine } from '../src/engines/native.js';
import { unicornEngine } from '../src/emulator/unicorn.js';

const ROOT = join(import.meta.dirname, '..');
const EXAMPLE = join(ROOT, 'examples', 'embed.mjs');
const noEngine = nativeEngine.unavailableReason() !== null && unicornEngine.unavailableReason() !== null;
if (noEngine) console.warn('SKIPPED: the README embedding example needs an engine: build the native addon (npm run build:native) or install libunicorn-dev');

describe('README: the embedding example', () => {
  it('is examples/embed.mjs as it stands', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const marker = '<!-- embed example: examples/embed.mjs -->\n```js\n';
    const start = readme.indexOf(marker);
    expect(start).toBeGreaterThan(0);
    const block = readme.slice(start + marker.length, readme.indexOf('```\n', start + marker.length));
    expect(block).toBe(readFileSync(EXAMPLE, 'utf8'));
  });

  it.skipIf(noEngine)('runs and prints what it says', () => {
    const r = spawnSync(process.execPath, [EXAMPLE], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(
      [
        'hello from a buffer',
        "exit state: ok, program's code: 0, bytes written: 20",
        'stdout etag: 19ba033d7ce7b53b39fa6b48dfeba77c2c5a1848',
        'hello from a stream',
        'exit state: ok',
        'refused: 3 validation errors',
        '',
      ].join('\n'),
    );
  });
});
