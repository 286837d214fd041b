/**
 * WorkerPoolExecutor on real programs, real engines and real threads:
 * concurrent nodes, pipelines, backpressure, deadlocks ending by their
 * timeouts, faults and loops ending only their node, threads that die,
 * reuse over many jobs, cancelled jobs and plans that cannot run.
 */
import { getEventListeners } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { availabilityTests, engineCases } from '../../test/engine-matrix.js';
import { buildNexe } from '../../test/nexe-builder.js';
import type { JobPlan, NodePlan, NodeResult } from './executor.js';
import { JobPlanError } from './plan.js';
import { WorkerPoolExecutor } from './pool.js';

const ROOT = join(import.meta.dirname, '..', '..');
const HELLO = join(ROOT, 'examples', 'hello.nexe');
const CAT = join(ROOT, 'examples', 'cat.nexe');
const WC = join(ROOT, 'examples', 'wc.nexe');
const tmp = mkdtempSync(join(tmpdir(), 'zerovm-jobs-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
/** jmp . : runs until its time is up. */
const LOOP = join(tmp, 'loop.nexe');
writeFileSync(LOOP, buildNexe('ebfe'));
/** hlt: a privileged instruction, a fault in untrusted code. */
const FAULT = join(tmp, 'fault.nexe');
writeFileSync(FAULT, buildNexe('f4'));

const engines = engineCases('job executor tests');
availabilityTests(engines);

const text = (result: NodeResult, alias = '/dev/stdout'): string => Buffer.from(result.outputs[alias] ?? new Uint8Array(0)).toString();

/** A chain of nodes, each one's stdout piped to the next one's stdin. */
function pipeline(nodes: readonly Omit<NodePlan, 'stdin' | 'stdout'>[], ends: { stdin?: NodePlan['stdin']; stdout?: NodePlan['stdout'] } = {}): JobPlan {
  return {
    nodes: nodes.map((node, i) => ({
      ...node,
      ...(i > 0 ? { stdin: { pipe: `p${i}` } } : ends.stdin === undefined ? {} : { stdin: ends.stdin }),
      ...(i < nodes.length - 1 ? { stdout: { pipe: `p${i + 1}` } } : ends.stdout === undefined ? {} : { stdout: ends.stdout }),
    })),
    pipes: nodes.slice(1).map((node, i) => ({ id: `p${i + 1}`, from: nodes[i]!.name, to: node.name })),
  };
}

describe.each(engines)('WorkerPoolExecutor on the $name engine', ({ name: engine, skip }) => {
  let pool: WorkerPoolExecutor;
  beforeAll(async () => {
    pool = new WorkerPoolExecutor({ workers: 2, pipeCapacity: 4096 });
    if (!skip) await pool.warm();
  });
  afterAll(() => pool.close());

  it.skipIf(skip)('runs the nodes of a job at the same time on separate threads, each its own session', async () => {
    const plan: JobPlan = { nodes: ['a', 'b', 'c'].map((name) => ({ name, program: CAT, engine, stdin: { bytes: Buffer.from(`input of ${name}\n`) } })) };
    const result = await pool.run(plan);
    expect(result.nodes.map((n) => [n.name, n.exitState, n.ok, text(n)])).toEqual([
      ['a', 'ok', true, 'input of a\n'],
      ['b', 'ok', true, 'input of b\n'],
      ['c', 'ok', true, 'input of c\n'],
    ]);
    expect(result.nodes.every((n) => n.engine === engine)).toBe(true);
    expect(result.nodes[0]!.report).toMatch(/^0\n0\n0\n/);
  });

  it.skipIf(skip)('caps a standard output with channelLimits (a flood fills no more than its limit)', async () => {
    const result = await pool.run({ nodes: [{ name: 'cat', program: CAT, engine, stdin: { bytes: Buffer.alloc(100_000, 0x61) }, channelLimits: { '/dev/stdout': { putSize: 1000 } } }] });
    expect(result.nodes[0]!.outputs['/dev/stdout']!.length).toBe(1000);
    /* cat exits 1: its write was cut short */
    expect(result.nodes[0]!.userReturnCode).toBe(1);
  });

  it.skipIf(skip)('connects a 2-stage pipeline: hello | wc', async () => {
    const result = await pool.run(pipeline([{ name: 'hello', program: HELLO, engine }, { name: 'wc', program: WC, engine }]));
    expect(result.nodes.map((n) => n.exitState)).toEqual(['ok', 'ok']);
    expect(text(result.nodes[1]!)).toBe('1 13\n');
  });

  it.skipIf(skip)('connects a 3-stage pipeline: hello | cat | cat, with a thread beyond the pool for the third node', async () => {
    const result = await pool.run(pipeline([{ name: 'hello', program: HELLO, engine }, { name: 'cat-1', program: CAT, engine }, { name: 'cat-2', program: CAT, engine }]));
    expect(result.nodes.map((n) => n.exitState)).toEqual(['ok', 'ok', 'ok']);
    expect(text(result.nodes[2]!)).toBe('hello, world\n');
    /* the pipe's ends are sequential channels: the bytes moved are in the accounting */
    expect(result.nodes[0]!.accounting.local.putBytes).toBe(13);
    expect(result.nodes[2]!.accounting.local.getBytes).toBe(13);
  });

  it.skipIf(skip)('keeps an extra thread for the next large group a while, then ends it', async () => {
    const small = new WorkerPoolExecutor({ workers: 1, extraIdleMs: 400 });
    try {
      const job = pipeline([{ name: 'hello', program: HELLO, engine }, { name: 'wc', program: WC, engine }]);
      expect(text((await small.run(job)).nodes[1]!)).toBe('1 13\n');
      expect(small.threadCount).toBe(2);
      expect(text((await small.run(job)).nodes[1]!)).toBe('1 13\n');
      expect(small.threadCount).toBe(2);
      await new Promise((resolveLater) => setTimeout(resolveLater, 1000));
      expect(small.threadCount).toBe(1);
    } finally {
      await small.close();
    }
  });

  it.skipIf(skip)('moves 10 MB through a 4 KiB ring: the writer waits for the reader, nothing is lost', async () => {
    const input = Buffer.alloc(10 * 1024 * 1024);
    for (let i = 0; i < input.length; i++) input[i] = i % 251 === 0 ? 10 : 97 + (i % 26);
    const lines = input.filter((b) => b === 10).length;
    const result = await pool.run(pipeline([{ name: 'cat', program: CAT, engine }, { name: 'wc', program: WC, engine }], { stdin: { bytes: input } }));
    expect(result.nodes.map((n) => n.exitState)).toEqual(['ok', 'ok']);
    expect(text(result.nodes[1]!)).toBe(`${lines} ${input.length}\n`);
    expect(result.nodes[0]!.accounting.local.putBytes).toBe(input.length);
  });

  it.skipIf(skip)('holds a writer whose reader does not read to the ring\'s size: it ends by its timeout, waiting for room', async () => {
    const started = Date.now();
    const result = await pool.run({
      nodes: [
        { name: 'writer', program: CAT, engine, timeout: 1, stdin: { bytes: Buffer.alloc(1024 * 1024, 0x61) }, stdout: { pipe: 'p' } },
        { name: 'sleeper', program: LOOP, engine, timeout: 2, stdin: { pipe: 'p' } },
      ],
      pipes: [{ id: 'p', from: 'writer', to: 'sleeper' }],
    });
    const [writer, sleeper] = result.nodes;
    expect(writer!.exitState).toBe('session timeout');
    expect(writer!.detail).toBe("timed out while waiting for room on /dev/stdout (pipe 'p')");
    /* what went into the ring: its 4096 bytes, no more */
    expect(writer!.accounting.local.putBytes).toBe(4096);
    expect(sleeper!.exitState).toBe('session timeout');
    expect(Date.now() - started).toBeLessThan(6000);
  });

  it.skipIf(skip)('a deadlock (two nodes each reading the other first) ends by the timeouts, with a clear status', async () => {
    const started = Date.now();
    const result = await pool.run({
      nodes: [
        { name: 'a', program: CAT, engine, timeout: 1, stdin: { pipe: 'b-to-a' }, stdout: { pipe: 'a-to-b' } },
        { name: 'b', program: CAT, engine, timeout: 3, stdin: { pipe: 'a-to-b' }, stdout: { pipe: 'b-to-a' } },
      ],
      pipes: [
        { id: 'a-to-b', from: 'a', to: 'b' },
        { id: 'b-to-a', from: 'b', to: 'a' },
      ],
    });
    const [a, b] = result.nodes;
    expect(a!.exitState).toBe('session timeout');
    expect(a!.exitCode).toBe(4);
    expect(a!.detail).toBe("timed out while waiting for data on /dev/stdin (pipe 'b-to-a')");
    /* a's end closed its pipes: b read the end of its input and finished before its own timeout */
    expect(b!.exitState).toBe('ok');
    expect(Date.now() - started).toBeLessThan(2900);
  });

  it.skipIf(skip)('a writer whose reader has ended gets a broken pipe (-EPIPE), not a wait', async () => {
    const result = await pool.run({
      nodes: [
        { name: 'writer', program: CAT, engine, timeout: 20, stdin: { bytes: Buffer.alloc(1024 * 1024, 0x61) }, stdout: { pipe: 'p' } },
        { name: 'hello', program: HELLO, engine, stdin: { pipe: 'p' } },
      ],
      pipes: [{ id: 'p', from: 'writer', to: 'hello' }],
    });
    const [writer, hello] = result.nodes;
    expect(hello!.exitState).toBe('ok');
    /* cat exits 1 when a write does not write its bytes */
    expect(writer!.exitState).toBe('ok');
    expect(writer!.userReturnCode).toBe(1);
    expect(writer!.accounting.local.putBytes).toBeLessThanOrEqual(4096);
  });

  it.skipIf(skip)('a fault and an endless loop end only their own nodes; the threads serve the next job', async () => {
    const result = await pool.run({
      nodes: [
        { name: 'fault', program: FAULT, engine },
        { name: 'loop', program: LOOP, engine, timeout: 1 },
        { name: 'hello', program: HELLO, engine },
      ],
    });
    const [fault, loop, hello] = result.nodes;
    expect(fault!.exitState).toMatch(/^Signal \d+ from untrusted code/);
    expect(fault!.exitCode).toBe(4);
    expect(loop!.exitState).toBe('session timeout');
    expect(loop!.detail).toBeUndefined();
    expect(text(hello!)).toBe('hello, world\n');
    const deaths = pool.threadDeaths;
    /* two endless loops time out at once, one on each thread (one watchdog per session) */
    const started = Date.now();
    const both = await pool.run({ nodes: ['x', 'y'].map((name) => ({ name, program: LOOP, engine, timeout: 1 })) });
    expect(both.nodes.map((n) => n.exitState)).toEqual(['session timeout', 'session timeout']);
    /* at the same time: one after the other would take two seconds */
    expect(Date.now() - started).toBeLessThan(1900);
    const after = await pool.run({ nodes: ['p', 'q'].map((name) => ({ name, program: HELLO, engine })) });
    expect(after.nodes.map((n) => text(n))).toEqual(['hello, world\n', 'hello, world\n']);
    expect(pool.threadDeaths).toBe(deaths);
  });

  it.skipIf(skip)('a program that cannot start is that node\'s error; the job\'s other nodes run', async () => {
    const result = await pool.run({ nodes: [{ name: 'missing', program: join(tmp, 'nothing.nexe'), engine }, { name: 'hello', program: HELLO, engine }] });
    expect(result.nodes[0]!.ok).toBe(false);
    expect(result.nodes[0]!.error).toEqual({ kind: 'ProgramReadError', message: `cannot read the program ${join(tmp, 'nothing.nexe')}: no such file` });
    expect(result.nodes[0]!.exitCode).toBe(2);
    expect(result.nodes[1]!.exitState).toBe('ok');
    const unsafe = await pool.run({ nodes: [{ name: 'unsafe', program: join(ROOT, 'examples', 'unsafe.nexe'), engine }] });
    expect(unsafe.nodes[0]!.error?.kind).toBe('ValidationFailedError');
    expect(unsafe.nodes[0]!.exitCode).toBe(8);
    expect(unsafe.nodes[0]!.validatorState).toBe(1);
  });

  it.skipIf(skip)('serves many jobs with the same threads, and validates a program once for all of them', async () => {
    const fresh = new WorkerPoolExecutor({ workers: 2 });
    try {
      const first = await fresh.run({ nodes: [{ name: 'one', program: HELLO, engine }] });
      expect(first.nodes[0]!.exitState).toBe('ok');
      const jobs = Array.from({ length: 60 }, (_, j) => fresh.run({ nodes: [{ name: `a${j}`, program: HELLO, engine }, { name: `b${j}`, program: CAT, engine, stdin: { bytes: Buffer.from(`job ${j}`) } }] }));
      const results = await Promise.all(jobs);
      results.forEach((r, j) => {
        expect(text(r.nodes[0]!)).toBe('hello, world\n');
        expect(text(r.nodes[1]!)).toBe(`job ${j}`);
      });
      expect(fresh.threadCount).toBe(2);
      /* hello once (the second thread was handed the first one's verdict), cat at most once per thread */
      expect(fresh.validations).toBeLessThanOrEqual(3);
    } finally {
      await fresh.close();
    }
  });

  it.skipIf(skip)('loads a program again when its file changes', async () => {
    const path = join(tmp, `changing-${engine}.nexe`);
    writeFileSync(path, readFileSync(HELLO));
    const single = new WorkerPoolExecutor({ workers: 1 });
    try {
      const node = { name: 'n', program: path, engine, stdin: { bytes: Buffer.from('from stdin') } };
      expect(text((await single.run({ nodes: [node] })).nodes[0]!)).toBe('hello, world\n');
      writeFileSync(path, readFileSync(CAT));
      expect(text((await single.run({ nodes: [node] })).nodes[0]!)).toBe('from stdin');
    } finally {
      await single.close();
    }
  });

  it.skipIf(skip)('a cancelled job ends at once: its nodes say so, the pool goes on', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const running = pool.run({ nodes: [{ name: 'loop', program: LOOP, engine, timeout: 30 }] }, { signal: controller.signal });
    setTimeout(() => controller.abort(), 200);
    const result = await running;
    expect(result.nodes[0]!.error?.kind).toBe('Aborted');
    expect(Date.now() - started).toBeLessThan(5000);
    const after = await pool.run({ nodes: [{ name: 'hello', program: HELLO, engine }] });
    expect(text(after.nodes[0]!)).toBe('hello, world\n');
    /* a signal already aborted: nothing starts */
    const early = await pool.run({ nodes: [{ name: 'never', program: HELLO, engine }] }, { signal: AbortSignal.abort() });
    expect(early.nodes[0]!.error).toEqual({ kind: 'Aborted', message: 'the job was cancelled' });
    /* one signal for many jobs (a server's shutdown): each finished job lets go of it */
    const shared = new AbortController();
    await Promise.all(Array.from({ length: 10 }, (_, i) => pool.run({ nodes: [{ name: `n${i}`, program: HELLO, engine }] }, { signal: shared.signal })));
    expect(getEventListeners(shared.signal, 'abort')).toHaveLength(0);
  });
});

describe.runIf(engines.some((e) => !e.skip))('WorkerPoolExecutor: a thread that dies', () => {
  it('is replaced; its node says so, its pipe peers end, the next job runs', async () => {
    const engine = engines.find((e) => !e.skip)!.name;
    /* a JavaScript heap too small for the node's message: the thread dies taking it */
    const pool = new WorkerPoolExecutor({ workers: 1, resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 } });
    try {
      const big = 'x'.repeat(8 * 1024 * 1024);
      const env = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`V${i}`, big + i]));
      const result = await pool.run({
        nodes: [
          { name: 'heavy', program: HELLO, engine, env, stdout: { pipe: 'p' } },
          { name: 'reader', program: CAT, engine, timeout: 20, stdin: { pipe: 'p' } },
        ],
        pipes: [{ id: 'p', from: 'heavy', to: 'reader' }],
      });
      expect(result.nodes[0]!.error?.kind).toBe('WorkerDied');
      expect(result.nodes[0]!.error?.message).toMatch(/the pool replaced the thread/);
      /* the dead node's pipe was closed for it: the reader saw the end of its input */
      expect(result.nodes[1]!.exitState).toBe('ok');
      expect(pool.threadDeaths).toBe(1);
      const after = await pool.run({ nodes: [{ name: 'hello', program: HELLO, engine }] });
      expect(text(after.nodes[0]!)).toBe('hello, world\n');
    } finally {
      await pool.close();
    }
  });
});

