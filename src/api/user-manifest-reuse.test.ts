/**
 * A user manifest written a second time for the same program is mapped
 * from a memory image (src/runtime/loader.ts) where the engine makes them:
 * each session must still read its own manifest, whatever the sessions
 * before it had, on a sandbox the last session's leaves behind. The
 * conformance driver (conformance/programs/driver.S) prints the last page
 * below the stack, where the manifest lives (spec/runtime.md "Memory map");
 * sessions with other channels have other manifests.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { engineCases } from '../../test/engine-matrix.js';
import { Program } from './index.js';

const DRIVER = join(import.meta.dirname, '..', '..', 'conformance', 'programs', 'driver.nexe');
const WRITE = 0x74697257n;
const EXIT = 0x74697845n;
const PAGE = 0xfefff000;

/** One 48-byte driver record. */
function rec(fn: bigint, ...args: number[]): Buffer {
  const b = Buffer.alloc(48);
  b.writeBigUInt64LE(fn, 0);
  args.forEach((a, i) => b.writeBigUInt64LE(BigInt(a), 16 + 8 * i));
  return b;
}

for (const c of engineCases('user manifests mapped again')) {
  describe.skipIf(c.skip)(`the user manifest of a session, ${c.name} engine`, () => {
    it('is its own in every session, when sessions with other manifests ran between and the same one ran before', () => {
      const program = Program.load(DRIVER, { engine: c.name });
      const stdin = Buffer.concat([rec(WRITE, 1, PAGE, 0x1000, 0), rec(EXIT, 0)]);
      /* the manifest lists the channels (aliases, types, sizes) */
      const page = (alias: string, bytes: number): Buffer => {
        const outcome = program.runSync({ engine: c.name, stdin, channels: [{ alias, input: Buffer.alloc(bytes, 0x61) }] });
        expect(outcome.exitState).toBe('ok');
        return outcome.stdout.subarray(0, 0x1000);
      };
      const a = page('/dev/alpha', 10);
      const b = page('/dev/beta-with-a-longer-name', 12345);
      expect(a.includes('/dev/alpha')).toBe(true);
      expect(b.includes('/dev/beta-with-a-longer-name')).toBe(true);
      for (let round = 0; round < 3; round++) {
        expect(page('/dev/alpha', 10)).toEqual(a);
        expect(page('/dev/beta-with-a-longer-name', 12345)).toEqual(b);
        expect(page('/dev/alpha', 10)).toEqual(a);
      }
    });
  });
}
