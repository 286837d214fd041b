/**
 * `zerovm cluster status` and `zerovm worker --heartbeat` on the command
 * line (spec/cluster.md, "Status", "Worker registry"): what they refuse
 * before connecting, and a server that is not there. The cluster itself is
 * tested in test/nats/placement.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { zerovm } from './cli.js';

describe('zerovm cluster', () => {
  it.each([
    [['cluster'], /needs a subcommand: status/],
    [['cluster', 'stats'], /'stats' is not a cluster subcommand/],
    [['cluster', 'status'], /--nats URL\[,URL\.\.\.\] is required/],
    [['cluster', 'status', '--nats', 'nats://127.0.0.1:1', '--verbose'], /unknown option --verbose/],
    [['worker', '--nats', 'nats://127.0.0.1:1', '--heartbeat', '5'], /--heartbeat must be milliseconds from 100 to 60000/],
  ])('refuses %j with exit status 2', (args, message) => {
    const run = zerovm(args);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(message);
  });

  it('says which servers it could not reach and exits 1', () => {
    /* port 1: privileged, nobody listens there on a test machine */
    const run = zerovm(['cluster', 'status', '--nats', 'nats://127.0.0.1:1']);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('cannot connect to NATS at nats://127.0.0.1:1');
  });
});
