/**
 * Warm starts through the embedding API (Program.fork, WarmStart.run) on
 * both engines, with the conformance driver (conformance/programs/driver.S:
 * a script of trap records on stdin, each result printed on stdout): the
 * set-up session ends at TrapFork with daemon state 1; each request resumes
 * there (TrapFork returns 0) with its own channels, the sequential
 * positions carried over, the memory, jailed code and registers of the
 * snapshot, and nothing of an earlier request.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { engineCases } from '../../test/engine-matrix.js';
import { NoForkError, Program, WarmStartMismatchError } from './index.js';

const DRIVER = join(import.meta.dirname, '..', '..', 'conformance', 'programs', 'driver.nexe');
const FN = { Read: 0x64616552n, Write: 0x74697257n, Jail: 0x6c69614an, Exit: 0x74697845n, Fork: 0x6b726f46n, Call: 0x6c6c6143n } as const;
const HEAP = 0x40000;
/** mov $42, %eax, then NaCl's return (pop, mask, add base, jmp), hlt after. */
const RETURN_42 = Buffer.concat([Buffer.from('b82a000000415b4183e3e04d01fb41ffe3', 'hex'), Buffer.alloc(65536 - 17, 0xf4)]);
/** Channel 3 (after the standard ones, aliases sorted): /dev/code. */
const CODE = 3;

/** One 48-byte driver record. */
function rec(fn: keyof typeof FN, ...args: (number | bigint)[]): Buffer {
  const b = Buffer.alloc(48);
  b.writeBigUInt64LE(FN[fn], 0);
  args.forEach((a, i) => b.writeBigUInt64LE(BigInt.asUintN(64, BigInt(a)), 16 + 8 * i));
  return b;
}
const script = (...records: Buffer[]): Buffer => Buffer.concat(records);
/** Bytes a request's stdin skips: the set-up read that many (the read position carries over). */
const skip = (records: number): Buffer => Buffer.alloc(48 * records, 0x51);

for (const c of engineCases('warm starts (embedding API)')) {
  describe.skipIf(c.skip)(`Program.fork and WarmStart.run, ${c.name} engine`, () => {
    const program = Program.load(DRIVER, { engine: c.name });
    const code = { alias: '/dev/code', input: RETURN_42 };

    it('the set-up ends at TrapFork as a daemon (state 1, code 0, "ok"); each request resumes with TrapFork = 0 and its own channels', async () => {
      const warm = await program.fork({ stdin: script(rec('Write', 1, 0x20000, 5, 0), rec('Fork')), channels: [code] });
      expect(warm.engine).toBe(c.name);
      expect(warm.setup).toMatchObject({ daemonState: 1, userReturnCode: 0, exitState: 'ok', exitCode: 0 });
      expect(warm.setup.stdout.subarray(5).toString()).toBe('5\n');
      for (const exit of [3, 9]) {
        const outcome = await warm.run({ stdin: script(skip(2), rec('Exit', exit)), channels: [code] });
        expect(outcome).toMatchObject({ daemonState: 0, userReturnCode: exit, exitState: 'ok' });
        /* stdout goes on at the set-up's write position (7 bytes), stdin at its read position */
        expect(outcome.stdout).toEqual(Buffer.concat([Buffer.alloc(7), Buffer.from('0\n')]));
        expect(outcome.accounting.local.gets).toBe(1);
      }
    });

    it('a request sees the snapshot, never an earlier request: memory written by one is zero again in the next', () => {
      const warm = program.forkSync({ stdin: script(rec('Fork')), channels: [code] });
      const first = warm.runSync({ stdin: script(skip(1), rec('Read', CODE, HEAP, 8, 0), rec('Write', 1, HEAP, 8, 0)), channels: [code] });
      expect(first.stdout.toString('latin1')).toBe(`0\n8\n${RETURN_42.subarray(0, 8).toString('latin1')}8\n`);
      const second = warm.runSync({ stdin: script(skip(1), rec('Write', 1, HEAP, 8, 0)), channels: [code] });
      expect(second.stdout.toString('latin1')).toBe(`0\n${'\0'.repeat(8)}8\n`);
    });

    it('code jailed before the fork runs in every request, and stays read-only to the trap', async () => {
      const warm = await program.fork({ stdin: script(rec('Read', CODE, HEAP, 65536, 0), rec('Jail', HEAP, 65536), rec('Fork')), channels: [code] });
      expect(warm.setup.stdout.toString()).toBe('65536\n0\n');
      for (let i = 0; i < 2; i++) {
        const outcome = await warm.run({ stdin: script(skip(3), rec('Call', HEAP), rec('Write', 1, HEAP, 5, 0), rec('Read', CODE, HEAP, 1, 0)), channels: [code] });
        expect(outcome.stdout.toString('latin1')).toBe(`${'\0'.repeat(8)}0\n42\n${RETURN_42.subarray(0, 5).toString('latin1')}5\n-22\n`);
      }
    });

    it("a request's accounting counts the CPU time it used: a spin of tens of milliseconds reports it, a short request reports none", () => {
      /* mov $N, %ecx; 1: dec %ecx; jnz 1b; then RETURN_42's code (26 bytes: one bundle) */
      /* about 100 ms on either engine here (one iteration a cycle natively) */
      const iterations = c.name === 'native' ? 300_000_000 : 15_000_000;
      const spin = Buffer.alloc(65536, 0xf4);
      Buffer.concat([Buffer.from([0xb9]), Buffer.from(Uint32Array.of(iterations).buffer), Buffer.from('ffc975fc', 'hex'), RETURN_42.subarray(0, 17)]).copy(spin);
      const spinCode = { alias: '/dev/code', input: spin };
      const warm = program.forkSync({ stdin: script(rec('Read', CODE, HEAP, 65536, 0), rec('Jail', HEAP, 65536), rec('Fork')), channels: [spinCode] });
      expect(warm.setup.stdout.toString()).toBe('65536\n0\n');
      const started = performance.now();
      const long = warm.runSync({ stdin: script(skip(3), rec('Call', HEAP)), channels: [spinCode] });
      const ms = performance.now() - started;
      expect(long.stdout.toString('latin1')).toBe(`${'\0'.repeat(8)}0\n42\n`);
      /* whole 1/100 s ticks: a spin of 30 ms or more shows (a host fast enough to spin in less skips the check) */
      if (ms >= 30) expect(long.accounting.userSeconds + long.accounting.sysSeconds).toBeGreaterThan(0);
    });

    it('without TrapFork there is nothing to start from: NoForkError with the outcome', async () => {
      const failure = await program.fork({ stdin: script(rec('Exit', 4)) }).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(NoForkError);
      expect((failure as NoForkError<{ userReturnCode: number }>).outcome.userReturnCode).toBe(4);
    });

    it('a request whose channels differ from the set-up\'s is refused: WarmStartMismatchError', async () => {
      const warm = await program.fork({ stdin: script(rec('Fork')), channels: [code] });
      await expect(warm.run({ stdin: script(skip(1)) })).rejects.toBeInstanceOf(WarmStartMismatchError);
      await expect(warm.run({ stdin: script(skip(1)), channels: [{ ...code, limits: { gets: 5 } }] })).rejects.toThrow(/difference in \/dev\/code/);
    });
  });
}
