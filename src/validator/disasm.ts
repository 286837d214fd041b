/**
 * The annotated disassembly: what the validator saw, bundle by bundle.
 *
 * Pipeline position: CLI `zerovm disasm` -> here -> decoder + validator.
 * Each line is one instruction with its address, bytes and text; bundle
 * boundaries are marked, superinstructions are bracketed, and every
 * validation error is printed under the instruction it belongs to, so a
 * reader sees *why* a binary is rejected. The listing follows the
 * validator's own decoding (bundle by bundle, resynchronising at the next
 * bundle after an undecodable instruction), so offsets line up exactly.
 */
import { DecodedInstruction, DecodeStatus, DECODE_STATUS_MESSAGES, decode } from './decoder.js';
import { FORMS, denyReasonOf } from './forms.js';
import { formatInstruction } from './format.js';
import { matchSuperinstruction, SuperMatch } from './superinstructions.js';
import { BUNDLE_SIZE, padToBundles, validate, type ValidateOptions, type ValidationResult } from './validate.js';
import { RULES } from './rules.js';
import { POLICY_PROPERTIES } from './policies.js';

export interface ListingLine {
  readonly offset: number;
  readonly address: number;
  readonly bytes: Uint8Array;
  /** Instruction text, or a note for undecodable bytes. */
  readonly text: string;
  /** Position inside a superinstruction: none, first, middle or last instruction. */
  readonly superinstruction: 'none' | 'first' | 'middle' | 'last';
  /** True for the first instruction of a bundle. */
  readonly bundleStart: boolean;
}

export interface Listing {
  readonly lines: readonly ListingLine[];
  readonly result: ValidationResult;
}

/** Decodes and validates `code` and returns the listing. */
export function disassemble(input: Uint8Array, options: ValidateOptions = {}): Listing {
  const base = options.base ?? 0;
  const policy = options.policy ?? 'nacl';
  const properties = POLICY_PROPERTIES[policy];
  // Pad as the validator does (hlt, whatever padByte says, under the exact region model).
  const code = padToBundles(input, properties.regionModel === 'exact' ? 0xf4 : options.padByte ?? 0xf4);
  const result = validate(input, options);
  const deny = FORMS.policy[policy].deny;
  const lines: ListingLine[] = [];
  const insn = new DecodedInstruction();
  for (let bundle = 0; bundle < code.length; bundle += BUNDLE_SIZE) {
    const bundleEnd = bundle + BUNDLE_SIZE;
    const bundleLines: ListingLine[] = [];
    const spans: Array<[number, number]> = [];
    let starts = 0;
    let pos = bundle;
    while (pos < bundleEnd) {
      starts |= 1 << (pos - bundle);
      decode(code, pos, code.length, insn);
      if (insn.status !== DecodeStatus.Ok || pos + insn.length > bundleEnd) {
        const reason = insn.status !== DecodeStatus.Ok ? DECODE_STATUS_MESSAGES[insn.status] : `${formatInstruction(insn, base)} (crosses the bundle end)`;
        bundleLines.push({
          offset: pos, address: base + pos, bytes: code.subarray(pos, bundleEnd),
          text: `(${reason}; the rest of the bundle is not decoded)`, superinstruction: 'none', bundleStart: pos === bundle,
        });
        break;
      }
      if (denyReasonOf(deny[insn.form] as number) === 'special') {
        const match = matchSuperinstruction(code, pos, insn, bundle, starts, properties.stringSandboxing);
        if (match.kind === SuperMatch.Ok) spans.push([match.start, pos]);
      }
      bundleLines.push({
        offset: pos, address: base + pos, bytes: code.subarray(pos, pos + insn.length),
        text: formatInstruction(insn, base), superinstruction: 'none', bundleStart: pos === bundle,
      });
      pos += insn.length;
    }
    for (const line of bundleLines) {
      const span = spans.find(([s, e]) => line.offset >= s && line.offset <= e);
      if (span === undefined) {
        lines.push(line);
      } else {
        const position = line.offset === span[0] ? 'first' : line.offset === span[1] ? 'last' : 'middle';
        lines.push({ ...line, superinstruction: position });
      }
    }
  }
  return { lines, result };
}

const BYTES_WIDTH = 30;

function hexBytes(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}

/** Renders a listing as text, errors inline. */
export function renderListing(listing: Listing): string {
  const out: string[] = [];
  const errorsByOffset = new Map<number, string[]>();
  for (const e of listing.result.errors) {
    const list = errorsByOffset.get(e.offset) ?? [];
    list.push(`${e.rule}: ${e.message}`);
    errorsByOffset.set(e.offset, list);
  }
  const fatalAt = new Set(listing.result.errors.filter((e) => RULES[e.rule].fatal).map((e) => e.offset));
  const printed = new Set<number>();
  const marks = { none: '  ', first: '┌ ', middle: '│ ', last: '└ ' } as const;
  const lines = listing.lines;
  let skipping = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as ListingLine;
    if (line.bundleStart) {
      out.push(`; ---- bundle 0x${line.address.toString(16)} ----`);
      skipping = false;
    }
    // Collapse runs of identical one-byte padding (nop, hlt).
    if (line.bytes.length === 1 && !errorsByOffset.has(line.offset)) {
      let j = i;
      while (j + 1 < lines.length && !(lines[j + 1] as ListingLine).bundleStart && (lines[j + 1] as ListingLine).bytes.length === 1 &&
        (lines[j + 1] as ListingLine).bytes[0] === line.bytes[0] && !errorsByOffset.has((lines[j + 1] as ListingLine).offset)) j++;
      if (j - i >= 3) {
        out.push(`  ${line.address.toString(16).padStart(8, ' ')}:  ${hexBytes(line.bytes).padEnd(BYTES_WIDTH)}  ${line.text}  (× ${j - i + 1}${skipping ? ', not validated' : ''})`);
        i = j;
        continue;
      }
    }
    let bytes = hexBytes(line.bytes);
    if (bytes.length > BYTES_WIDTH) bytes = `${bytes.slice(0, BYTES_WIDTH - 1)}…`;
    const note = skipping ? '   (not validated: the bundle stopped above)' : '';
    out.push(`${marks[line.superinstruction]}${line.address.toString(16).padStart(8, ' ')}:  ${bytes.padEnd(BYTES_WIDTH)}  ${line.text}${note}`);
    for (const message of errorsByOffset.get(line.offset) ?? []) out.push(`  ${' '.repeat(8)}   ^^^ ${message}`);
    if (fatalAt.has(line.offset)) {
      out.push(`  ${' '.repeat(8)}   ^^^ validation resumes at the next bundle (as NaCl's validator does)`);
      skipping = true;
    }
    printed.add(line.offset);
  }
  // Errors that belong to no listed instruction (e.g. at a bundle end).
  for (const [offset, messages] of errorsByOffset) {
    if (printed.has(offset)) continue;
    for (const message of messages) out.push(`  ${(listing.result.base + offset).toString(16).padStart(8, ' ')}:  ^^^ ${message}`);
  }
  return out.join('\n');
}
