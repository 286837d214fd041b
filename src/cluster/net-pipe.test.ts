/**
 * Pipes between workers without NATS (net-pipe.ts): a listener and a sender
 * in this process on 127.0.0.1, each end of each ring served the way a
 * session would use it, but without blocking (deadline 0, RingPort waits),
 * since a test's thread is an event loop. Every byte arrives in order
 * whatever the write sizes; a reader that closes early gives the writer a
 * broken pipe and both sides a clean ending; a writer whose connection
 * breaks in the middle of a frame gives the reader the end of data and an
 * ending that says the writer was lost; tokens are one-time. Over TLS
 * (certificates made by openssl at start): bytes flow between workers of
 * one CA; another CA's certificate, a certificate for another host and
 * plain TCP are refused; a worker with TLS never sends in clear.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { createRingPipe, RingPipeReader, RingPipeWriter, RingPort, type RingPipeState } from '../jobs/ring-pipe.js';
import { BROKEN_PIPE } from '../runtime/channels/index.js';
import { PipeListener, pipeTlsFrom, sendPipe, type PipeTls } from './net-pipe.js';

/** Writes `bytes` into the ring in pieces of `piece`, as a session would, then closes; BROKEN_PIPE when the reader went. */
async function produce(ring: RingPipeState, bytes: Uint8Array, piece: number): Promise<number> {
  const writer = new RingPipeWriter(ring);
  const port = new RingPort(ring);
  let at = 0;
  try {
    while (at < bytes.length) {
      const seen = port.events('room');
      const n = writer.write(bytes.subarray(at, Math.min(bytes.length, at + piece)), 0);
      if (n === BROKEN_PIPE) return BROKEN_PIPE;
      if (n > 0) at += n;
      else await port.changed('room', seen, 200);
    }
    return at;
  } finally {
    writer.close();
  }
}

/** Reads the ring to its end (or `limit` bytes, then closes the reading end). */
async function consume(ring: RingPipeState, limit = Infinity): Promise<Buffer> {
  const reader = new RingPipeReader(ring);
  const port = new RingPort(ring);
  const chunks: Buffer[] = [];
  let total = 0;
  const buffer = new Uint8Array(7919);
  try {
    while (total < limit) {
      const seen = port.events('data');
      const n = reader.read(buffer, 0);
      if (n === 0) break;
      if (n > 0) {
        chunks.push(Buffer.from(buffer.subarray(0, n)));
        total += n;
      } else await port.changed('data', seen, 200);
    }
    return Buffer.concat(chunks);
  } finally {
    reader.close();
  }
}

