/**
 * How the copies of a replicated node become one result (spec/cluster.md,
 * "Replication"), and the choices placement makes from a node's plan
 * (spec/cluster.md, "Placement"): pure functions, no NATS.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { JobPlan, NodeResult } from '../jobs/executor.js';
import { checkPlan, JobPlanError } from '../jobs/plan.js';
import { failedNode } from '../jobs/run-node.js';
import { heldBytes, wantedBlobs } from './placement.js';
import { blobPrefix, workerToken, type KnownWorker, type WorkerEntry } from './registry.js';
import { checkReplicatedGroup, readsPipe, settleReplicas, type ReplicaOutcome } from './replicate.js';
import type { WireNode } from './protocol.js';

function ran(ranOn: string, stdout: string, etags: Record<string, string>, name = 'n'): NodeResult {
  const { error: _error, ...rest } = failedNode(name, 'unused', 'unused');
  return { ...rest, ok: true, exitCode: 0, exitState: 'ok', ranOn, outputs: { '/dev/stdout': Buffer.from(stdout) }, etags: Object.entries(etags).map(([alias, digest]) => ({ alias, digest })) };
}

function copy(ranOn: string, stdout: string, etags: Record<string, string>): ReplicaOutcome {
  return { nodes: [ran(ranOn, stdout, etags)], files: new Map() };
}

const lone = [{ name: 'n', readsPipe: false }];

describe('settleReplicas', () => {
  it('gives the first copy when all agree, naming every worker in ranOn', () => {
    const settled = settleReplicas(lone, [copy('w1', 'same', { '/dev/stdout': 'aa', '/dev/memory': 'mm' }), copy('w2', 'same', { '/dev/stdout': 'aa', '/dev/memory': 'mm' })]);
    expect(settled.nodes[0]!.ok).toBe(true);
    expect(settled.nodes[0]!.ranOn).toBe('w1,w2');
    expect(Buffer.from(settled.nodes[0]!.outputs['/dev/stdout']!).toString()).toBe('same');
  });

  it('fails with ReplicaMismatch naming the differing etag and both workers', () => {
    const settled = settleReplicas(lone, [copy('w1', 'same', { '/dev/stdout': 'aa' }), copy('w2', 'same', { '/dev/stdout': 'bb' }), copy('w3', 'same', { '/dev/stdout': 'aa' })]);
    expect(settled.nodes[0]!.ok).toBe(false);
    expect(settled.nodes[0]!.error?.kind).toBe('ReplicaMismatch');
    expect(settled.nodes[0]!.exitState).toContain('etag of /dev/stdout: w1 aa vs w2 bb vs w3 aa');
    expect(settled.files.size).toBe(0);
  });

  it('compares output bytes and files too', () => {
    const a = copy('w1', 'one', {});
    const b = copy('w2', 'two', {});
    expect(settleReplicas(lone, [a, b]).nodes[0]!.error?.kind).toBe('ReplicaMismatch');
    const c = { ...copy('w1', 'x', {}), files: new Map([['/out', Buffer.from('1')]]) };
    const d = { ...copy('w2', 'x', {}), files: new Map([['/out', Buffer.from('2')]]) };
    expect(settleReplicas(lone, [c, d]).nodes[0]!.exitState).toMatch(/file \/out: w1 sha256 \S+ vs w2 sha256 /);
  });

  it('compares the memory etag (the same at any sandbox base), unless the node reads a pipe', () => {
    const differ = [copy('w1', 's', { '/dev/stdout': 'aa', '/dev/memory': '11' }), copy('w2', 's', { '/dev/stdout': 'aa', '/dev/memory': '22' })];
    const settled = settleReplicas(lone, differ);
    expect(settled.nodes[0]!.error?.kind).toBe('ReplicaMismatch');
    expect(settled.nodes[0]!.exitState).toContain('etag of /dev/memory: w1 11 vs w2 22');
    /* a pipe's bytes come in reads cut by timing: the reader's buffers, so its memory, may differ */
    expect(settleReplicas([{ name: 'n', readsPipe: true }], differ).nodes[0]!.ok).toBe(true);
  });

  it('compares every node of a replicated connected group and fails them all on a difference', () => {
    const group = [
      { name: 'src', readsPipe: false },
      { name: 'dst', readsPipe: true },
    ];
    const good = (w: string, memory: string): ReplicaOutcome => ({ nodes: [ran(w, '', { '/dev/memory': 'm1' }, 'src'), ran(w, 'out', { '/dev/stdin': 'ii', '/dev/memory': memory }, 'dst')], files: new Map() });
    const agreed = settleReplicas(group, [good('w1', 'x'), good('w2', 'y')]);
    expect(agreed.nodes.map((n) => [n.name, n.ok, n.ranOn])).toEqual([
      ['src', true, 'w1,w2'],
      ['dst', true, 'w1,w2'],
    ]);
    const bad: ReplicaOutcome = { nodes: [ran('w2', '', { '/dev/memory': 'm1' }, 'src'), ran('w2', 'out', { '/dev/stdin': 'jj', '/dev/memory': 'y' }, 'dst')], files: new Map() };
    const settled = settleReplicas(group, [good('w1', 'x'), bad]);
    expect(settled.nodes.map((n) => n.error?.kind)).toEqual(['ReplicaMismatch', 'ReplicaMismatch']);
    expect(settled.nodes[0]!.exitState).toMatch(/the 2 copies of the connected group 'src', 'dst' \(replicate: 2\) disagree/);
    expect(settled.nodes[0]!.exitState).toContain("node 'dst' etag of /dev/stdin: w1 ii vs w2 jj");
  });

  it('passes on the failure of a copy that could not run', () => {
    const broken = { nodes: [{ ...failedNode('', 'BlobMissing', 'gone'), ranOn: 'w2' }], files: new Map() };
    const settled = settleReplicas(lone, [copy('w1', 's', {}), broken]);
    expect(settled.nodes[0]!.error?.kind).toBe('BlobMissing');
    expect(settled.nodes[0]!.name).toBe('n');
    expect(settled.nodes[0]!.ranOn).toBe('w1,w2');
  });
});

