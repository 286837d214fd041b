/**
 * How much of a code region the original ZeroVM 2015 validated: its
 * validator library first dropped a long run of trailing hlt bytes,
 * keeping 16 after the last other byte (the longest instruction and one
 * more), rounded up to a whole bundle. A jump to an unaligned address in
 * the dropped hlts is therefore a jump out of the region, which the
 * validator refuses. It applies to the program's text (with its hlt fill)
 * and to every TrapJail block.
 *
 * Pipeline position: session.ts (the text before it runs) and jail.ts (a
 * block before it becomes executable) cut their bytes to this length and
 * hand that to the validator.
 *
 * Source of truth: spec/runtime.md "Loading the program" (the validated
 * region) and "The trap" (TrapJail), measured on the original: a jump to
 * offset 0x1f after 5 bytes of code is valid, to 0x21 is not; after 16
 * bytes of code, 0x2f is not, after 17 bytes it is.
 */
const HLT = 0xf4;
/** Trailing hlt bytes always kept: the longest instruction (15 bytes) and one. */
const KEEP = 16;
const BUNDLE = 32;

/**
 * The length of `code` the original validated (never more than its
 * length). `hltFrom`: where a run of hlt known to last to the end begins
 * (the text's fill), so that the search for the last other byte starts
 * there rather than 64 KiB further.
 */
export function haltTrimmedLength(code: Uint8Array, hltFrom = code.length): number {
  let last = Math.max(0, Math.min(hltFrom, code.length) - 1);
  /* as the original counted: the first byte is never taken for trailing hlt */
  while (last > 0 && code[last] === HLT) last--;
  const halts = code.length - (last + 1);
  if (halts <= KEEP) return code.length;
  const trimmed = Math.ceil((last + 1 + KEEP) / BUNDLE) * BUNDLE;
  return trimmed < code.length ? trimmed : code.length;
}
