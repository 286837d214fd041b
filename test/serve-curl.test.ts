/**
 * `zerovm serve` driven by curl, as a user at a shell would: upload a
 * program, run a job, read the object it wrote, with the response headers
 * curl shows (spec/serving.md, "A first job").
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXAMPLES, startServer, type RunningServer } from './serve-helpers.js';

const ci = process.env.CI === 'true' || process.env.CI === '1';
const haveCurl = spawnSync('curl', ['--version'], { encoding: 'utf8' }).status === 0;
if (!haveCurl) {
  if (ci) throw new Error('curl is missing (Debian: curl; .ci/run installs it)');
  console.warn('\n*** zerovm serve with curl SKIPPED: curl is missing (Debian: curl) ***\n');
}

function curl(args: readonly string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync('curl', ['-sS', ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe.skipIf(!haveCurl)('zerovm serve with curl', () => {
  let dir = '';
  let server: RunningServer;
  let base = '';
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'zerovm-curl-'));
    server = await startServer(['--store', join(dir, 'store'), '--workers', '1', '--auth-token', 'tok']);
    base = `${server.url}/v1/me`;
  });
  afterAll(async () => {
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('uploads, runs a job writing an object, reads it back', () => {
    const auth = ['-H', 'X-Auth-Token: tok'];
    expect(curl([...auth, '-o', '/dev/null', '-w', '%{http_code}', '-X', 'PUT', `${base}/apps`]).stdout).toBe('201');
    expect(curl([...auth, '-o', '/dev/null', '-w', '%{http_code}', '-X', 'PUT', `${base}/apps/wc.nexe`, '--data-binary', `@${join(EXAMPLES, 'wc.nexe')}`]).stdout).toBe('201');
    expect(curl([...auth, '-X', 'PUT', `${base}/apps/in.txt`, '-H', 'Content-Type: text/plain', '--data-binary', 'a\nb\nc\n']).status).toBe(0);
    const job = join(dir, 'job.json');
    writeFileSync(job, JSON.stringify([{ name: 'wc', exec: { path: 'swift://~/apps/wc.nexe' }, devices: [{ name: 'stdin', path: 'swift://~/apps/in.txt' }, { name: 'stdout', path: 'swift://~/apps/out.txt', content_type: 'text/plain' }, { name: 'stderr' }] }]));
    const run = curl([...auth, '-i', '-X', 'POST', base, '-H', 'X-Zerovm-Execute: 1.0', '-H', 'Content-Type: application/json', '--data-binary', `@${job}`]);
    expect(run.stdout).toMatch(/^HTTP\/1.1 200 OK\r\n/);
    expect(run.stdout).toMatch(/\r\nX-Nexe-System: wc\r\n/);
    expect(run.stdout).toMatch(/\r\nX-Nexe-Status: ok\r\n/);
    expect(run.stdout).toMatch(/\r\nX-Nexe-Retcode: 0\r\n/);
    expect(curl([...auth, `${base}/apps/out.txt`]).stdout).toBe('3 6\n');
    expect(curl([...auth, `${base}/apps`]).stdout).toBe('in.txt\nout.txt\nwc.nexe\n');
    expect(curl(['-o', '/dev/null', '-w', '%{http_code}', `${base}/apps`]).stdout).toBe('401');
  });
});
