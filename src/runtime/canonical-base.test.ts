/**
 * Memory as at ZeroVM's base (canonical-base.ts; spec/runtime.md "The
 * sandbox base"): aligned words holding addresses of a sandbox elsewhere
 * are moved to the same sandbox address at 0x440A00000000, and a native
 * session that runs at another base (the usual one is held by another
 * session) reports the memory etag of one at the usual base, and a fault
 * at the address it would have there.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Program } from '../api/index.js';
import { nativeEngine } from '../engines/native.js';
import { canonicalCopy, canonicalWords, ZEROVM_BASE } from './canonical-base.js';
import { Protection } from './engine.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const HELLO = join(ROOT, 'examples', 'hello.nexe');
/** conformance/programs/driver.S: trap records on stdin; 'Call' jumps to an address. */
const DRIVER = join(ROOT, 'conformance', 'programs', 'driver.nexe');
const OTHER = 0x7f1200000000n;

function words(values: readonly bigint[]): Uint8Array {
  const bytes = new Uint8Array(values.length * 8);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => view.setBigUint64(i * 8, v, true));
  return bytes;
}

describe('canonicalWords', () => {
  it('moves aligned words of the sandbox at another base to ZeroVM\'s, and nothing else', () => {
    const given = words([OTHER + 0x20020n, 0x1234n, OTHER + 0xfffffff8n, OTHER - 8n, OTHER + 0x100000000n, ZEROVM_BASE + 5n]);
    const moved = canonicalWords(given, 0x10000, OTHER);
    expect(moved).not.toBe(given);
    expect([...new BigUint64Array(Uint8Array.from(moved).buffer)]).toEqual([ZEROVM_BASE + 0x20020n, 0x1234n, ZEROVM_BASE + 0xfffffff8n, OTHER - 8n, OTHER + 0x100000000n, ZEROVM_BASE + 5n]);
    /* the original bytes are left alone */
    expect(new DataView(given.buffer).getBigUint64(0, true)).toBe(OTHER + 0x20020n);
  });

  it('changes nothing at ZeroVM\'s base, and a copy is always a copy', () => {
    const given = words([ZEROVM_BASE + 1n, OTHER + 1n]);
    expect(canonicalWords(given, 0, ZEROVM_BASE)).toBe(given);
    const copy = canonicalCopy(given, 0, ZEROVM_BASE);
    expect(copy).not.toBe(given);
    expect(copy).toEqual(given);
  });

  it('an unaligned start is refused (the words would be split)', () => {
    expect(() => canonicalWords(words([0n]), 4, OTHER)).toThrow(/not 8-byte aligned/);
  });

  it('property: the addresses of a sandbox at any base become the same sandbox addresses at ZeroVM\'s', () => {
    fc.assert(
      fc.property(fc.array(fc.bigInt({ min: 0n, max: 2n ** 32n - 1n }), { maxLength: 64 }), fc.integer({ min: 1, max: 0x7fff }), (offsets, high) => {
        const base = BigInt(high) << 32n;
        if (base === ZEROVM_BASE) return;
        /* addresses of a sandbox at `base` become those at ZeroVM's */
        expect(canonicalWords(words(offsets.map((o) => base + o)), 0, base)).toEqual(words(offsets.map((o) => ZEROVM_BASE + o)));
      }),
    );
  });
});

describe.skipIf(nativeEngine.unavailableReason() !== null)('the memory etag on the native engine', () => {
  it('is the same whether the session runs at 0x440A00000000 or, while another session holds it, elsewhere', () => {
    const program = Program.load(HELLO, { engine: 'native' });
    const alone = program.runSync({ engine: 'native', etags: true });
    /* a session that holds the usual base: the next one goes elsewhere */
    const holder = nativeEngine.createSession([{ address: 0x20000, size: 0x1000, protection: Protection.Read }]);
    try {
      expect(holder.base).toBe(ZEROVM_BASE);
      const elsewhere = program.runSync({ engine: 'native', etags: true });
      const memory = (etags: readonly { alias: string; digest: string }[]): string | undefined => etags.find((e) => e.alias === '/dev/memory')?.digest;
      expect(memory(alone.etags)).toMatch(/^[0-9a-f]{40}$/);
      expect(memory(elsewhere.etags)).toBe(memory(alone.etags));
      expect(elsewhere.stdout).toEqual(alone.stdout);
    } finally {
      holder.dispose();
    }
  });
});

describe.skipIf(nativeEngine.unavailableReason() !== null)('a fault on the native engine', () => {
  it('names the host address as at 0x440A00000000, wherever the session ran', () => {
    const program = Program.load(DRIVER, { engine: 'native' });
    /* a Call record to 0x60000, where nothing is mapped */
    const call = Buffer.alloc(48);
    call.writeBigUInt64LE(0x6c6c6143n, 0);
    call.writeBigUInt64LE(0x60000n, 16);
    const alone = program.runSync({ engine: 'native', stdin: call });
    expect(alone.exitState).toBe('Signal 11 from untrusted code: Halting at 0x440A00060000');
    const holder = nativeEngine.createSession([{ address: 0x20000, size: 0x1000, protection: Protection.Read }]);
    try {
      expect(holder.base).toBe(ZEROVM_BASE);
      expect(program.runSync({ engine: 'native', stdin: call }).exitState).toBe(alone.exitState);
    } finally {
      holder.dispose();
    }
  });
});
