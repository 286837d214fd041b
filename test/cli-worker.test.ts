/**
 * `zerovm worker`'s command line (spec/cluster.md, "Workers"): what it
 * refuses before connecting, and a server that is not there. The cluster
 * itself is tested in test/nats/.
 */
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { zerovm } from './cli.js';

describe('zerovm worker', () => {
  it.each([
    [[], /--nats URL\[,URL\.\.\.\] is required/],
    [['--nats', 'nats://127.0.0.1:1', '--slots', '0'], /--slots must be a whole number from 1 to 256/],
    [['--nats', 'nats://127.0.0.1:1', '--engine', 'fast'], /--engine must be native, unicorn or auto/],
    [['--nats', 'nats://127.0.0.1:1', '--replicas', '7'], /--replicas must be 1 to 5/],
    [['--nats', 'nats://127.0.0.1:1', '--gang-wait', '0'], /--gang-wait must be seconds from 0.1 to 3600/],
    [['--nats', 'nats://127.0.0.1:1', '--nats-nkey', 'user.nk', '--user', 'u'], /--nats-nkey and --user exclude each other/],
    [['--nats', 'nats://127.0.0.1:1', 'extra'], /unexpected argument 'extra'/],
  ])('refuses %j with exit status 2', (args, message) => {
    const run = zerovm(['worker', ...args]);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(message);
  });

  it('says which servers it could not reach and exits 1', async () => {
    /* a port nobody listens on */
    const port = await new Promise<number>((resolvePort) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => resolvePort(typeof address === 'object' && address !== null ? address.port : 0));
      });
    });
    const run = zerovm(['worker', '--nats', `nats://127.0.0.1:${port}`]);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`cannot connect to NATS at nats://127.0.0.1:${port}`);
  });
});
