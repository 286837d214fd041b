import { describe, expect, it } from 'vitest';
import { expandTemplate, parseTemplate, runCommand, splitWords, TemplateError } from './command.js';

describe('command templates', () => {
  it('splits words at white space; quotes group', () => {
    expect(splitWords(`zerovm  -t 1 '{manifest}'`)).toEqual(['zerovm', '-t', '1', '{manifest}']);
    expect(splitWords(`a "b c" 'd e'f "g \\" h"`)).toEqual(['a', 'b c', 'd ef', 'g " h']);
    expect(splitWords(`'' x`)).toEqual(['', 'x']);
    expect(() => splitWords(`a 'b`)).toThrow(TemplateError);
  });

  it('refuses unknown placeholders and requires {manifest}', () => {
    expect(() => parseTemplate('zerovm {manifset}', ['manifest', 'options'], ['manifest'])).toThrow(/unknown placeholder \{manifset\}/);
    expect(() => parseTemplate('zerovm', ['manifest'], ['manifest'])).toThrow(/must contain \{manifest\}/);
    expect(() => parseTemplate('', ['manifest'], [])).toThrow(/empty/);
  });

  it('puts the options before the manifest word, or where {options} stands', () => {
    const plain = parseTemplate('zerovm {manifest}', ['manifest', 'options'], ['manifest']);
    expect(expandTemplate(plain, { manifest: '/m' }, ['-t', '1'], 'manifest')).toEqual(['zerovm', '-t', '1', '/m']);
    const placed = parseTemplate('vm {options} --report-stdout {manifest}', ['manifest', 'options'], ['manifest']);
    expect(expandTemplate(placed, { manifest: '/m' }, ['-F'], 'manifest')).toEqual(['vm', '-F', '--report-stdout', '/m']);
    expect(expandTemplate(placed, { manifest: '/m' }, [], 'manifest')).toEqual(['vm', '--report-stdout', '/m']);
  });

  it('drops words whose placeholders are all empty; {a=b?text} is conditional', () => {
    const t = parseTemplate('v --hex {hex} {policy=deterministic?--deterministic} --features={features} x{features}y', ['hex', 'policy', 'features'], []);
    expect(expandTemplate(t, { hex: '/h', policy: 'nacl', features: '' })).toEqual(['v', '--hex', '/h']);
    expect(expandTemplate(t, { hex: '/h', policy: 'deterministic', features: '-AVX' })).toEqual(['v', '--hex', '/h', '--deterministic', '--features=-AVX', 'x-AVXy']);
  });
});

describe('runCommand', () => {
  it('captures stdout, stderr and the exit status', async () => {
    const r = await runCommand([process.execPath, '-e', 'process.stdout.write("out"); process.stderr.write("err"); process.exitCode = 3'], { cwd: process.cwd(), timeoutMs: 30_000 });
    expect([r.status, r.stdout, r.stderr, r.timedOut, r.spawnError]).toEqual([3, 'out', 'err', false, undefined]);
  });

  it('kills a command that runs past its time limit', async () => {
    const r = await runCommand([process.execPath, '-e', 'setTimeout(() => {}, 60000)'], { cwd: process.cwd(), timeoutMs: 300 });
    expect(r.timedOut).toBe(true);
    expect(r.signal).toBe('SIGKILL');
  });

  it('reports a program that cannot start', async () => {
    const r = await runCommand(['/nonexistent/zerovm'], { cwd: process.cwd(), timeoutMs: 30_000 });
    expect(r.spawnError).toMatch(/ENOENT/);
  });
});
