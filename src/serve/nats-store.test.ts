/**
 * Names of containers in JetStream (spec/cluster.md, "Objects in
 * JetStream"): the registry key is reversible and within KV's alphabet for
 * any Swift names, and bucket names are valid and distinct.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { containerBucket, containerKey } from './nats-store.js';

const swiftName = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 60 }).filter((s) => !s.includes('/') && !s.includes('\0'));

describe('container names in JetStream', () => {
  it('maps any account and container to a KV key that gives both back', () => {
    fc.assert(
      fc.property(swiftName, swiftName, (account, container) => {
        const key = containerKey(account, container);
        expect(key).toMatch(/^[0-9a-f]+\.[0-9a-f]+$/);
        const [a, c] = key.split('.');
        expect(Buffer.from(a!, 'hex').toString('utf8')).toBe(account);
        expect(Buffer.from(c!, 'hex').toString('utf8')).toBe(container);
      }),
    );
  });

  it('gives each container a short bucket name of [A-Za-z0-9_-], different for different names', () => {
    fc.assert(
      fc.property(swiftName, swiftName, swiftName, (account, one, other) => {
        expect(containerBucket(account, one)).toMatch(/^zvc_[0-9a-f]{40}$/);
        if (one !== other) expect(containerBucket(account, one)).not.toBe(containerBucket(account, other));
        /* the separator keeps ('ab','c') apart from ('a','bc') */
        expect(containerBucket(account + one, other)).not.toBe(containerBucket(account, one + other));
      }),
    );
  });
});
