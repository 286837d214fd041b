/**
 * The warm-start shelf of a thread (spec/serving.md, "Warm starts") without
 * the toolchain: the set-up key holds every set-up input and none of a
 * request's own (contents, timeout), and a program that never calls
 * TrapFork (examples/hello.nexe) runs cold with its verdict kept. The
 * C and Lua programs that do fork are in test/jobs-warm.test.ts.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { engineCases } from '../../test/engine-matrix.js';
import { Program } from '../api/index.js';
import type { NodePlan } from './executor.js';
import { WarmShelf, warmKey } from './warm-shelf.js';

const HELLO = join(import.meta.dirname, '..', '..', 'examples', 'hello.nexe');
const CAT = join(import.meta.dirname, '..', '..', 'examples', 'cat.nexe');
/** Trap records from stdin (conformance/programs/driver.S): it holds TrapFork's word, and with no input ends without forking. */
const DRIVER = join(import.meta.dirname, '..', '..', 'conformance', 'programs', 'driver.nexe');

describe('warmKey', () => {
  const hello = Program.load(HELLO, { engine: 'unicorn' });
  const base: NodePlan = { name: 'a', program: HELLO, args: ['x'], env: { A: '1', B: '2' }, stdin: { bytes: Buffer.from('one') } };
  const key = (node: Partial<NodePlan>, program = hello): string => warmKey({ ...base, ...node }, program);

  it("leaves out what is the request's own: input contents, output files, timeout, name", () => {
    expect(key({ stdin: { bytes: Buffer.from('two') }, timeout: 3, name: 'b' })).toBe(key({}));
    expect(key({ stdout: { file: '/tmp/a' } })).toBe(key({ stdout: { file: '/tmp/b' } }));
    expect(key({ env: { B: '2', A: '1' } })).toBe(key({}));
  });

  it('holds every set-up input: program, engine, image, argv0, args, env, memory, etags, channel kinds and limits', () => {
    const variants: Partial<NodePlan>[] = [
      { args: ['y'] },
      { args: [] },
      { env: { A: '1' } },
      { argv0: 'other' },
      { memory: 32 << 20 },
      { engine: 'native' },
      { etags: true },
      { image: HELLO },
      { stdin: { file: '/dev/null' } },
      { stdin: { pipe: 'p' } },
      { stdout: 'discard' },
      { stdout: { pipe: 'p' } },
      { channelLimits: { '/dev/stdout': { putSize: 10 } } },
      { channels: [{ alias: '/dev/input', input: { bytes: new Uint8Array(0) } }] },
      { channels: [{ alias: '/dev/input', input: { bytes: new Uint8Array(0) }, limits: { gets: 2n } }] },
    ];
    const keys = new Set([key({}), ...variants.map((v) => key(v))]);
    expect(keys.size).toBe(variants.length + 1);
    expect(key({}, Program.load(CAT, { engine: 'unicorn' }))).not.toBe(key({}));
  });
});

for (const c of engineCases('warm-start shelf')) {
  describe.skipIf(c.skip)(`WarmShelf, ${c.name} engine`, () => {
    it('a program whose bytes never hold TrapFork\'s word runs cold without a set-up', () => {
      const shelf = new WarmShelf();
      const program = Program.load(HELLO, { engine: c.name });
      expect(program.mayFork).toBe(false);
      const node: NodePlan = { name: 'h', program: HELLO, engine: c.name, warm: true };
      const first = shelf.run(program, node, { engine: c.name });
      expect(first.outcome.stdout.toString()).toBe('hello, world\n');
      expect(first.warm).toMatchObject({ fromSnapshot: false, setUp: false, reason: expect.stringMatching(/cannot fork/) });
      expect(shelf.setUps).toBe(0);
    });

    it('a program that may fork but does not call TrapFork in its set-up runs cold; the verdict is kept, so the set-up runs once', () => {
      const shelf = new WarmShelf();
      const program = Program.load(DRIVER, { engine: c.name });
      expect(program.mayFork).toBe(true);
      const node: NodePlan = { name: 'h', program: DRIVER, engine: c.name, warm: true };
      const first = shelf.run(program, node, { engine: c.name });
      const second = shelf.run(program, node, { engine: c.name });
      expect(first.outcome.stdout.toString()).toBe(program.runSync({ engine: c.name }).stdout.toString());
      expect(first.warm).toMatchObject({ fromSnapshot: false, setUp: true, reason: expect.stringMatching(/did not call TrapFork/) });
      expect(second.warm).toMatchObject({ fromSnapshot: false, setUp: false });
      expect(shelf.setUps).toBe(1);
      expect(shelf.held).toEqual({ snapshots: 0, bytes: 0 });
    });

    it("shelves of one share name (a pool's threads) take what another learnt: the set-up runs once among them", () => {
      const name = `warm-shelf-test-${c.name}-${process.pid}`;
      const [one, two, other] = [new WarmShelf({ share: name }), new WarmShelf({ share: name }), new WarmShelf({ share: `${name}-other` })];
      try {
        const program = Program.load(DRIVER, { engine: c.name });
        const node: NodePlan = { name: 'h', program: DRIVER, engine: c.name, warm: true };
        expect(one.run(program, node, { engine: c.name }).warm).toMatchObject({ setUp: true });
        expect(two.run(program, node, { engine: c.name }).warm).toMatchObject({ fromSnapshot: false, setUp: false, reason: expect.stringMatching(/did not call TrapFork/) });
        expect([one.setUps, two.setUps, two.adopted]).toEqual([1, 0, 1]);
        /* another name learns nothing from them */
        expect(other.run(program, node, { engine: c.name }).warm).toMatchObject({ setUp: true });
      } finally {
        for (const shelf of [one, two, other]) shelf.close();
      }
    });
  });
}