describe('pipes between workers over TCP', () => {
  it('carries every byte in order, whatever the sizes of the writes', async () => {
    const listener = await PipeListener.listen('127.0.0.1');
    try {
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 0, max: 300_000 }), fc.integer({ min: 1, max: 200_000 }), fc.integer({ min: 0, max: 255 }), async (size, piece, seed) => {
          const bytes = Buffer.alloc(size);
          for (let i = 0; i < size; i++) bytes[i] = (i * 31 + seed) & 0xff;
          const from = createRingPipe(4096);
          const to = createRingPipe(8192);
          const incoming = listener.expect(to, 'test');
          const sent = sendPipe(from, { host: listener.host, port: listener.port, token: incoming.token }, 'test');
          const [written, got, sentEnding, gotEnding] = await Promise.all([produce(from, bytes, piece), consume(to), sent, incoming.ended]);
          expect(written).toBe(size);
          expect(got.equals(bytes)).toBe(true);
          expect(sentEnding).toEqual({ clean: true, connected: true, bytes: size });
          expect(gotEnding).toEqual({ clean: true, connected: true, bytes: size });
        }),
        { numRuns: 25 },
      );
    } finally {
      await listener.close();
    }
  });

  it('gives the writer a broken pipe when the reader closes its end early; both endings are clean', async () => {
    const listener = await PipeListener.listen('127.0.0.1');
    try {
      const from = createRingPipe(4096);
      const to = createRingPipe(4096);
      const incoming = listener.expect(to, 'early');
      const sent = sendPipe(from, { host: listener.host, port: listener.port, token: incoming.token }, 'early');
      const [written, got, sentEnding, gotEnding] = await Promise.all([produce(from, Buffer.alloc(10 << 20, 7), 1000), consume(to, 5000), sent, incoming.ended]);
      expect(written).toBe(BROKEN_PIPE);
      expect(got.length).toBeGreaterThanOrEqual(5000);
      expect(sentEnding.clean).toBe(true);
      expect(gotEnding.clean).toBe(true);
    } finally {
      await listener.close();
    }
  });

  it('gives the reader the end of data and a lost-writer ending when the connection breaks in the middle of a frame', async () => {
    const listener = await PipeListener.listen('127.0.0.1');
    try {
      const to = createRingPipe(4096);
      const incoming = listener.expect(to, 'broken');
      const socket = connect({ host: listener.host, port: listener.port });
      await new Promise((r) => socket.once('connect', r));
      const frame = Buffer.alloc(4 + 100, 0x61);
      frame.writeUInt32BE(1000, 0); /* announces 1000 bytes, sends 100 */
      socket.write(Buffer.concat([Buffer.from(`ZVP1${incoming.token}`), frame]));
      const got = consume(to);
      await new Promise((r) => setTimeout(r, 100));
      socket.destroy();
      expect((await got).equals(Buffer.alloc(100, 0x61))).toBe(true);
      const ending = await incoming.ended;
      expect(ending.clean).toBe(false);
      expect(ending.clean === false && ending.why).toMatch(/pipe broken: the writing worker was lost after 100 bytes/);
    } finally {
      await listener.close();
    }
  });

  it('accepts a token once, and refuses connections that do not present one it expects', async () => {
    const listener = await PipeListener.listen('127.0.0.1');
    try {
      const to = createRingPipe(4096);
      const incoming = listener.expect(to, 'once');
      const from = createRingPipe(4096);
      const first = sendPipe(from, { host: listener.host, port: listener.port, token: incoming.token }, 'once');
      const again = sendPipe(createRingPipe(4096), { host: listener.host, port: listener.port, token: incoming.token }, 'again');
      const stranger = sendPipe(createRingPipe(4096), { host: listener.host, port: listener.port, token: 'f'.repeat(64) }, 'stranger');
      expect((await again).clean).toBe(false);
      expect((await stranger).clean).toBe(false);
      const [, got] = await Promise.all([produce(from, Buffer.from('only once'), 100), consume(to), first]);
      expect(got.toString()).toBe('only once');
    } finally {
      await listener.close();
    }
  });

  it('a pipe whose writer never connects ends clean and unconnected when the part is over; the reader sees the end of data', async () => {
    const listener = await PipeListener.listen('127.0.0.1');
    try {
      const to = createRingPipe(4096);
      const incoming = listener.expect(to, 'never');
      incoming.cancel();
      expect(await incoming.ended).toEqual({ clean: true, connected: false, bytes: 0 });
      expect((await consume(to)).length).toBe(0);
    } finally {
      await listener.close();
    }
  });
});

/** A throwaway CA and worker certificates made by openssl (nothing committed), and a certificate of another CA. */
function makeWorkerCerts(dir: string): { a: PipeTls; b: PipeTls; rogue: PipeTls; wrongHost: PipeTls } {
  const file = (name: string): string => join(dir, name);
  const ssl = (...args: string[]): void => void execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  for (const ca of ['ca', 'other-ca']) ssl('req', '-x509', ...ec, '-keyout', file(`${ca}.key`), '-out', file(`${ca}.pem`), '-days', '1', '-subj', `/CN=zerovm pipes test ${ca}`);
  const cert = (name: string, ca: string, san: string): PipeTls => {
    writeFileSync(file(`${name}.ext`), `subjectAltName=${san}\nextendedKeyUsage=serverAuth,clientAuth\n`);
    ssl('req', ...ec, '-keyout', file(`${name}.key`), '-out', file(`${name}.csr`), '-subj', `/CN=zerovm worker ${name}`);
    ssl('x509', '-req', '-in', file(`${name}.csr`), '-CA', file(`${ca}.pem`), '-CAkey', file(`${ca}.key`), '-CAcreateserial', '-out', file(`${name}.pem`), '-days', '1', '-extfile', file(`${name}.ext`));
    return pipeTlsFrom({ tlsCaFile: file('ca.pem'), tlsCertFile: file(`${name}.pem`), tlsKeyFile: file(`${name}.key`) })!;
  };
  return { a: cert('a', 'ca', 'IP:127.0.0.1'), b: cert('b', 'ca', 'IP:127.0.0.1'), rogue: cert('rogue', 'other-ca', 'IP:127.0.0.1'), wrongHost: cert('elsewhere', 'ca', 'IP:10.9.8.7') };
}

