/**
 * Security of the cluster (spec/cluster.md, "Security") on a real 3-node
 * nats-server cluster on 127.0.0.1 that requires TLS and verifies client
 * certificates (a throwaway CA made by openssl at start), with two
 * accounts: a front end and a worker authenticate with an nkey whose seed
 * is in a file, another pair with a user and password of another account;
 * each account's jobs run only on its own worker, and neither account sees
 * the other's tasks or blobs. Missing TLS options, an unknown nkey and a
 * file that holds no seed are refused with messages that say what to fix.
 * Workers given TLS material stream a split group's pipes over TLS, each
 * side's certificate verified against the CA.
 */
import { readFileSync, rmSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, nkeys } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { Objm } from '@nats-io/obj';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blobName } from '../../src/cluster/blobs.js';
import { NatsConnectError } from '../../src/cluster/connection.js';
import { NatsExecutor } from '../../src/cluster/executor.js';
import { PIPE_BUCKET, type MemberEntry } from '../../src/cluster/name-service.js';
import { BLOB_BUCKET } from '../../src/cluster/protocol.js';
import type { JobPlan } from '../../src/jobs/executor.js';
import { natsServerUnavailable, opensslUnavailable, startNatsCluster, type NatsCluster } from './cluster.js';
import { endWorker, spawnWorker, type WorkerProcess } from './workers.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CAT = join(ROOT, 'examples', 'cat.nexe');
const WC = join(ROOT, 'examples', 'wc.nexe');

const CI = process.env['CI'] !== undefined && process.env['CI'] !== '' && process.env['CI'] !== 'false';
const unavailable = natsServerUnavailable() ?? opensslUnavailable();
const skip = unavailable !== null && !CI;
if (skip) console.warn(`\n*** NATS cluster security tests SKIPPED: ${unavailable} ***\n`);

