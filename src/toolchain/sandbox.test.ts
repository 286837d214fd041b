/**
 * Tests of the sandboxing pass (sandbox.ts), one table row per rewrite
 * rule: the input (gcc -mx32 style AT&T assembly), the exact output, and —
 * when clang-14 is installed — the output assembled with bundling and
 * checked by the project's validator (every row must be VALID).
 *
 * Without clang the assemble-and-validate half is skipped with a loud
 * warning; under CI it is a failure.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validate } from '../validator/validate.js';
import { parseOperand } from './att.js';
import { findTools } from './driver.js';
import { sandboxAssembly, SandboxError } from './sandbox.js';

const tools = findTools();
const ci = process.env.CI === 'true' || process.env.CI === '1';
if (typeof tools === 'string' && !ci) console.warn(`\n*** sandbox pass: assemble-and-validate tests SKIPPED: ${tools} ***\n`);

/** The pass's output without the bundle_align_mode header, tabs as single spaces, for comparison. */
function rewrite(asm: string): string[] {
  return sandboxAssembly(asm, 'test.s')
    .split('\n')
    .slice(1)
    .map((l) => l.trim().replace(/\s+/g, ' '))
    .filter((l) => l !== '');
}

/** Bytes of the .text section of an ELF64 relocatable object. */
function textSection(obj: Uint8Array): Uint8Array {
  const v = new DataView(obj.buffer, obj.byteOffset, obj.byteLength);
  const shoff = Number(v.getBigUint64(0x28, true));
  const shentsize = v.getUint16(0x3a, true);
  const shnum = v.getUint16(0x3c, true);
  const shstrndx = v.getUint16(0x3e, true);
  const sh = (i: number): { name: number; offset: number; size: number } => ({
    name: v.getUint32(shoff + i * shentsize, true),
    offset: Number(v.getBigUint64(shoff + i * shentsize + 0x18, true)),
    size: Number(v.getBigUint64(shoff + i * shentsize + 0x20, true)),
  });
  const strtab = sh(shstrndx);
  for (let i = 0; i < shnum; i++) {
    const s = sh(i);
    let name = '';
    for (let p = strtab.offset + s.name; obj[p] !== 0; p++) name += String.fromCharCode(obj[p] as number);
    if (name === '.text') return obj.slice(s.offset, s.offset + s.size);
  }
  throw new Error('no .text section');
}

