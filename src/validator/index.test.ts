import { describe, expect, it } from 'vitest';
import { decodeInstruction, validate } from './index.js';

describe('public API', () => {
  it('decodes one instruction into a plain value', () => {
    const code = Uint8Array.from([0x41, 0x8b, 0x1c, 0x07]); // mov (%r15,%rax,1),%ebx
    const insn = decodeInstruction(code);
    expect(insn.ok).toBe(true);
    if (!insn.ok) return;
    expect(insn.length).toBe(4);
    expect(insn.mnemonic).toBe('mov');
    expect(insn.text).toBe('mov ebx, dword ptr [r15+rax*1]');
    expect(insn.writes.map((r) => r.name)).toEqual(['ebx']);
    expect(insn.feature).toBe('-');
    expect(insn.denied).toBeNull();
    expect(insn.form).toMatch(/^legacy\.ts:\d+$/);
    const mem = insn.operands[1];
    expect(mem?.kind).toBe('memory');
    if (mem?.kind === 'memory') {
      expect([mem.base?.name, mem.index?.name, mem.scale, mem.bits]).toEqual(['r15', 'rax', 1, 32]);
    }
  });

  it('names the source file and line of the table row that matched (one jump to the opcode\'s meaning)', () => {
    const insn = decodeInstruction(Uint8Array.from([0x48, 0x01, 0xd8])); // add %rbx,%rax
    expect(insn.ok && insn.form).toBe('legacy.ts:21');
    const vex = decodeInstruction(Uint8Array.from([0xc5, 0xfd, 0x58, 0xc1])); // vaddpd %ymm1,%ymm0,%ymm0
    expect(vex.ok && vex.form).toMatch(/^vex\.ts:\d+$/);
  });

  it('keeps every bit of a 64-bit immediate (movabs), past 2^53', () => {
    const text = (bytes: number[]): string | undefined => {
      const insn = decodeInstruction(Uint8Array.from(bytes));
      return insn.ok ? insn.text : undefined;
    };
    expect(text([0x48, 0xb8, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11])).toBe('mov rax, 0x1111111111111111');
    expect(text([0x49, 0xbb, 0x01, 0, 0, 0, 0, 0, 0, 0x80])).toBe('mov r11, -0x7fffffffffffffff');
    const insn = decodeInstruction(Uint8Array.from([0x48, 0xb8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]));
    const imm = insn.ok ? insn.operands[1] : undefined;
    expect(imm?.kind === 'immediate' && imm.exact).toBe(0x7fffffffffffffffn);
  });

  it('names the feature and the deny reason', () => {
    const aes = decodeInstruction(Uint8Array.from([0x66, 0x0f, 0x38, 0xdc, 0xc8]));
    expect(aes.ok && [aes.mnemonic, aes.feature, aes.denied]).toEqual(['aesenc', 'AES', 'unsupported']);
    const ret = decodeInstruction(Uint8Array.from([0xc3]));
    expect(ret.ok && ret.denied).toBe('ret');
  });

  it('reports undecodable bytes without throwing', () => {
    expect(decodeInstruction(Uint8Array.from([0x0f]))).toEqual({ ok: false, offset: 0, reason: 'instruction is cut off by the end of the code' });
    expect(decodeInstruction(Uint8Array.from([0x37]))).toMatchObject({ ok: false, reason: 'not a valid x86-64 instruction' });
    expect(decodeInstruction(new Uint8Array(0))).toMatchObject({ ok: false });
  });

  it('validates with a base address', () => {
    const r = validate(Uint8Array.from([0xc3]), { base: 0x20000 });
    expect(r.valid).toBe(false);
    expect(r.errors[0]).toMatchObject({ rule: 'forbidden-instruction', offset: 0, address: 0x20000, nacl: 'unrecognized instruction' });
    expect(validate(new Uint8Array(32), { base: 0x20010 }).errors[0]?.rule).toBe('bad-code-region');
  });
});
