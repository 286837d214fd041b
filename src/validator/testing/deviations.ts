/**
 * Where our validator differs from a reference validator on purpose, as
 * code the differential tests can apply: each deviation rewrites a record
 * into what the reference believes it says (same length, the deviating
 * instructions replaced by an equivalent both agree on). A disagreement is
 * explained by a deviation when the rewritten record makes both agree
 * again. spec/validator.md, "Where we differ from NaCl", describes each.
 *
 * Pipeline position: test support only (oracles.ts, the differential test).
 */
import { DecodedInstruction, DecodeStatus, decode } from '../decoder.js';
import { WHITELISTED_NOPS } from '../nops.js';
import { validate, type ValidationPolicy } from '../validate.js';

export interface KnownDeviation {
  /** Stable id, used in the regression file (`deviation=<id>`). */
  readonly id: string;
  /** The policies whose oracle it concerns. */
  readonly policies: readonly ValidationPolicy[];
  /** Section of spec/validator.md that documents it. */
  readonly spec: string;
  readonly summary: string;
  /** The record as the oracle reads it, or null when it has nothing this deviation is about. */
  rewrite(bytes: Uint8Array): Uint8Array | null;
}

const scratch = new DecodedInstruction();

/** Calls `visit` for each instruction our validator decodes, bundle by bundle, until a bundle's first failure. */
function eachInstruction(code: Uint8Array, visit: (pos: number, length: number) => void): void {
  for (let bundle = 0; bundle < code.length; bundle += 32) {
    const end = Math.min(bundle + 32, code.length);
    for (let pos = bundle; pos < end;) {
      decode(code, pos, end, scratch);
      if (scratch.status !== DecodeStatus.Ok) break;
      visit(pos, scratch.length);
      pos += scratch.length;
    }
  }
}

/**
 * A REX prefix without REX.W and REX.B before 90 (`40 90`, `42 90`, `44 90`,
 * `46 90`): the processor executes a true nop (the only xchg of a register
 * with itself that would exchange %eax with %eax), but NaCl's validator
 * takes it for `xchg %eax,%eax`, a 32-bit write of %eax that zero-extends
 * %rax, and then accepts %rax as a memory index. We keep it a nop, which
 * refuses code NaCl accepts: its %rax may hold any 64-bit value. The
 * rewrite is what NaCl believes: `89 c0` (mov %eax,%eax), same length.
 */
const REX_NOP: KnownDeviation = {
  id: 'rex-nop',
  policies: ['nacl', 'zerovm'],
  spec: 'validator.md#differences',
  summary: 'a REX-prefixed 90 (no REX.W, no REX.B) is a true nop, not a zero-extending xchg %eax,%eax as NaCl has it',
  rewrite(bytes) {
    let out: Uint8Array | null = null;
    const code = bytes.length % 32 === 0 ? bytes : Uint8Array.from({ length: Math.ceil(bytes.length / 32) * 32 }, (_, i) => bytes[i] ?? 0xf4);
    eachInstruction(code, (pos, length) => {
      if (length === 2 && pos + 1 < bytes.length && ((bytes[pos] as number) & 0xf9) === 0x40 && bytes[pos + 1] === 0x90) {
        out ??= bytes.slice();
        out[pos] = 0x89;
        out[pos + 1] = 0xc0;
      }
    });
    return out;
  },
};

/** Starts of the instructions of the bundle holding `pos`, up to `pos` (as the validator decodes them). */
function startsBefore(code: Uint8Array, pos: number): number[] {
  const starts: number[] = [];
  const bundle = pos - (pos % 32);
  for (let at = bundle; at < pos;) {
    decode(code, at, bundle + 32, scratch);
    if (scratch.status !== DecodeStatus.Ok) break;
    starts.push(at);
    at += scratch.length;
  }
  return starts;
}

/**
 * movs/cmps sandboxed the ZeroVM way, `lea ...,%rsi ; L2 ; lea ...,%rdi ;
 * movs`, where L2 writes %rsi (`mov %rax,%rsi`, or the `mov %esi,%esi`
 * that makes %rsi the index of the %rdi lea): ZeroVM 2015's validator does
 * not look at L2 and accepts it, although movs then reads through an
 * arbitrary %rsi. We reject it (`string-rsi-overwritten`). The rewrite is
 * what ZeroVM believes: an L2 that leaves %rsi alone — the identity move of
 * %edi with %rdi as the lea's index instead, or a nop of L2's length.
 */
const STRING_RSI_OVERWRITTEN: KnownDeviation = {
  id: 'string-rsi-overwritten',
  policies: ['zerovm'],
  spec: 'validator.md#differences',
  summary: "movs/cmps whose instruction between the %rsi and %rdi leas writes %rsi: ZeroVM 2015 accepts it, we reject it",
  rewrite(bytes) {
    const sites = validate(bytes, { policy: 'zerovm' }).errors.filter((e) => e.rule === 'string-rsi-overwritten');
    if (sites.length === 0) return null;
    const out = Uint8Array.from({ length: Math.ceil(bytes.length / 32) * 32 }, (_, i) => bytes[i] ?? 0xf4);
    for (const site of sites) {
      const starts = startsBefore(out, site.offset);
      const l1 = starts[starts.length - 1] as number;
      const l2 = starts[starts.length - 2] as number;
      decode(out, l1, site.offset, scratch);
      // A safe lea is REX 8D ModRM SIB...: the SIB byte is its fourth.
      const sib = l1 + 3;
      if (scratch.index === 6) {
        // lea (%r15,%rsi,s),%rdi after mov %esi,%esi: index %rdi after mov %edi,%edi.
        out[sib] = ((out[sib] as number) & 0xc7) | (7 << 3);
        out[l1 - 1] = 0xff;
      } else {
        const nop = WHITELISTED_NOPS.find((n) => n.length === l1 - l2);
        if (nop === undefined) return null;
        out.set(nop, l2);
      }
    }
    return out.slice(0, bytes.length);
  },
};

export const KNOWN_DEVIATIONS: readonly KnownDeviation[] = [REX_NOP, STRING_RSI_OVERWRITTEN];

export function deviationById(id: string): KnownDeviation | undefined {
  return KNOWN_DEVIATIONS.find((d) => d.id === id);
}
