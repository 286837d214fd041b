/**
 * End-to-end: `zerovm validate` and `zerovm disasm` on the bundled example
 * programs and on hand-made inputs, through the real command line.
 */
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { zerovm, ROOT } from './cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'zerovm-cli-'));
function file(name: string, content: string | Uint8Array): string {
  const path = join(tmp, name);
  writeFileSync(path, content);
  return path;
}

describe('zerovm validate', () => {
  it('accepts the hello example (exit 0)', () => {
    const r = zerovm(['validate', 'examples/hello.nexe']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/examples\/hello\.nexe: VALID/);
  });

  it('rejects the unsafe example with address: message lines (exit 1)', () => {
    const r = zerovm(['validate', 'examples/unsafe.nexe']);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('0x20000: memory operand must be based on %r15, %rsp, %rbp or %rip [bad-base-register]');
    expect(r.stdout).toMatch(/0x20009: .*syscall.* \[forbidden-instruction\]/);
    expect(r.stdout).toMatch(/0x20020: .*ret.* \[forbidden-instruction\]/);
    expect(r.stdout).toMatch(/INVALID \(3 errors\)/);
  });

  it('prints one JSON object with --json', () => {
    const r = zerovm(['validate', '--json', 'examples/unsafe.nexe']);
    expect(r.status).toBe(1);
    const json = JSON.parse(r.stdout) as { valid: boolean; errors: Array<{ rule: string; address: number; nacl: string | null }> };
    expect(json.valid).toBe(false);
    expect(json.errors.map((e) => [e.rule, e.address])).toEqual([
      ['bad-base-register', 0x20000],
      ['forbidden-instruction', 0x20009],
      ['forbidden-instruction', 0x20020],
    ]);
    expect(json.errors[0]?.nacl).toBe('improper memory address - bad base');
  });

  it('validates hex regions (--hex) at --base', () => {
    const good = file('good.hex', '# mov %eax,%eax ; mov (%r15,%rax),%ebx\n89 c0\n41 8b 1c 07\n');
    expect(zerovm(['validate', '--hex', good]).status).toBe(0);
    const bad = file('bad.hex', '41 8b 1c 07\n');
    const r = zerovm(['validate', '--hex', bad, '--base', '0x1000']);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('0x1000: index register must be zero-extended');
  });

  it('validates raw regions (--raw)', () => {
    const raw = file('code.bin', Uint8Array.from([0x0f, 0x05]));
    const r = zerovm(['validate', '--raw', raw]);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/syscall/);
  });

  it('emulates a CPU with --features', () => {
    const popcnt = file('popcnt.hex', 'f3 48 0f b8 c0\n');
    expect(zerovm(['validate', '--hex', popcnt]).status).toBe(0);
    const r = zerovm(['validate', '--hex', popcnt, '--features', '-POPCNT']);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('[cpu-feature-missing]');
  });

  it('applies the deterministic policy with --deterministic', () => {
    const cpuid = file('cpuid.hex', '0f a2\n');
    expect(zerovm(['validate', '--hex', cpuid]).status).toBe(0);
    const r = zerovm(['validate', '--hex', cpuid, '--deterministic']);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('[nondeterministic-instruction]');
  });

  it('selects the policy with --policy nacl|zerovm|deterministic (and reports it)', () => {
    const cpuid = file('cpuid2.hex', '0f a2\n');
    const rdtsc = file('rdtsc.hex', '0f 31\n');
    const nacl = zerovm(['validate', '--hex', rdtsc, '--policy', 'nacl', '--json']);
    expect(nacl.status).toBe(0);
    expect(JSON.parse(nacl.stdout).policy).toBe('nacl');
    // ZeroVM 2015 refused rdtsc and accepted cpuid; the deterministic policy refuses both.
    const zvm = zerovm(['validate', '--hex', rdtsc, '--policy', 'zerovm']);
    expect(zvm.status).toBe(1);
    expect(zvm.stdout).toContain('[forbidden-instruction]');
    expect(zvm.stdout).toContain('zerovm policy');
    expect(zerovm(['validate', '--hex', cpuid, '--policy', 'zerovm']).status).toBe(0);
    const det = zerovm(['validate', '--hex', cpuid, '--policy', 'deterministic']);
    expect(det.status).toBe(1);
    expect(det.stdout).toContain('[nondeterministic-instruction]');
    expect(det.stdout).toContain('deterministic policy');
    const unknown = zerovm(['validate', '--hex', rdtsc, '--policy', 'strict']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/unknown policy 'strict' \(known: nacl, zerovm, deterministic\)/);
    const both = zerovm(['validate', '--hex', rdtsc, '--policy', 'nacl', '--deterministic']);
    expect(both.status).toBe(2);
    expect(both.stderr).toMatch(/--deterministic contradicts --policy nacl/);
  });

  it('reads a --hex/--raw region exactly under zerovm (no padding: a jump to its end is out of range)', () => {
    const toEnd = file('to-end.hex', 'eb 02 90 90\n');
    expect(zerovm(['validate', '--hex', toEnd]).status).toBe(0);
    const r = zerovm(['validate', '--hex', toEnd, '--policy', 'zerovm']);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('[direct-jump-out-of-range]');
    expect(r.stdout).toContain('4 bytes at');
  });

  it('exits 2 with a clear message on unusable input', () => {
    const missing = zerovm(['validate', join(tmp, 'missing.nexe')]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/cannot read .*missing\.nexe: no such file/);

    const notElf = zerovm(['validate', file('text.nexe', 'hello')]);
    expect(notElf.status).toBe(2);
    expect(notElf.stderr).toMatch(/not a usable nexe: file is 5 bytes, too short/);

    const hello = readFileSync(join(ROOT, 'examples', 'hello.nexe'));
    const sysv = Uint8Array.from(hello);
    sysv[7] = 0;
    const r = zerovm(['validate', file('sysv.nexe', sysv)]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/EI_OSABI is 0; a ZeroVM nexe has 123/);
    expect(zerovm(['validate', '--allow-sysv-abi', file('sysv2.nexe', sysv)]).status).toBe(0);

    const badHex = zerovm(['validate', '--hex', file('bad2.hex', 'zz\n')]);
    expect(badHex.status).toBe(2);
    expect(badHex.stderr).toMatch(/'zz' is not a hex byte/);

    const badOption = zerovm(['validate', '--frobnicate', 'examples/hello.nexe']);
    expect(badOption.status).toBe(2);
    expect(badOption.stderr).toMatch(/unknown option --frobnicate/);

    const badFeature = zerovm(['validate', '--features', 'SSE9', 'examples/hello.nexe']);
    expect(badFeature.status).toBe(2);
    expect(badFeature.stderr).toMatch(/unknown CPU feature 'SSE9'/);
  });
});

describe('zerovm disasm', () => {
  it('shows bundles and superinstructions of the hello example', () => {
    const r = zerovm(['disasm', 'examples/hello.nexe']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('; ---- bundle 0x20040 ----');
    expect(r.stdout).toMatch(/┌ +20058: +83 e3 e0 +and ebx, -0x20/);
    expect(r.stdout).toMatch(/└ +2005e: +ff d3 +call rbx/);
  });

  it('shows each error under its instruction', () => {
    const r = zerovm(['disasm', 'examples/unsafe.nexe']);
    expect(r.status).toBe(1);
    const lines = r.stdout.split('\n');
    const syscall = lines.findIndex((l) => /20009: +0f 05 +syscall/.test(l));
    expect(syscall).toBeGreaterThan(0);
    expect(lines[syscall + 1]).toMatch(/\^\^\^ forbidden-instruction: .*system calls are not allowed/);
    expect(lines[syscall + 2]).toMatch(/validation resumes at the next bundle/);
  });
});
