import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InProcessExecutor, PlanRefusedError } from './in-process.js';
import { JobPlanError } from './plan.js';

const HELLO = join(import.meta.dirname, '..', '..', 'examples', 'hello.nexe');
const CAT = join(import.meta.dirname, '..', '..', 'examples', 'cat.nexe');

describe('InProcessExecutor (--workers 0)', () => {
  it('runs the nodes of a job one after another in this thread', async () => {
    const executor = new InProcessExecutor();
    const result = await executor.run({
      nodes: [
        { name: 'a', program: HELLO },
        { name: 'b', program: CAT, stdin: { bytes: Buffer.from('piped in') } },
        { name: 'c', program: join(HELLO, 'missing') },
      ],
    });
    expect(result.nodes.map((n) => [n.name, n.exitState])).toEqual([
      ['a', 'ok'],
      ['b', 'ok'],
      ['c', expect.stringContaining('cannot read the program')],
    ]);
    expect(Buffer.from(result.nodes[0]!.outputs['/dev/stdout']!).toString()).toBe('hello, world\n');
    expect(Buffer.from(result.nodes[1]!.outputs['/dev/stdout']!).toString()).toBe('piped in');
    expect(result.nodes[2]!.error?.kind).toBe('ProgramReadError');
    expect(result.nodes[0]!.seconds).toBeGreaterThan(0);
    await executor.close();
    await expect(executor.run({ nodes: [{ name: 'a', program: HELLO }] })).rejects.toThrow(JobPlanError);
  });

  it('refuses connected jobs with a message that says to use worker threads, before any node runs', async () => {
    const executor = new InProcessExecutor();
    const plan = {
      nodes: [
        { name: 'a', program: HELLO, stdout: { pipe: 'p' } },
        { name: 'b', program: CAT, stdin: { pipe: 'p' } },
      ],
      pipes: [{ id: 'p', from: 'a', to: 'b' }],
    };
    await expect(executor.run(plan)).rejects.toThrow(PlanRefusedError);
    await expect(executor.run(plan)).rejects.toThrow(/--workers 1 or more/);
    await expect(executor.run({ nodes: [] })).rejects.toThrow(JobPlanError);
    await executor.close();
  });
});
