/**
 * The pool's messages: a NodeResult packed in a thread and unpacked in the
 * pool is the same result (every field, the same key order, outputs byte
 * for byte), through a real structured clone as postMessage makes it; a
 * task likewise.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ValidatorState } from '../runtime/report.js';
import type { NodePlan, NodeResult } from './executor.js';
import { createRingPipe } from './ring-pipe.js';
import { tightInputs } from './pool.js';
import { packResult, packTask, unpackResult, unpackTask } from './worker-protocol.js';

const totals = fc.record({ gets: fc.nat(), getBytes: fc.nat(), puts: fc.nat(), putBytes: fc.nat() });

const result: fc.Arbitrary<NodeResult> = fc
  .record({
    name: fc.string(),
    report: fc.string(),
    exitCode: fc.integer({ min: 0, max: 255 }),
    ok: fc.boolean(),
    engine: fc.constantFrom('native', 'unicorn', 'emulator', ''),
    validatorState: fc.constantFrom(ValidatorState.Valid, ValidatorState.Invalid, ValidatorState.NotValidated),
    daemonState: fc.constantFrom(0 as const, 1 as const),
    userReturnCode: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
    etags: fc.array(fc.record({ alias: fc.string(), digest: fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 40, maxLength: 40 }) })),
    accounting: fc.record({ sysSeconds: fc.double({ noNaN: true }), userSeconds: fc.double({ noNaN: true }), local: totals, network: totals }),
    exitState: fc.string(),
    outputs: fc.dictionary(fc.string(), fc.uint8Array({ maxLength: 64 })),
    warm: fc.option(fc.record({ fromSnapshot: fc.boolean(), setUp: fc.boolean(), reason: fc.string() }, { requiredKeys: ['fromSnapshot', 'setUp'] }), { nil: undefined }),
    detail: fc.option(fc.string(), { nil: undefined }),
    error: fc.option(fc.record({ kind: fc.string(), message: fc.string() }), { nil: undefined }),
    seconds: fc.option(fc.double({ min: 0, noNaN: true }), { nil: undefined }),
    ranOn: fc.option(fc.string(), { nil: undefined }),
  })
  /* optional fields are absent, not undefined, as the executors make them */
  .map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)) as unknown as NodeResult);

describe('worker protocol', () => {
  it('a result comes back whole: every field, in the same key order, outputs byte for byte', () => {
    fc.assert(
      fc.property(result, (original) => {
        const back = unpackResult(structuredClone(packResult(original)));
        /* a clone as postMessage makes it: plain prototypes (fast-check's records may have none) */
        expect(back).toStrictEqual(structuredClone(original));
        expect(Object.keys(back)).toEqual(Object.keys(original));
        for (const [alias, bytes] of Object.entries(original.outputs)) expect(Buffer.from(back.outputs[alias]!).equals(Buffer.from(bytes))).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('a task comes across whole, with its pipes or without any', () => {
    const node: NodePlan = { name: 'n', program: '/p.nexe', warm: true, stdin: { bytes: new Uint8Array([1, 2, 3]) }, args: ['a'], env: { K: 'v' } };
    const alone = unpackTask(structuredClone(packTask(7, { node, pipes: {}, writes: [], reads: [] }, [])));
    expect(alone).toStrictEqual({ node, pipes: {}, writes: [], reads: [] });
    const ring = createRingPipe(4096);
    const packed = structuredClone(packTask(8, { node, pipes: { p: ring }, writes: ['p'], reads: [] }, []));
    expect(packed[0]).toBe(8);
    const piped = unpackTask(packed);
    expect(piped.writes).toEqual(['p']);
    expect(piped.reads).toEqual([]);
    expect(Object.keys(piped.pipes)).toEqual(['p']);
  });
});

describe('tightInputs', () => {
  it('sends a byte input that views a small part of a larger buffer as a copy of its own, and leaves the rest alone', () => {
    const pooled = Buffer.from('print(1)');
    expect(pooled.buffer.byteLength).toBeGreaterThan(pooled.byteLength * 2);
    const whole = new Uint8Array([1, 2, 3]);
    const node: NodePlan = { name: 'n', program: '/p', stdin: { bytes: pooled }, channels: [{ alias: '/dev/input', input: { bytes: pooled } }, { alias: '/dev/other', input: { bytes: whole } }, { alias: '/dev/out', output: 'buffer' }] };
    const sent = tightInputs(node);
    const bytesOf = (input: unknown): Uint8Array => (input as { bytes: Uint8Array }).bytes;
    for (const bytes of [bytesOf(sent.stdin), bytesOf((sent.channels![0] as { input: unknown }).input)]) {
      expect(bytes.buffer.byteLength).toBe(pooled.byteLength);
      expect(Buffer.from(bytes).toString()).toBe('print(1)');
    }
    expect(bytesOf((sent.channels![1] as { input: unknown }).input)).toBe(whole);
    expect(sent.channels![2]).toBe(node.channels![2]);
    /* the caller's plan is not changed */
    expect(bytesOf(node.stdin)).toBe(pooled);
    const tight: NodePlan = { name: 'n', program: '/p', stdin: { bytes: whole } };
    expect(tightInputs(tight)).toBe(tight);
  });
});