describe.skipIf(skip)('NATS security: nkeys, TLS with client certificates, accounts as namespaces', () => {
  let cluster: NatsCluster;
  let tls: { tlsCaFile: string; tlsCertFile: string; tlsKeyFile: string };
  let tlsArgs: string[];
  let frontA: NatsExecutor;
  let frontB: NatsExecutor;
  const workers: WorkerProcess[] = [];
  const tmp = mkdtempSync(join(tmpdir(), 'zerovm-nats-security-'));

  beforeAll(async () => {
    cluster = await startNatsCluster({ tls: true });
    const t = cluster.tls!;
    tls = { tlsCaFile: t.caFile, tlsCertFile: t.clientCertFile, tlsKeyFile: t.clientKeyFile };
    tlsArgs = ['--nats-ca', t.caFile, '--nats-cert', t.clientCertFile, '--nats-key', t.clientKeyFile];
    const servers = cluster.urls.split(',');
    frontA = await NatsExecutor.connect({ servers, nkeySeedFile: cluster.nkeySeedFile, ...tls, replicas: 3 });
    frontB = await NatsExecutor.connect({ servers, user: cluster.otherUser, password: cluster.otherPassword, ...tls, replicas: 3 });
    workers.push(
      ...(await Promise.all([
        spawnWorker(cluster.urls, 'worker-a', ['--nats-nkey', cluster.nkeySeedFile, ...tlsArgs, '--replicas', '3']),
        spawnWorker(cluster.urls, 'worker-b', ['--user', cluster.otherUser, ...tlsArgs, '--replicas', '3'], { ZEROVM_NATS_PASSWORD: cluster.otherPassword }),
      ])),
    );
  });

  afterAll(async () => {
    for (const worker of workers) await endWorker(worker);
    await frontA?.close();
    await frontB?.close();
    await cluster?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it("runs each account's jobs only on its own workers, over TLS, with the nkey seed never on a command line", async () => {
    /* inputs past the inline limit, so they go through the blob bucket */
    const input = (who: string, i: number): Buffer => Buffer.from(`secret of ${who} ${i}\n${'x'.repeat(20_000)}`);
    const plan = (who: string): JobPlan => ({ nodes: Array.from({ length: 6 }, (_, i) => ({ name: `${who}-${i}`, program: CAT, stdin: { bytes: input(who, i) } })) });
    const traces = (who: string): string[] => [blobName(input(who, 0)), input(who, 0).toString('base64').slice(0, 24), `secret of ${who}`];
    /* a listener in account OTHER on every zerovm subject, while account ZEROVM runs a job */
    const spy = await connect({ servers: cluster.urls.split(','), user: cluster.otherUser, pass: cluster.otherPassword, tls: { caFile: tls.tlsCaFile, certFile: tls.tlsCertFile, keyFile: tls.tlsKeyFile } });
    const seen: string[] = [];
    spy.subscribe('>', { callback: (_error, message) => void seen.push(`${message.subject} ${message.string()}`) });
    await spy.flush();
    try {
      const [a, b] = await Promise.all([frontA.run(plan('a')), frontB.run(plan('b'))]);
      expect(a.nodes.map((n) => Buffer.from(n.outputs['/dev/stdout']!).toString())).toEqual(Array.from({ length: 6 }, (_, i) => input('a', i).toString()));
      expect(b.nodes.map((n) => Buffer.from(n.outputs['/dev/stdout']!).toString())).toEqual(Array.from({ length: 6 }, (_, i) => input('b', i).toString()));
      expect(new Set(a.nodes.map((n) => n.ranOn))).toEqual(new Set(['worker-a']));
      expect(new Set(b.nodes.map((n) => n.ranOn))).toEqual(new Set(['worker-b']));
      /* account OTHER saw its own traffic, none of account ZEROVM's */
      expect(seen.some((m) => traces('b').some((t) => m.includes(t)))).toBe(true);
      expect(seen.filter((m) => traces('a').some((t) => m.includes(t)))).toEqual([]);
      /* each account's blob bucket holds its own inputs only */
      const blobsOf = async (nc: typeof spy): Promise<(name: string) => Promise<boolean>> => {
        const bucket = await new Objm(nc).open(BLOB_BUCKET);
        return async (name) => (await bucket.info(name)) !== null;
      };
      const inOther = await blobsOf(spy);
      expect(await inOther(blobName(input('b', 0)))).toBe(true);
      expect(await inOther(blobName(input('a', 0)))).toBe(false);
    } finally {
      await spy.close();
    }
    const seed = readFileSync(cluster.nkeySeedFile, 'utf8').trim();
    expect(readFileSync(`/proc/${workers[0]!.child.pid}/cmdline`, 'utf8')).not.toContain(seed);
  });

  it('refuses a connection without the CA, or without a client certificate, saying to check the TLS options', async () => {
    const servers = cluster.urls.split(',');
    const refusal = (options: Partial<Parameters<typeof NatsExecutor.connect>[0]>): Promise<unknown> => NatsExecutor.connect({ servers, nkeySeedFile: cluster.nkeySeedFile, connectTimeoutMs: 500, ...options }).then(() => 'connected', (error: unknown) => error);
    const noCa = await refusal({});
    expect(noCa).toBeInstanceOf(NatsConnectError);
    expect((noCa as Error).message).toMatch(/TLS[\s\S]*--nats-ca/);
    const noCert = await refusal({ tlsCaFile: tls.tlsCaFile });
    expect(noCert).toBeInstanceOf(NatsConnectError);
    expect((noCert as Error).message).toMatch(/--nats-cert and --nats-key/);
    expect(((await refusal({ tlsCaFile: tls.tlsCaFile, tlsCertFile: tls.tlsCertFile })) as Error).message).toMatch(/needs its key/);
  });

  it('streams the pipes of a group split over two workers over TLS, each worker\'s certificate verified by the other', async () => {
    /* worker-a's certificate is a client's only: these two have the workers' (server and client, 127.0.0.1) */
    await endWorker(workers[0]!);
    const t = cluster.tls!;
    const workerTls = ['--nats-ca', t.caFile, '--nats-cert', t.workerCertFile, '--nats-key', t.workerKeyFile, '--pipe-host', '127.0.0.1', '--replicas', '3'];
    workers.push(...(await Promise.all(['pipe-1', 'pipe-2'].map((name) => spawnWorker(cluster.urls, name, ['--nats-nkey', cluster.nkeySeedFile, ...workerTls])))));
    /* what the readers' workers publish in the name service while the job runs */
    const nc = await connect({ servers: cluster.urls.split(','), user: cluster.user, pass: cluster.password, tls: { caFile: t.caFile, certFile: t.clientCertFile, keyFile: t.clientKeyFile } });
    const published: MemberEntry[] = [];
    try {
      const names = await new Kvm(nc).open(PIPE_BUCKET);
      const watch = await names.watch({ key: '>' });
      void (async () => {
        for await (const entry of watch) if (entry.operation === 'PUT' && /\.m\d+$/.test(entry.key)) published.push(entry.json<MemberEntry>());
      })();
      const text = Buffer.from(Array.from({ length: 3000 }, (_, i) => `line ${i} of a secret\n`).join(''));
      const result = await frontA.run(
        {
          nodes: [
            { name: 'source', program: CAT, stdin: { bytes: text }, stdout: { pipe: 'p' } },
            { name: 'count', program: WC, stdin: { pipe: 'p' } },
          ],
          pipes: [{ id: 'p', from: 'source', to: 'count' }],
        },
        { spread: 2 },
      );
      watch.stop();
      expect(result.nodes.map((n) => n.exitState)).toEqual(['ok', 'ok']);
      expect(Buffer.from(result.nodes[1]!.outputs['/dev/stdout']!).toString()).toBe(`3000 ${text.length}\n`);
      expect(new Set(result.nodes.map((n) => n.ranOn))).toEqual(new Set(['pipe-1', 'pipe-2']));
      const endpoints = published.flatMap((m) => Object.values(m.endpoints));
      expect(endpoints.length).toBeGreaterThan(0);
      expect(endpoints.every((e) => e.tls === true)).toBe(true);
    } finally {
      await nc.close();
    }
  });

  it('refuses an nkey the servers do not list, naming its public key, and a seed file that holds no seed', async () => {
    const stranger = nkeys.createUser();
    const strangerFile = join(tmp, 'stranger.nk');
    writeFileSync(strangerFile, `# a user no server lists\n${new TextDecoder().decode(stranger.getSeed())}\n`, { mode: 0o600 });
    const servers = cluster.urls.split(',');
    await expect(NatsExecutor.connect({ servers, nkeySeedFile: strangerFile, ...tls })).rejects.toThrow(new RegExp(`refused the credentials of the nkey ${stranger.getPublicKey()}`));
    await expect(spawnWorker(cluster.urls, 'w-stranger', ['--nats-nkey', strangerFile, ...tlsArgs])).rejects.toThrow(/exited \(1\)[\s\S]*refused the credentials of the nkey U/);
    const notSeed = join(tmp, 'not-a-seed');
    writeFileSync(notSeed, 'hunter2\n');
    await expect(NatsExecutor.connect({ servers, nkeySeedFile: notSeed, ...tls })).rejects.toThrow(/holds no user seed/);
    await expect(spawnWorker(cluster.urls, 'w-noseed', ['--nats-nkey', join(tmp, 'missing.nk'), ...tlsArgs])).rejects.toThrow(/exited \(1\)[\s\S]*nkey seed file \S+missing.nk cannot be read/);
  });
});
