/**
 * The padding nops NaCl accepts byte for byte.
 *
 * Assemblers pad bundles with the "recommended" multi-byte nops, some of
 * which carry prefixes the validator otherwise rejects (repeated 66, the 2E
 * segment override) or a memory operand that is not sandboxed (nopw
 * 0x0(%rax,%rax,1)). They never access memory, so the sandbox accepts these
 * exact encodings — and no others — as harmless.
 */

/** Intel's recommended multi-byte nops (SDM, "Recommended Multi-Byte Sequence of NOP Instruction"): entry i is i + 1 bytes long. */
export const RECOMMENDED_NOPS: readonly (readonly number[])[] = [
  [0x90],
  [0x66, 0x90],
  [0x0f, 0x1f, 0x00],
  [0x0f, 0x1f, 0x40, 0x00],
  [0x0f, 0x1f, 0x44, 0x00, 0x00],
  [0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00],
  [0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00],
  [0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
  [0x66, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
];

/** `66{n} 2E 0F 1F 84 00 00000000` for n = 1..6 (GNU as pads up to 15 bytes this way). */
const CS_NOPS = [1, 2, 3, 4, 5, 6].map((n) => [...new Array<number>(n).fill(0x66), 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00]);

export const WHITELISTED_NOPS: readonly (readonly number[])[] = [...RECOMMENDED_NOPS, ...CS_NOPS];

const byLength = new Map<number, (readonly number[])[]>();
for (const nop of WHITELISTED_NOPS) {
  const list = byLength.get(nop.length) ?? [];
  list.push(nop);
  byLength.set(nop.length, list);
}

/** True if the `length` bytes at `pos` are exactly one of the whitelisted nops. */
export function isWhitelistedNop(code: Uint8Array, pos: number, length: number): boolean {
  const first = code[pos];
  if (first !== 0x90 && first !== 0x66 && first !== 0x0f) return false;
  const candidates = byLength.get(length);
  if (candidates === undefined) return false;
  outer: for (const nop of candidates) {
    for (let i = 0; i < length; i++) if (code[pos + i] !== nop[i]) continue outer;
    return true;
  }
  return false;
}
