/**
 * Tests of the archive checks behind `zerovm ar` / `zerovm ranlib`
 * (archive.ts, src/cli/ar-command.ts) on real objects: one assembled the
 * way `zerovm cc` does (the sandboxing pass, then clang with bundling), the
 * host gcc's 64-bit and x32 objects, and archives the host's ar writes.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileProblem, parseArCommand } from '../cli/ar-command.js';
import { archiveMembers, objectProblem } from './archive.js';
import { assemble, findTools } from './driver.js';
import { sandboxAssembly } from './sandbox.js';

const tools = findTools();
const ci = process.env.CI === 'true' || process.env.CI === '1';
const hostAr = typeof tools === 'string' ? 'ar' : tools.ar;
if (typeof tools === 'string' && !ci) console.warn(`\n*** archive checks on real objects SKIPPED: ${tools} ***\n`);

describe('parseArCommand: GNU ar command lines', () => {
  it('splits options, key, archive and members', () => {
    expect(parseArCommand(['cru', 'libx.a', 'a.o', 'b.o'])).toEqual({ operation: 'r', leading: [], key: 'cru', positional: [], archive: 'libx.a', members: ['a.o', 'b.o'] });
    expect(parseArCommand(['--plugin', 'p.so', '-rcs', 'libx.a', 'a.o'])).toEqual({ operation: 'r', leading: ['--plugin', 'p.so'], key: 'rcs', positional: [], archive: 'libx.a', members: ['a.o'] });
  });
  it('takes relpos and count words for a, b, i and N', () => {
    expect(parseArCommand(['rb', 'z.o', 'libx.a', 'a.o'])).toMatchObject({ key: 'rb', positional: ['z.o'], archive: 'libx.a', members: ['a.o'] });
    expect(parseArCommand(['xN', '2', 'libx.a', 'a.o'])).toMatchObject({ positional: ['2'], archive: 'libx.a' });
    expect(parseArCommand(['s', 'libx.a'])).toMatchObject({ operation: 's', archive: 'libx.a' });
  });
  it('refuses a key without exactly one operation, and a missing archive', () => {
    expect(() => parseArCommand(['cu', 'libx.a'])).toThrow(/exactly one operation/);
    expect(() => parseArCommand(['rt', 'libx.a'])).toThrow(/exactly one operation/);
    expect(() => parseArCommand(['rc'])).toThrow(/needs an archive/);
    expect(() => parseArCommand([])).toThrow(/no operation/);
  });
});

describe('objectProblem: headers it judges without a file', () => {
  it('leaves files that are not ELF to ar and ld', () => {
    expect(objectProblem(new TextEncoder().encode('just text, not an object at all, long enough to have a header....'))).toBeNull();
  });
  it('refuses a truncated section table', () => {
    const elf = new Uint8Array(0x40);
    elf.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
    const v = new DataView(elf.buffer);
    v.setUint16(0x10, 1, true);
    v.setUint16(0x12, 62, true);
    v.setBigUint64(0x28, 0x1000n, true);
    v.setUint16(0x3a, 0x40, true);
    v.setUint16(0x3c, 3, true);
    expect(objectProblem(elf)).toMatch(/truncated/);
  });
});

describe.skipIf(typeof tools === 'string' && !ci)('archive checks on real objects', () => {
  let dir = '';
  const path = (f: string): string => join(dir, f);
  beforeAll(async () => {
    if (typeof tools === 'string') throw new Error(tools);
    dir = mkdtempSync(join(tmpdir(), 'zerovm-ar-test-'));
    const asm = ['.text', '.globl twice', '.type twice, @function', 'twice:', 'leal (%rdi,%rdi), %eax', 'ret'].join('\n');
    await assemble(tools, sandboxAssembly(asm, 'twice.s'), path('ours.o'), dir);
    writeFileSync(path('host.c'), 'int twice(int x) { return 2 * x; }\n');
    execFileSync(tools.gcc, ['-O2', '-c', '-o', path('host64.o'), path('host.c')]);
    execFileSync(tools.gcc, ['-O2', '-mx32', '-c', '-o', path('hostx32.o'), path('host.c')]);
    // A member name longer than 15 characters goes through the GNU long-name table.
    execFileSync('cp', [path('ours.o'), path('a-rather-long-member-name.o')]);
    execFileSync(tools.ar, ['rcs', path('good.a'), path('ours.o'), path('a-rather-long-member-name.o')]);
    execFileSync(tools.ar, ['rcs', path('mixed.a'), path('ours.o'), path('host64.o')]);
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('accepts an object assembled the zerovm cc way', () => {
    expect(objectProblem(new Uint8Array(readFileSync(path('ours.o'))))).toBeNull();
    expect(fileProblem(path('ours.o'))).toBeNull();
  });
  it('refuses the host gcc 64-bit object: its code is not bundle-aligned', () => {
    expect(objectProblem(new Uint8Array(readFileSync(path('host64.o'))))).toMatch(/not bundle-aligned .*16-byte/);
  });
  it('refuses the host gcc x32 object: ELF32', () => {
    expect(objectProblem(new Uint8Array(readFileSync(path('hostx32.o'))))).toMatch(/ELF32/);
  });
  it('reads the members of an archive, long names included', () => {
    const members = archiveMembers(new Uint8Array(readFileSync(path('good.a'))));
    if (typeof members === 'string') throw new Error(members);
    expect(members.map((m) => m.name)).toEqual(['ours.o', 'a-rather-long-member-name.o']);
    expect(Buffer.from(members[0]?.data ?? []).equals(readFileSync(path('ours.o')))).toBe(true);
    expect(fileProblem(path('good.a'))).toBeNull();
  });
  it('names the bad member of an archive', () => {
    expect(fileProblem(path('mixed.a'))).toMatch(/^member host64.o is .*not bundle-aligned/);
  });
  it('says when bytes are not an archive', () => {
    expect(archiveMembers(new TextEncoder().encode('!<arch>\nshort'))).toEqual([]);
    expect(archiveMembers(new TextEncoder().encode('#!/bin/sh\n'))).toMatch(/not an ar archive/);
    const bad = new TextEncoder().encode(`!<arch>\n${'x.o/'.padEnd(48)}${'99999'.padEnd(10)}\`\n`);
    expect(archiveMembers(bad)).toMatch(/malformed member size/);
  });
  it('zerovm ar through the command line: writes a deterministic archive, refuses a host object by name', () => {
    const bin = join(import.meta.dirname, '..', '..', 'bin', 'zerovm.js');
    const ok = spawnSync(process.execPath, [bin, 'ar', 'cru', path('cli.a'), path('ours.o')], { encoding: 'utf8' });
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    // D: member times, owners and modes are zero.
    expect(execFileSync(hostAr, ['tv', path('cli.a')], { encoding: 'utf8' })).toMatch(/^rw-r--r-- 0\/0 +\d+ Jan +1 00:00 1970 ours.o$/m);
    const bad = spawnSync(process.execPath, [bin, 'ar', 'rcs', path('cli.a'), path('host64.o')], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain(`zerovm ar: ${path('host64.o')} is its code is not bundle-aligned`);
    const ranlib = spawnSync(process.execPath, [bin, 'ranlib', path('mixed.a')], { encoding: 'utf8' });
    expect(ranlib.status).toBe(1);
    expect(ranlib.stderr).toContain('member host64.o');
    expect(spawnSync(process.execPath, [bin, 'ranlib', path('cli.a')], { encoding: 'utf8' }).status).toBe(0);
  });
});
