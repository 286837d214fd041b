/**
 * `zerovm -T FILE`, `-v N` and `-t 2` end to end: the trace file lists
 * every trap call of a real program, the log goes to stderr, and neither
 * changes the report on stdout or the program's output; fast reports come
 * before the final report. Needs the native engine
 * (skipped loudly without it; a failure under CI=true).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nativeEngine } from '../src/engines/native.js';
import { ROOT, zerovm } from './cli.js';

const unavailable = nativeEngine.unavailableReason();
const ci = process.env.CI === 'true' || process.env.CI === '1';
if (unavailable !== null && !ci) console.warn(`\n*** -T / -v end-to-end tests SKIPPED: ${unavailable} ***\n`);
const tmp = mkdtempSync(join(tmpdir(), 'zerovm-cli-trace-'));

function catManifest(input: string, out: string): string {
  const path = join(tmp, 'cat.manifest');
  writeFileSync(
    path,
    [
      'Version = 20130611',
      `Program = ${join(ROOT, 'examples', 'cat.nexe')}`,
      'Timeout = 30',
      'Memory = 33554432, 0',
      `Channel = ${input}, /dev/stdin, 0, 0, 999, 999999, 0, 0`,
      `Channel = ${out}, /dev/stdout, 0, 0, 0, 0, 999, 999999`,
      'Channel = /dev/null, /dev/stderr, 0, 0, 0, 0, 999, 999',
      '',
    ].join('\n'),
  );
  return path;
}

describe.skipIf(unavailable !== null && !ci)('zerovm -T, -v and -t 2', () => {
  it('-T writes one line per trap call; the report and the output are unchanged', () => {
    const input = join(tmp, 'in');
    writeFileSync(input, 'abc');
    const plain = zerovm([catManifest(input, join(tmp, 'out-plain'))]);
    const trace = join(tmp, 'trace');
    const traced = zerovm(['-T', trace, catManifest(input, join(tmp, 'out-traced'))]);
    expect(traced.status).toBe(0);
    expect(traced.stderr).toBe('');
    /* same report but for the timing fields of the accounting line */
    const strip = (report: string): string => report.replace(/^[\d.]+ [\d.]+ /m, '');
    expect(strip(traced.stdout)).toBe(strip(plain.stdout));
    expect(readFileSync(join(tmp, 'out-traced'), 'utf8')).toBe('abc');
    const lines = readFileSync(trace, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^TrapRead\(0, 0x[0-9a-f]{8}, 65536, 0\) = 3$/);
    expect(lines[1]).toMatch(/^TrapWrite\(1, 0x[0-9a-f]{8}, 3, 0\) = 3$/);
    expect(lines[2]).toMatch(/^TrapRead\(0, 0x[0-9a-f]{8}, 65536, 0\) = 0$/);
    expect(lines[3]).toBe('TrapExit(0)');
  });

  it('-v 1 logs the stages to stderr; -v 3 adds every trap', () => {
    const input = join(tmp, 'in');
    writeFileSync(input, 'abc');
    const stages = zerovm(['-v', '1', catManifest(input, join(tmp, 'out-v1'))]);
    expect(stages.status).toBe(0);
    expect(stages.stderr).toMatch(/^zerovm: manifest .*cat\.manifest: program .*cat\.nexe/m);
    expect(stages.stderr).toMatch(/^zerovm: validation: valid$/m);
    expect(stages.stderr).toMatch(/^zerovm: engine native, sandbox base \(r15\) 0x[0-9a-f]+$/m);
    expect(stages.stderr).toMatch(/^zerovm: session ended: ok \(exit code 0, user return code 0\)$/m);
    expect(stages.stderr).not.toMatch(/Trap/);
    const traps = zerovm(['-v3', catManifest(input, join(tmp, 'out-v3'))]);
    expect(traps.stderr).toMatch(/^zerovm: TrapExit\(0\)$/m);
    expect(traps.stderr).toMatch(/^zerovm: channel \/dev\/stdin = /m);
  });

  it('-t 2 prints an accounting line after the first trap, then the usual report', () => {
    const input = join(tmp, 'in');
    writeFileSync(input, 'abc');
    const r = zerovm(['-t', '2', catManifest(input, join(tmp, 'out-t2'))]);
    expect(r.status).toBe(0);
    const lines = r.stdout.split('\n');
    /* first trap: the 3 bytes read (in however many host reads), nothing written yet */
    expect(lines[0]).toMatch(/^0\.00 \d+\.\d\d \d+ 3 0 0 0 0 0 0$/);
    expect(lines.slice(1, 4)).toEqual(['0', '0', '0']);
    expect(lines[5]).toMatch(/ \d+ 3 1 3 0 0 0 0$/);
    expect(lines[6]).toBe('ok');
  });

  it('refuses a trace file it cannot create; reads -v as a manifest number (above 3 is 3)', () => {
    const input = join(tmp, 'in');
    const r = zerovm(['-T', '/nonexistent/dir/trace', catManifest(input, join(tmp, 'out-x'))]);
    expect(r.status).toBe(22);
    expect(r.stderr).toMatch(/cannot create the trace file \/nonexistent\/dir\/trace/);
    const v = zerovm(['-v', '7', catManifest(input, join(tmp, 'out-y'))]);
    expect(v.status).toBe(0);
    expect(v.stderr).toMatch(/^zerovm: TrapRead/m);
    const bad = zerovm(['-v', '0x', catManifest(input, join(tmp, 'out-z'))]);
    expect(bad.status).toBe(14);
    expect(bad.stdout).toMatch(/MANIFEST 0: invalid numeric value 'x'/);
  });
});