describe('WorkerPoolExecutor: plans that cannot run', () => {
  const pool = new WorkerPoolExecutor({ workers: 1, maxThreads: 2 });
  afterAll(() => pool.close());

  it('refuses a group of connected nodes larger than maxThreads, saying what to change', async () => {
    const run = pool.run(pipeline(['a', 'b', 'c'].map((name) => ({ name, program: CAT }))));
    await expect(run).rejects.toThrow(JobPlanError);
    await expect(run).rejects.toThrow(/connects 3 nodes .* at most 2 sessions at once \(maxThreads\)/);
    expect(pool.threadCount).toBe(0);
  });

  it('refuses a job whose pipes would take more ring memory than maxPipeMemory', async () => {
    const tight = new WorkerPoolExecutor({ workers: 1, maxThreads: 64, pipeCapacity: 4096, maxPipeMemory: 8192 });
    const run = tight.run(pipeline(['a', 'b', 'c', 'd'].map((name) => ({ name, program: CAT }))));
    await expect(run).rejects.toThrow(/the job has 3 pipes, whose rings need 12288 bytes, more than this executor gives one job \(maxPipeMemory 8192\)/);
    await tight.close();
  });

  it('refuses pipes that do not match the nodes\' channels', async () => {
    await expect(pool.run({ nodes: [] })).rejects.toThrow(/no nodes/);
    await expect(pool.run({ nodes: [{ name: 'a', program: CAT }, { name: 'a', program: CAT }] })).rejects.toThrow(/two nodes are named 'a'/);
    await expect(pool.run({ nodes: [{ name: 'a', program: CAT, stdout: { pipe: 'x' } }] })).rejects.toThrow(/uses pipe 'x', which the job's pipes do not list/);
    await expect(pool.run({ nodes: [{ name: 'a', program: CAT }, { name: 'b', program: CAT }], pipes: [{ id: 'p', from: 'a', to: 'b' }] })).rejects.toThrow(/node 'a' has no channel that writes it/);
    await expect(pool.run({ nodes: [{ name: 'a', program: CAT, stdin: { pipe: 'p' } }, { name: 'b', program: CAT, stdout: { pipe: 'p' } }], pipes: [{ id: 'p', from: 'a', to: 'b' }] })).rejects.toThrow(/goes from 'a' to 'b', but node 'a' reads it/);
    await expect(pool.run({ nodes: [{ name: 'a', program: CAT, stdout: { pipe: 'p' }, stderr: { pipe: 'p' } }, { name: 'b', program: CAT, stdin: { pipe: 'p' } }], pipes: [{ id: 'p', from: 'a', to: 'b' }] })).rejects.toThrow(/written by two channels/);
  });

  it('refuses options it cannot honour', () => {
    expect(() => new WorkerPoolExecutor({ workers: 0 })).toThrow(/workers must be a whole number of at least 1/);
    expect(() => new WorkerPoolExecutor({ workers: 4, maxThreads: 2 })).toThrow(/maxThreads must be a whole number of at least workers/);
    expect(() => new WorkerPoolExecutor({ pipeCapacity: 1000 })).toThrow(/power of two/);
  });
});
