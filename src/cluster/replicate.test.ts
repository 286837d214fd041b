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
import { settleReplicas } from './replicate.js';
import type { WireNode } from './protocol.js';

function copy(ranOn: string, stdout: string, etags: Record<string, string>): { node: NodeResult; files: Map<string, Uint8Array> } {
  const base = failedNode('n', 'unused', 'unused');
  const { error: _error, ...ran } = base;
  return {
    node: { ...ran, ok: true, exitCode: 0, exitState: 'ok', ranOn, outputs: { '/dev/stdout': Buffer.from(stdout) }, etags: Object.entries(etags).map(([alias, digest]) => ({ alias, digest })) },
    files: new Map(),
  };
}

describe('settleReplicas', () => {
  it('gives the first copy when all agree, naming every worker in ranOn', () => {
    const settled = settleReplicas('n', [copy('w1', 'same', { '/dev/stdout': 'aa' }), copy('w2', 'same', { '/dev/stdout': 'aa' })]);
    expect(settled.node.ok).toBe(true);
    expect(settled.node.ranOn).toBe('w1,w2');
    expect(Buffer.from(settled.node.outputs['/dev/stdout']!).toString()).toBe('same');
  });

  it('fails with ReplicaMismatch naming the differing etag and both workers', () => {
    const settled = settleReplicas('n', [copy('w1', 'same', { '/dev/stdout': 'aa' }), copy('w2', 'same', { '/dev/stdout': 'bb' }), copy('w3', 'same', { '/dev/stdout': 'aa' })]);
    expect(settled.node.ok).toBe(false);
    expect(settled.node.error?.kind).toBe('ReplicaMismatch');
    expect(settled.node.exitState).toContain('etag of /dev/stdout: w1 aa vs w2 bb vs w3 aa');
    expect(settled.files.size).toBe(0);
  });

  it('compares output bytes and files too', () => {
    const a = copy('w1', 'one', {});
    const b = copy('w2', 'two', {});
    expect(settleReplicas('n', [a, b]).node.error?.kind).toBe('ReplicaMismatch');
    const c = { ...copy('w1', 'x', {}), files: new Map([['/out', Buffer.from('1')]]) };
    const d = { ...copy('w2', 'x', {}), files: new Map([['/out', Buffer.from('2')]]) };
    expect(settleReplicas('n', [c, d]).node.exitState).toMatch(/file \/out: w1 sha256 \S+ vs w2 sha256 /);
  });

  it('ignores the memory etag (it depends on the pool thread on the native engine)', () => {
    const settled = settleReplicas('n', [copy('w1', 's', { '/dev/stdout': 'aa', '/dev/memory': '11' }), copy('w2', 's', { '/dev/stdout': 'aa', '/dev/memory': '22' })]);
    expect(settled.node.ok).toBe(true);
  });

  it('passes on the failure of a copy that could not run', () => {
    const broken = { node: { ...failedNode('', 'BlobMissing', 'gone'), ranOn: 'w2' }, files: new Map() };
    const settled = settleReplicas('n', [copy('w1', 's', {}), broken]);
    expect(settled.node.error?.kind).toBe('BlobMissing');
    expect(settled.node.name).toBe('n');
    expect(settled.node.ranOn).toBe('w1,w2');
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
