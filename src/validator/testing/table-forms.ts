/**
 * Every form of our own opcode tables, encoded with its free fields varied:
 * mandatory and optional prefixes, REX/VEX.R/X/B/W bits (meaningful or
 * not), VEX.L and VEX.vvvv, register and memory operands of every shape,
 * immediates (is4 bytes with any low nibble). The oracle judges each, so
 * this family finds what our table gets wrong about a form it knows; the
 * opcode sweep (`sweep.ts`) finds the forms it does not know.
 *
 * Pipeline position: test support only; `families.ts` lists it.
 */
import { allFormSpecs } from '../opcodes/index.js';
import type { FormSpec } from '../opcodes/grammar.js';
import { le, memoryOperand, modrmMemory, sandboxRegister } from './encode.js';
import { Prng, recordsFrom } from './prng.js';

const FORMS = allFormSpecs();

function encodeForm(f: FormSpec, r: Prng): number[] {
  const bytes: number[] = [];
  const memOnly = f.operands.some((o) => o.kind === 'M');
  const regOnly = f.modrmLiteral >= 0 || f.operands.some((o) => o.kind === 'R' || o.kind === 'U' || o.kind === 'N' || o.kind === 'T');
  const memory = f.hasModrm && !regOnly && (memOnly || r.chance(0.5));
  // Legacy prefixes: the mandatory one, and sometimes an extra one.
  if (f.attributes.has('lock') && memory && r.chance(0.2)) bytes.push(0xf0);
  if (!f.vex && f.prefix === 'none' && r.chance(0.2)) bytes.push(0x66);
  if (!f.vex && (f.attributes.has('rep') || f.attributes.has('repcc')) && r.chance(0.3)) bytes.push(r.pick([0xf3, 0xf2]));
  if (r.chance(0.05)) bytes.push(r.pick([0x66, 0xf2, 0xf3, 0x2e, 0x3e, 0x67]));
  if (!f.vex && f.prefix === '66') bytes.push(0x66);
  if (!f.vex && f.prefix === 'F2') bytes.push(0xf2);
  if (!f.vex && f.prefix === 'F3') bytes.push(0xf3);
  const w = f.w === -1 ? r.int(2) : r.chance(0.05) ? 1 - f.w : f.w;
  let reg = f.modrmReg >= 0 ? f.modrmReg | (r.chance(0.2) ? 8 : 0) : sandboxRegister(r);
  let modrm: number[] = [];
  let x = 0;
  let b = 0;
  if (f.hasModrm) {
    if (f.modrmLiteral >= 0) {
      modrm = [f.modrmLiteral + (f.modrmRange > 1 ? r.int(f.modrmRange) : 0)];
      reg = (modrm[0] as number) >> 3 & 7;
      b = r.chance(0.2) ? 1 : 0;
    } else if (memory) {
      const m = modrmMemory(reg, memoryOperand(r));
      modrm = m.bytes;
      x = m.x | (r.chance(0.1) ? 1 : 0);
      b = m.b | (r.chance(0.1) ? 1 : 0);
    } else {
      const rm = sandboxRegister(r);
      modrm = [0xc0 | ((reg & 7) << 3) | (rm & 7)];
      b = rm >> 3;
      x = r.chance(0.1) ? 1 : 0;
    }
  }
  const rr = (reg >> 3) & 1;
  if (f.vex) {
    const map = f.map === '0F' ? 1 : f.map === '0F38' ? 2 : 3;
    const pp = { none: 0, NP: 0, '66': 1, F3: 2, F2: 3 }[f.prefix];
    const l = f.vexL === -1 ? r.int(2) : r.chance(0.05) ? 1 - f.vexL : f.vexL;
    const usesVvvv = f.operands.some((o) => o.kind === 'H' || o.kind === 'B');
    const v = usesVvvv || r.chance(0.1) ? sandboxRegister(r) : 0;
    const last = (w << 7) | ((~v & 15) << 3) | (l << 2) | pp;
    if (map === 1 && x === 0 && b === 0 && w === 0 && r.chance(0.6)) bytes.push(0xc5, (rr ? 0 : 0x80) | (last & 0x7f));
    else bytes.push(0xc4, (rr ? 0 : 0x80) | (x ? 0 : 0x40) | (b ? 0 : 0x20) | map, last);
  } else {
    const rex = 0x40 | (w << 3) | (rr << 2) | (x << 1) | b;
    if (rex !== 0x40 || r.chance(0.1)) bytes.push(rex);
    if (f.map === '0F') bytes.push(0x0f);
    if (f.map === '0F38') bytes.push(0x0f, 0x38);
    if (f.map === '0F3A') bytes.push(0x0f, 0x3a);
    if (f.map === '3DNow') bytes.push(0x0f, 0x0f);
  }
  if (f.map !== '3DNow') bytes.push(f.opcode + (f.opcodeReg ? r.int(8) : 0));
  bytes.push(...modrm);
  if (f.map === '3DNow') bytes.push(f.suffix);
  const opsize = bytes.includes(0x66) && f.prefix === 'none';
  for (const o of f.operands) {
    if (o.kind === 'I') {
      const n = { b: 1, w: 2, d: 4, q: 8, z: opsize ? 2 : 4, v: opsize ? 2 : w ? 8 : 4 }[o.size as 'b'] ?? 1;
      bytes.push(...r.bytes(n, 0.3));
    } else if (o.kind === 'J') {
      bytes.push(...le(r.int(64) - 16, o.size === 'b' ? 1 : 4));
    } else if (o.kind === 'L') {
      bytes.push(r.chance(0.7) ? r.int(16) << 4 : r.byte());
    } else if (o.kind === 'O') {
      bytes.push(...r.bytes(8, 0.5));
    }
  }
  return bytes;
}

/** One record: a table form, sometimes after a zero-extension of a likely index. */
export function tableFormRecord(r: Prng): Uint8Array {
  const form = r.pick(FORMS);
  const insn = encodeForm(form, r);
  const before = r.chance(0.15) ? [r.pick([[0x89, 0xc0], [0x89, 0xc4], [0x89, 0xc5], [0x45, 0x89, 0xff]])].flat() : [];
  return Uint8Array.from([...before, ...insn]);
}

export function tableFormRecords(seed: number, count: number): Uint8Array[] {
  return recordsFrom(seed, count, tableFormRecord);
}