/** Assembles the pass's output with clang and validates the text; returns the validator's errors. */
function assembleAndValidate(asm: string): string[] {
  if (typeof tools === 'string') throw new Error(tools);
  const dir = mkdtempSync(join(tmpdir(), 'zerovm-pass-test-'));
  try {
    writeFileSync(join(dir, 'in.s'), sandboxAssembly(asm, 'in.s'));
    execFileSync(tools.clang, ['-c', '-target', 'x86_64-linux-gnu', '-x', 'assembler', '-o', join(dir, 'in.o'), join(dir, 'in.s')], { stdio: 'pipe' });
    const result = validate(textSection(new Uint8Array(readFileSync(join(dir, 'in.o')))), { base: 0x20000, policy: 'deterministic' });
    return result.errors.map((e) => `${e.offset.toString(16)}: ${e.message} [${e.rule}]`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const L = '.bundle_lock';
const U = '.bundle_unlock';
const LE = '.bundle_lock align_to_end';

interface Case {
  readonly rule: string;
  readonly input: string;
  readonly output: readonly string[];
}

const CASES: readonly Case[] = [
  { rule: 'base+index memory operand (x32 addr32 form)', input: 'movl 8(%eax,%esi,4), %ecx', output: [L, 'leal 8(%rax,%rsi,4), %r11d', 'movl (%r15,%r11), %ecx', U] },
  { rule: 'base-only operand through a general register', input: 'movq $0, 32(%edx)', output: [L, 'leal 32(%rdx), %r11d', 'movq $0, (%r15,%r11)', U] },
  { rule: 'store', input: 'movups %xmm1, (%rdx)', output: [L, 'movl %edx, %r11d', 'movups %xmm1, (%r15,%r11)', U] },
  { rule: 'absolute address with index', input: 'movl g(,%esi,4), %r12d', output: [L, 'leal g(,%rsi,4), %r11d', 'movl (%r15,%r11), %r12d', U] },
  { rule: 'absolute address', input: 'movl counter, %eax', output: ['movl counter(%r15), %eax'] },
  { rule: 'absolute numeric address', input: 'movl -16777220, %eax', output: [L, 'leal -16777220, %r11d', 'movl (%r15,%r11), %eax', U] },
  { rule: 'high byte register with an absolute address', input: 'movb %ah, flag', output: [L, 'xchgb %ah, %al', 'movb %al, flag(%r15)', 'xchgb %ah, %al', U] },
  { rule: 'rip-relative stays', input: 'addl g+12(%rip), %r12d', output: ['addl g+12(%rip), %r12d'] },
  { rule: 'rbp-based is widened, not rewritten', input: 'movq -8(%ebp), %r12', output: ['movq -8(%rbp), %r12'] },
  { rule: 'rsp-based is widened', input: 'movl 4(%esp), %eax', output: ['movl 4(%rsp), %eax'] },
  { rule: 'rbp-based with an index', input: 'movb $1, -320(%ebp,%esi)', output: [L, 'leal -320(%rbp,%rsi), %r11d', 'movb $1, (%r15,%r11)', U] },
  { rule: 'lea only computes: widened', input: 'leal 8(%eax,%esi,4), %ecx', output: ['leal 8(%rax,%rsi,4), %ecx'] },
  { rule: 'x87 register operand', input: 'fxch %st(1)', output: ['fxch %st(1)'] },
  { rule: 'x87 memory operand', input: 'fldl 8(%eax)', output: [L, 'leal 8(%rax), %r11d', 'fldl (%r15,%r11)', U] },
  { rule: 'high byte register with memory', input: 'movb %dh, 4(%eax)', output: [L, 'leal 4(%rax), %r11d', 'xchgb %dh, %dl', 'movl %r11d, %r11d', 'movb %dl, (%r15,%r11)', 'xchgb %dh, %dl', U] },
  { rule: 'rep movsb superinstruction', input: 'rep movsb', output: [L, 'movl %esi, %esi', 'leaq (%r15,%rsi), %rsi', 'movl %edi, %edi', 'leaq (%r15,%rdi), %rdi', 'rep movsb', U, 'movl %esi, %esi', 'movl %edi, %edi'] },
  { rule: 'rep stosq uses only rdi', input: 'rep stosq', output: [L, 'movl %edi, %edi', 'leaq (%r15,%rdi), %rdi', 'rep stosq', U, 'movl %edi, %edi'] },
  { rule: 'rep; movsl written with a separator', input: 'rep; movsl', output: [L, 'movl %esi, %esi', 'leaq (%r15,%rsi), %rsi', 'movl %edi, %edi', 'leaq (%r15,%rdi), %rdi', 'rep movsl', U, 'movl %esi, %esi', 'movl %edi, %edi'] },
  { rule: 'string op with operands takes its size from the register', input: 'repne scas %es:(%edi), %al', output: [L, 'movl %edi, %edi', 'leaq (%r15,%rdi), %rdi', 'repne scasb', U, 'movl %edi, %edi'] },
  { rule: 'leave', input: 'leave', output: ['movq %rbp, %rsp', 'popq %r11', L, 'movl %r11d, %ebp', 'addq %r15, %rbp', U] },
  { rule: 'pop %rbp', input: 'popq %rbp', output: ['popq %r11', L, 'movl %r11d, %ebp', 'addq %r15, %rbp', U] },
  { rule: 'ret', input: 'ret', output: [L, 'popq %r11', 'andl $-32, %r11d', 'addq %r15, %r11', 'jmp *%r11', U] },
  { rule: '32-bit stack adjustment is rebased', input: 'subl $328, %esp', output: [L, 'subl $328, %esp', 'addq %r15, %rsp', U] },
  { rule: '64-bit stack adjustment becomes 32-bit + rebase', input: 'addq $24, %rsp', output: [L, 'addl $24, %esp', 'addq %r15, %rsp', U] },
  { rule: 'lea into rsp', input: 'leal -16(%ebp), %esp', output: [L, 'leal -16(%rbp), %esp', 'addq %r15, %rsp', U] },
  { rule: 'frame pointer set-up', input: 'movl %esp, %ebp', output: ['movq %rsp, %rbp'] },
  { rule: 'stack alignment stays', input: 'andq $-16, %rsp', output: ['andq $-16, %rsp'] },
  { rule: 'load of rbp from memory (longjmp)', input: 'movq 8(%edi), %rbp', output: [L, 'leal 8(%rdi), %r11d', 'movl (%r15,%r11), %ebp', 'addq %r15, %rbp', U] },
  { rule: 'direct call ends a bundle', input: 'call foo', output: [LE, 'call foo', U] },
  { rule: 'indirect call', input: 'call *%rax', output: ['movl %eax, %r11d', LE, 'andl $-32, %r11d', 'addq %r15, %r11', 'call *%r11', U] },
  { rule: 'indirect call through memory', input: 'call *8(%eax)', output: [L, 'leal 8(%rax), %r11d', 'movl (%r15,%r11), %r11d', U, LE, 'andl $-32, %r11d', 'addq %r15, %r11', 'call *%r11', U] },
  { rule: 'indirect jump', input: 'jmp *%rdx', output: ['movl %edx, %r11d', L, 'andl $-32, %r11d', 'addq %r15, %r11', 'jmp *%r11', U] },
  { rule: 'direct jumps stay', input: 'jne .L5\n.L5:\njmp .L5', output: ['jne .L5', '.L5:', 'jmp .L5'] },
];

describe('sandboxing pass: rewrite rules', () => {
  for (const c of CASES) {
    it(`${c.rule}: ${c.input.replace(/\n/g, '; ')}`, () => {
      expect(rewrite(c.input)).toEqual(c.output);
    });
  }
});

describe('sandboxing pass: labels and sections', () => {
  it('aligns function entries to bundles', () => {
    expect(rewrite('.text\n.globl f\n.type f, @function\nf:\nret')).toEqual(['.text', '.globl f', '.type f, @function', '.p2align 5', 'f:', '.p2align 5', L, 'popq %r11', 'andl $-32, %r11d', 'addq %r15, %r11', 'jmp *%r11', U]);
  });
  it('aligns jump-table targets named from .rodata, not the table itself', () => {
    const out = rewrite(['.text', 'movl .L4(,%esi,4), %eax', 'jmp *%rax', '.section .rodata', '.align 4', '.L4:', '.long .L3', '.long .L2', '.text', '.L3:', 'ret', '.L2:', 'ret'].join('\n'));
    expect(out.indexOf('.L3:') - 1).toBe(out.indexOf('.p2align 5'));
    expect(out[out.indexOf('.L2:') - 1]).toBe('.p2align 5');
    expect(out[out.indexOf('.L4:') - 1]).toBe('.align 4');
  });
  it('leaves a local function reached only by direct branches unaligned', () => {
    const out = rewrite(['.text', '.type g, @function', 'g:', 'ret', '.type f, @function', 'f:', 'call g', 'jmp g', 'je g', '.size g, .-g'].join('\n'));
    expect(out[out.indexOf('g:') - 1]).toBe('.type g, @function');
  });
  it('aligns a local function whose address is taken in code or data', () => {
    for (const use of ['movl $g, %eax', 'leal g(%rip), %eax', 'call *g', '.section .rodata\n.long g\n.text']) {
      const out = rewrite(['.text', '.type g, @function', 'g:', 'ret', use].join('\n'));
      expect(out[out.indexOf('g:') - 1], use).toBe('.p2align 5');
    }
  });
  it('aligns global and weak functions: another object may call them through a pointer', () => {
    for (const binding of ['.globl g', '.weak g']) {
      const out = rewrite(['.text', binding, '.type g, @function', 'g:', 'ret'].join('\n'));
      expect(out[out.indexOf('g:') - 1], binding).toBe('.p2align 5');
    }
  });
  it('aligns code labels whose address is taken (computed goto)', () => {
    const out = rewrite('movl $.L7, %eax\njmp *%rax\n.L7:\nret');
    expect(out[out.indexOf('.L7:') - 1]).toBe('.p2align 5');
  });
  it('leaves data sections alone', () => {
    expect(rewrite('.data\nx:\n.long 1\n.section .rodata\n.L1:\n.string "a;b#c"')).toEqual(['.data', 'x:', '.long 1', '.section .rodata', '.L1:', '.string "a;b#c"']);
  });
  it('passes hand-sandboxed .bundle_lock regions through', () => {
    expect(rewrite('.bundle_lock\nandl $-32, %ebx\naddq %r15, %rbx\ncall *%rbx\n.bundle_unlock')).toEqual([L, 'andl $-32, %ebx', 'addq %r15, %rbx', 'call *%rbx', U]);
  });
});

describe('sandboxing pass: refusals', () => {
  const refusals: [string, RegExp][] = [
    ['movl %fs:0, %eax', /segment overrides/],
    ['btl %eax, %edx', /bit tests with a register bit offset/],
    ['btq %rax, (%rdx)', /bit tests with a register bit offset/],
    ['enter $16, $0', /enter is not allowed/],
    ['jecxz .L1', /not allowed/],
    ['movw %ax, %sp', /16-bit writes to %rsp/],
    ['movl (%r11), %eax', /reserves as its scratch register/],
    ['.code32', /only 64-bit code/],
  ];
  for (const [asm, message] of refusals) {
    it(`refuses ${asm}`, () => {
      expect(() => sandboxAssembly(asm, 'x.s')).toThrow(SandboxError);
      expect(() => sandboxAssembly(asm, 'x.s')).toThrow(message);
    });
  }
  it('names the file and line', () => {
    expect(() => sandboxAssembly('nop\nnop\nmovl %gs:4, %eax', 'lib.s')).toThrow(/^lib\.s:3: /);
  });
});

describe('operand parser', () => {
  it('parses the shapes gcc writes', () => {
    expect(parseOperand('8(%eax,%esi,4)')).toEqual({ kind: 'memory', segment: null, displacement: '8', base: 'eax', index: 'esi', scale: 4 });
    expect(parseOperand('.L4(,%esi,4)')).toEqual({ kind: 'memory', segment: null, displacement: '.L4', base: null, index: 'esi', scale: 4 });
    expect(parseOperand('g+12(%rip)')).toMatchObject({ kind: 'memory', displacement: 'g+12', base: 'rip', index: null });
    expect(parseOperand('%es:(%edi)')).toMatchObject({ kind: 'memory', segment: 'es', base: 'edi' });
    expect(parseOperand('$-32')).toEqual({ kind: 'immediate', text: '-32' });
    expect(parseOperand('*%rax')).toEqual({ kind: 'indirect', target: { kind: 'register', name: 'rax' } });
    expect(parseOperand('foo@PLT')).toEqual({ kind: 'expression', text: 'foo@PLT' });
  });
});

/** The pass's output assembled by clang: the symbol table's values (`nm`), by name. */
function assembledSymbols(asm: string): Map<string, number> {
  if (typeof tools === 'string') throw new Error(tools);
  const dir = mkdtempSync(join(tmpdir(), 'zerovm-pass-test-'));
  try {
    writeFileSync(join(dir, 'in.s'), sandboxAssembly(asm, 'in.s'));
    execFileSync(tools.clang, ['-c', '-target', 'x86_64-linux-gnu', '-x', 'assembler', '-o', join(dir, 'in.o'), join(dir, 'in.s')], { stdio: 'pipe' });
    const nm = execFileSync('nm', [join(dir, 'in.o')], { encoding: 'utf8' });
    return new Map(
      nm
        .split('\n')
        .map((l) => l.trim().split(/\s+/))
        .filter((f) => f.length === 3)
        .map((f) => [f[2] as string, parseInt(f[0] as string, 16)]),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe.skipIf(typeof tools === 'string' && !ci)('sandboxing pass: assembled output passes the validator', () => {
  for (const c of CASES) {
    it(c.rule, () => {
      expect(assembleAndValidate(`.text\n${c.input}\nhlt`)).toEqual([]);
    });
  }
  it('a global function whose first instruction is a call still starts a bundle', () => {
    // align_to_end pads before the call; the padding must follow the label, not precede it.
    const asm = ['.text', '.globl f', '.type f, @function', 'f:', 'nop', 'ret', '.globl _start', '.type _start, @function', '_start:', 'call f', 'hlt', '.L9:', 'call *%rax', 'movl $.L9, %eax'].join('\n');
    const symbols = assembledSymbols(asm);
    expect(symbols.get('_start')).toBe(0x20);
    expect(assembleAndValidate(asm)).toEqual([]);
  });
  it('a local function whose address is taken and whose first instruction is a call starts a bundle', () => {
    const asm = ['.text', '.globl g', '.type g, @function', 'g:', 'nop', 'movl $h, %eax', 'ret', '.type h, @function', 'h:', 'call g', 'ret'].join('\n');
    expect((assembledSymbols(asm).get('h') ?? 1) % 32).toBe(0);
  });
  it('a whole gcc -mx32 function with a jump table, calls and string operations', () => {
    const asm = [
      '.text',
      '.globl f',
      '.type f, @function',
      'f:',
      'pushq %rbp',
      'movl %esp, %ebp',
      'pushq %r12',
      'subl $328, %esp',
      'movl g(,%esi,4), %r12d',
      'cmpl $2, %esi',
      'ja .L2',
      'movl .L4(,%esi,4), %eax',
      'jmp *%rax',
      '.section .rodata',
      '.align 4',
      '.L4:',
      '.long .L3',
      '.long .L5',
      '.long .L2',
      '.text',
      '.L3:',
      'addl $1, %r12d',
      'jmp .L2',
      '.L5:',
      'movl %esi, %edi',
      'movl fp(%rip), %eax',
      'call *%rax',
      'addl %eax, %r12d',
      '.L2:',
      'leal -320(%ebp), %edi',
      'movl $40, %ecx',
      'xorl %eax, %eax',
      'rep stosq',
      'movb $1, -320(%ebp,%esi)',
      'call memset',
      'movl %r12d, %eax',
      'movq -8(%ebp), %r12',
      'leave',
      'ret',
      '.size f, .-f',
      '.bss',
      'g: .zero 400',
    ].join('\n');
    expect(assembleAndValidate(asm)).toEqual([]);
  });
});
