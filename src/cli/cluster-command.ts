/**
 * `zerovm cluster status --nats URL[,URL...] [--user U] [--json]`: the
 * workers of a cluster (slots, running, draining, cached blobs) and its
 * queued and running sessions (spec/cluster.md, "Status"). The password is
 * read from ZEROVM_NATS_PASSWORD, as `zerovm worker` reads it.
 */
import { NatsConnectError, openCluster, parseServers } from '../cluster/connection.js';
import { openPlacementStores } from '../cluster/registry.js';
import { clusterStatus, formatStatus } from '../cluster/status.js';
import { CliError, parseArgs } from './args.js';

export async function runCluster(argv: readonly string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'status') throw new CliError(sub === undefined ? 'zerovm cluster needs a subcommand: status' : `'${sub}' is not a cluster subcommand (status)`);
  const args = parseArgs(rest, { flags: ['json'], values: ['nats', 'user'] });
  if (args.positionals.length > 0) throw new CliError(`unexpected argument '${args.positionals[0]}'`);
  const nats = args.values.get('nats');
  if (nats === undefined) throw new CliError('--nats URL[,URL...] is required (the NATS servers of the cluster)');
  const user = args.values.get('user');
  const password = process.env['ZEROVM_NATS_PASSWORD'];
  let conn;
  try {
    conn = await openCluster({ servers: parseServers(nats), name: 'zerovm cluster status', ...(user === undefined ? {} : { user }), ...(password === undefined ? {} : { password }) });
  } catch (error) {
    if (error instanceof NatsConnectError) {
      process.stderr.write(`zerovm cluster status: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
  try {
    const status = await clusterStatus(conn, await openPlacementStores(conn));
    process.stdout.write(args.flags.has('json') ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status));
    return 0;
  } finally {
    await conn.close();
  }
}