const noOpenssl = spawnSync('openssl', ['version']).error !== undefined;
if (noOpenssl) console.warn('\n*** TLS pipe tests SKIPPED: openssl is not installed (Debian package openssl; .ci/run installs it) ***\n');

describe.skipIf(noOpenssl)('pipes between workers over TLS, both certificates verified', () => {
  const dir = mkdtempSync(join(tmpdir(), 'zerovm-pipe-tls-'));
  const certs = noOpenssl ? undefined : makeWorkerCerts(dir);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('carries every byte when both workers have certificates of the cluster\'s CA; the endpoint says TLS', async () => {
    const listener = await PipeListener.listen('127.0.0.1', certs!.a);
    try {
      const bytes = Buffer.alloc(3 << 20);
      for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 131 + 7) & 0xff;
      const from = createRingPipe(4096);
      const to = createRingPipe(8192);
      const incoming = listener.expect(to, 'tls');
      const endpoint = listener.endpoint(incoming.token);
      expect(endpoint.tls).toBe(true);
      const [written, got, sentEnding, gotEnding] = await Promise.all([produce(from, bytes, 65_536), consume(to), sendPipe(from, endpoint, 'tls', certs!.b), incoming.ended]);
      expect(written).toBe(bytes.length);
      expect(got.equals(bytes)).toBe(true);
      expect(sentEnding).toEqual({ clean: true, connected: true, bytes: bytes.length });
      expect(gotEnding).toEqual({ clean: true, connected: true, bytes: bytes.length });
    } finally {
      await listener.close();
    }
  });

  it('refuses a writer whose certificate another CA signed, a reader whose certificate names another host, and plain TCP even with the token', async () => {
    const listener = await PipeListener.listen('127.0.0.1', certs!.a);
    const elsewhere = await PipeListener.listen('127.0.0.1', certs!.wrongHost);
    try {
      const to = createRingPipe(4096);
      const incoming = listener.expect(to, 'guarded');
      const endpoint = listener.endpoint(incoming.token);
      const rogue = await sendPipe(createRingPipe(4096), endpoint, 'rogue', certs!.rogue);
      expect(rogue.clean).toBe(false);
      /* plain TCP with the right token: the TLS listener sees no handshake, nothing reaches the ring */
      const socket = connect({ host: listener.host, port: listener.port });
      await new Promise((r) => socket.once('connect', r));
      socket.write(`ZVP1${incoming.token}`);
      await new Promise((r) => socket.once('close', r));
      /* a reader whose certificate does not name the published host: the writer does not send */
      const misnamed = elsewhere.expect(createRingPipe(4096), 'misnamed');
      const wrong = await sendPipe(createRingPipe(4096), elsewhere.endpoint(misnamed.token), 'misnamed', certs!.b);
      expect(wrong.clean === false && wrong.why).toMatch(/IP: 127\.0\.0\.1 is not in the cert's list|altnames/i);
      misnamed.cancel();
      /* the token was never spent: the rightful writer still gets through */
      const from = createRingPipe(4096);
      const [, got] = await Promise.all([produce(from, Buffer.from('for the cluster only'), 100), consume(to), sendPipe(from, endpoint, 'guarded', certs!.b)]);
      expect(got.toString()).toBe('for the cluster only');
    } finally {
      await listener.close();
      await elsewhere.close();
    }
  });

  it('never sends in clear from a worker with TLS, and says which options a worker without it lacks', async () => {
    const plain = await PipeListener.listen('127.0.0.1');
    const guarded = await PipeListener.listen('127.0.0.1', certs!.a);
    try {
      const toPlain = plain.expect(createRingPipe(4096), 'p');
      const fromTls = await sendPipe(createRingPipe(4096), plain.endpoint(toPlain.token), 'p', certs!.b);
      expect(fromTls.clean === false && fromTls.why).toMatch(/this worker sends pipes only over TLS and the reading worker listens without it: give every worker the same --nats-ca/);
      const toTls = guarded.expect(createRingPipe(4096), 'q');
      const fromPlain = await sendPipe(createRingPipe(4096), guarded.endpoint(toTls.token), 'q');
      expect(fromPlain.clean === false && fromPlain.why).toMatch(/takes pipes only over TLS and this worker has no TLS certificate/);
      toPlain.cancel();
      toTls.cancel();
    } finally {
      await plain.close();
      await guarded.close();
    }
  });
});
