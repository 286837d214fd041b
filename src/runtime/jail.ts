/**
 * TrapJail and TrapUnjail: a block of the program's own data or heap made
 * executable (after validation) and writable again.
 *
 * Pipeline position: trap-io.ts dispatches Jail/Unjail to the session's
 * hooks, which call `jailBlock` / `unjailBlock` here; the result goes back
 * in %eax.
 *
 * Source of truth: spec/runtime.md "The trap" (TrapJail / TrapUnjail), as
 * measured on the original ZeroVM 2015. Both check, each -EINVAL: size > 0,
 * the block's address inside the data segment or the heap (the original's
 * "heap" entry of its memory map: from the data segment's start to the
 * heap's end), the address 64 KiB aligned. Jail then validates exactly
 * `size` bytes (-EPERM when they do not validate; the session's policy has
 * the original's region model: an instruction may not run past the block's
 * end, and a long run of trailing hlt is dropped first, spec/validator.md
 * "Bundles") and makes the 4 KiB pages of the block read+execute;
 * Unjail makes them read+write. Both return 0.
 *
 * Deliberate differences (spec/runtime.md, "Where we differ"):
 * - the whole block, rounded up to 4 KiB pages, must lie inside that
 *   range (-EINVAL): the original checked only its start, validated memory
 *   past the heap (crashing on the hole) and made hole pages writable;
 * - the rest of the last 4 KiB page must validate too (-EPERM): the
 *   original made those bytes executable without validating them, which a
 *   program could use to run any code.
 */
import { validate, type ValidationPolicy } from '../validator/validate.js';
import type { CpuFeature } from '../validator/features.js';
import { Protection, type ReadonlyBytes } from './engine.js';
import { Errno } from './trap-io.js';

/** The granule of TrapJail / TrapUnjail protection changes: a host page. */
export const JAIL_PAGE = 0x1000;
const PAGE_64K = 0x10000;

const roundUpPage = (n: number): number => Math.ceil(n / JAIL_PAGE) * JAIL_PAGE;

/** What Jail and Unjail need of the session. */
export interface JailTarget {
  /** Where blocks may be: [start, end). */
  readonly range: { readonly start: number; readonly end: number };
  view(address: number, length: number): ReadonlyBytes;
  /** Changes the protection of whole 4 KiB pages (engine and trap view). */
  protect(address: number, size: number, protection: Protection): void;
  /** The validation policy and CPU features of the session. */
  readonly policy: ValidationPolicy;
  readonly features?: readonly CpuFeature[];
}

function refusal(target: JailTarget, buffer: number, size: number): number | null {
  if (size <= 0) return -Errno.EINVAL;
  if (buffer < target.range.start || buffer >= target.range.end) return -Errno.EINVAL;
  if (buffer % PAGE_64K !== 0) return -Errno.EINVAL;
  if (buffer + roundUpPage(size) > target.range.end) return -Errno.EINVAL;
  return null;
}

/** The validator's own copy of guest bytes (views of guest memory are read-only). */
function copyOf(target: JailTarget, address: number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  bytes.set(target.view(address, length));
  return bytes;
}

/** TrapJail(buffer, size): 0 or -errno. */
export function jailBlock(target: JailTarget, buffer: number, size: number): number {
  const refused = refusal(target, buffer, size);
  if (refused !== null) return refused;
  const options = { base: buffer, policy: target.policy, ...(target.features === undefined ? {} : { features: target.features }) };
  if (!validate(copyOf(target, buffer, size), options).valid) return -Errno.EPERM;
  const span = roundUpPage(size);
  if (span !== size && !validate(copyOf(target, buffer, span), options).valid) return -Errno.EPERM;
  target.protect(buffer, span, Protection.Read | Protection.Execute);
  return 0;
}

/** TrapUnjail(buffer, size): 0 or -errno. */
export function unjailBlock(target: JailTarget, buffer: number, size: number): number {
  const refused = refusal(target, buffer, size);
  if (refused !== null) return refused;
  target.protect(buffer, roundUpPage(size), Protection.Read | Protection.Write);
  return 0;
}