describe('replicating a connected group', () => {
  const plan = (a: 1 | 2 | 3, b: 1 | 2 | 3): JobPlan => ({
    nodes: [
      { name: 'a', program: '/p', stdout: { pipe: 'p' }, replicate: a },
      { name: 'b', program: '/p', stdin: { pipe: 'p' }, replicate: b },
    ],
    pipes: [{ id: 'p', from: 'a', to: 'b' }],
  });
  it('asks the same replicate of every node, and no split', () => {
    expect(() => checkReplicatedGroup(plan(2, 2), [0, 1], 1)).not.toThrow();
    expect(() => checkReplicatedGroup(plan(2, 1), [0, 1], 1)).toThrow(JobPlanError);
    expect(() => checkReplicatedGroup(plan(2, 1), [0, 1], 1)).toThrow(/ask for different replicate values \(a: 2, b: 1\)/);
    expect(() => checkReplicatedGroup(plan(3, 3), [0, 1], 2)).toThrow(/cannot also be split over 2 workers/);
    expect(readsPipe(plan(2, 2).nodes[1]!)).toBe(true);
    expect(readsPipe(plan(2, 2).nodes[0]!)).toBe(false);
  });
});

describe('replicate in a plan', () => {
  const plan = (replicate: number): JobPlan => ({ nodes: [{ name: 'n', program: '/p', replicate: replicate as 1 }] });
  it('is refused by a one-host executor and accepted by a cluster', () => {
    expect(() => checkPlan(plan(2))).toThrow(JobPlanError);
    expect(() => checkPlan(plan(2))).toThrow(/only a cluster executor/);
    expect(checkPlan(plan(3), { replicas: true }).groups).toEqual([[0]]);
    expect(() => checkPlan(plan(4), { replicas: true })).toThrow(/replicate must be 1, 2 or 3/);
  });
});

describe('placement choices', () => {
  const dir = mkdtempSync(join(tmpdir(), 'zerovm-placement-unit-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, size: number): string => {
    const path = join(dir, name);
    writeFileSync(path, Buffer.alloc(size));
    return path;
  };
  const blob = (c: string): { blob: string } => ({ blob: c.repeat(64) });
  const program = file('p.nexe', 100);
  const first = file('first', 1000);
  const second = file('second', 2000);
  const wire: WireNode = { name: 'n', program: blob('a'), stdin: blob('b'), channels: [{ alias: '/dev/input', input: blob('c') }, { alias: '/dev/output', output: 'file' }] };
  const plan = { name: 'n', program, stdin: { file: first }, channels: [{ alias: '/dev/input', input: { file: second } }, { alias: '/dev/output', output: { file: join(dir, 'out') } }] };

  it('wants the program and the first readable object, weighted by size', () => {
    expect(wantedBlobs(plan, wire)).toEqual([
      { prefix: blobPrefix('a'.repeat(64)), bytes: 100 },
      { prefix: blobPrefix('b'.repeat(64)), bytes: 1000 },
    ]);
  });

  it('wants the object attach names instead; nothing more for a writable device', () => {
    expect(wantedBlobs({ ...plan, attach: '/dev/input' }, wire)[1]).toEqual({ prefix: blobPrefix('c'.repeat(64)), bytes: 2000 });
    expect(wantedBlobs({ ...plan, attach: '/dev/output' }, wire)).toHaveLength(1);
  });

  it('never wants an input given as bytes (workers do not cache those)', () => {
    expect(wantedBlobs({ name: 'n', program, stdin: { bytes: new Uint8Array(5) } }, { name: 'n', program: blob('a'), stdin: { ...blob('b'), bytes: true } })).toHaveLength(1);
  });

  it('counts the bytes a worker holds', () => {
    const worker = (blobs: string[]): KnownWorker => ({ entry: {} as WorkerEntry, blobs: new Set(blobs), seenAt: 0 });
    const wanted = wantedBlobs(plan, wire);
    expect(heldBytes(worker([blobPrefix('b'.repeat(64))]), wanted)).toBeGreaterThan(heldBytes(worker([blobPrefix('a'.repeat(64))]), wanted));
    expect(heldBytes(worker([]), wanted)).toBe(0);
  });

  it('names workers by safe, distinct tokens', () => {
    expect(workerToken('host:123')).toMatch(/^host_123-[0-9a-f]{8}$/);
    expect(workerToken('host:123')).not.toBe(workerToken('host_123'));
    expect(workerToken('a.b c*>')).toMatch(/^[A-Za-z0-9_-]+$/);
  });
});
