/**
 * The task format's checks (spec/cluster.md, "Tasks"): what a worker
 * refuses before it fetches or runs anything.
 */
import { describe, expect, it } from 'vitest';
import { decodeLimits, encodeLimits, parseTask, WireFormatError } from './protocol.js';

const BLOB = 'a'.repeat(64);
const task = (over: Record<string, unknown> = {}, node: Record<string, unknown> = {}): string =>
  JSON.stringify({ version: 1, job: 'abc123', group: 0, pipes: [], nodes: [{ name: 'n', program: { blob: BLOB }, ...node }], ...over });

describe('parseTask', () => {
  it('accepts a task whose program is a blob name', () => {
    expect(parseTask(task()).nodes[0]!.program.blob).toBe(BLOB);
  });

  it('accepts small input bytes inline and blob inputs named by hash', () => {
    const parsed = parseTask(task({}, { stdin: { base64: 'aGk=', bytes: true }, channels: [{ alias: '/dev/in', input: { blob: BLOB } }] }));
    expect(parsed.nodes[0]!.stdin).toEqual({ base64: 'aGk=', bytes: true });
  });

  it.each([
    ['not JSON', '{', /not JSON/],
    ['another version', task({ version: 2 }), /not version 1/],
    ['a job id with a path in it', task({ job: '../etc' }), /no valid job id/],
    ['a program given as a host path', task({}, { program: '/bin/sh' }), /not a blob reference/],
    ['a program blob that is not a hash', task({}, { program: { blob: '/etc/passwd' } }), /not a blob reference/],
    ['no nodes', task({ nodes: 'x' }), /group, nodes or pipes missing/],
    ['a replica number out of range', task({ replica: 4 }), /replica must be 1, 2 or 3/],
    ['a claim that is not a key', task({ claim: '../x y' }), /not a key of the claims bucket/],
    ['a stdin blob that is a path', task({}, { stdin: { blob: '../../../etc/passwd' } }), /names '..\/..\/..\/etc\/passwd' as a blob/],
    ['a channel file blob that is a path', task({}, { channels: [{ alias: '/dev/x', file: { blob: '/etc/shadow' }, access: 'read-write' }] }), /names '\/etc\/shadow' as a blob/],
    ['an image blob that is not a string', task({}, { image: { blob: 7 } }), /names '7' as a blob/],
  ])('refuses %s', (_what, text, message) => {
    expect(() => parseTask(text)).toThrow(WireFormatError);
    expect(() => parseTask(text)).toThrow(message);
  });
});

describe('placement and replication fields', () => {
  it('accepts a copy number and a claim key', () => {
    const parsed = parseTask(task({ replica: 2, claim: 'abc123.0.r2.a1' }));
    expect([parsed.replica, parsed.claim]).toEqual([2, 'abc123.0.r2.a1']);
  });
});

describe('limits on the wire', () => {
  it('carries bigint limits as decimal strings and back', () => {
    const limits = { gets: 5, putSize: 1n << 60n };
    const wire = JSON.parse(JSON.stringify(encodeLimits(limits)));
    expect(wire).toEqual({ gets: 5, putSize: String(1n << 60n) });
    expect(decodeLimits(wire)).toEqual(limits);
  });
});
