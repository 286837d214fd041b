/**
 * The program builder's back end: lays instructions out in 32-byte bundles
 * as NaCl toolchains do and encodes them with iced-x86.
 *
 * Pipeline position: generator.ts emits `Item`s -> here -> text bytes ->
 * nexe.ts (an ELF around them).
 *
 * Layout rules (spec/validator.md; clang's `.bundle_align_mode 5`):
 * - no instruction crosses a bundle boundary;
 * - a `group` (a sandboxing sequence: masked index + access, nacljmp,
 *   naclcall) stays inside one bundle (`.bundle_lock`);
 * - an `end` group ends exactly at a bundle end (`.bundle_lock
 *   align_to_end`): calls, so that return addresses are bundle-aligned and
 *   survive the masked return;
 * - `align` starts the next item on a bundle boundary (jump-table pads).
 * Gaps are filled with the canonical long nops, which execute as nothing
 * when control falls through them.
 *
 * Two passes: sizes with placeholder labels, then the layout, then the real
 * encoding; an instruction whose length changed between passes is a
 * generator bug (every branch is a rel32 form, every label immediate an
 * imm32), reported as such.
 */
import { Encoder } from 'iced-x86';
import { NOPS, type Insn, type Resolve } from './x86.js';

export const BUNDLE = 32;

export type Item =
  | { readonly kind: 'group'; readonly insns: readonly Insn[]; readonly end: boolean }
  | { readonly kind: 'label'; readonly name: string }
  | { readonly kind: 'align' };

export function one(i: Insn): Item {
  return { kind: 'group', insns: [i], end: false };
}

export function together(insns: readonly Insn[], end = false): Item {
  return { kind: 'group', insns, end };
}

export function label(name: string): Item {
  return { kind: 'label', name };
}

export const ALIGN: Item = { kind: 'align' };

export interface Assembled {
  readonly bytes: Uint8Array;
  readonly labels: ReadonlyMap<string, number>;
}

const encoder = new Encoder(64);

function encode(i: Insn, rip: number, resolve: Resolve): Uint8Array {
  const built = i.build(resolve);
  try {
    encoder.encode(built, BigInt(rip));
    return encoder.takeBuffer();
  } finally {
    built.free();
  }
}

/** Nops for [from, to), none crossing a bundle boundary. */
function nops(from: number, to: number): number[] {
  const out: number[] = [];
  for (let at = from; at < to; ) {
    const n = Math.min(to - at, NOPS.length - 1, BUNDLE - (at % BUNDLE));
    out.push(...NOPS[n]!);
    at += n;
  }
  return out;
}

/** Encodes `items` as code starting at sandbox address `origin` (32-byte aligned). */
export function assemble(items: readonly Item[], origin: number): Assembled {
  const placeholder: Resolve = () => origin;
  const sizes = items.map((item) => (item.kind === 'group' ? item.insns.map((i) => encode(i, origin, placeholder).length) : []));

  const labels = new Map<string, number>();
  const starts: number[] = [];
  let at = origin;
  items.forEach((item, n) => {
    if (item.kind === 'label') {
      if (labels.has(item.name)) throw new Error(`label ${item.name} defined twice`);
      labels.set(item.name, at);
    } else if (item.kind === 'align') {
      at = Math.ceil(at / BUNDLE) * BUNDLE;
    } else {
      const size = sizes[n]!.reduce((a, b) => a + b, 0);
      if (size > BUNDLE) throw new Error(`a group of ${size} bytes cannot fit in a bundle`);
      const offset = at % BUNDLE;
      if (item.end) at += (BUNDLE - ((offset + size) % BUNDLE)) % BUNDLE;
      else if (offset + size > BUNDLE) at += BUNDLE - offset;
      starts[n] = at;
      at += size;
    }
  });

  const resolve: Resolve = (name) => {
    const address = labels.get(name);
    if (address === undefined) throw new Error(`label ${name} is not defined`);
    return address;
  };
  const bytes = new Uint8Array(Math.ceil((at - origin) / BUNDLE) * BUNDLE);
  let written = origin;
  items.forEach((item, n) => {
    if (item.kind !== 'group') return;
    const start = starts[n]!;
    bytes.set(nops(written, start), written - origin);
    written = start;
    item.insns.forEach((i, k) => {
      const encoded = encode(i, written, resolve);
      if (encoded.length !== sizes[n]![k]) throw new Error(`instruction at 0x${written.toString(16)} changed length between passes`);
      bytes.set(encoded, written - origin);
      written += encoded.length;
    });
  });
  /* the tail: hlt, as the runtime fills the rest of the text page */
  bytes.fill(0xf4, written - origin);
  return { bytes, labels };
}
