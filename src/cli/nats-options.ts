/**
 * The NATS security options every command that talks to a cluster takes
 * (spec/cluster.md, "Security"): `--user U` with the password in
 * ZEROVM_NATS_PASSWORD, or `--nats-nkey FILE` (a file holding the nkey
 * seed: a secret never goes on a command line, which every user of the
 * host can read); `--nats-ca FILE` for TLS, and `--nats-cert FILE
 * --nats-key FILE` when the servers verify clients.
 */
import type { NatsSecurity } from '../cluster/auth.js';
import { CliError, type ParsedArgs } from './args.js';

/** Option names to add to a command's `values`. */
export const NATS_SECURITY_VALUES = ['user', 'nats-nkey', 'nats-ca', 'nats-cert', 'nats-key'] as const;

export function natsSecurityFromArgs(args: ParsedArgs, env: NodeJS.ProcessEnv = process.env): NatsSecurity {
  const user = args.values.get('user');
  const password = env['ZEROVM_NATS_PASSWORD'];
  const nkeySeedFile = args.values.get('nats-nkey');
  if (nkeySeedFile !== undefined && user !== undefined) throw new CliError('--nats-nkey and --user exclude each other: an nkey user is named by its public key');
  const tlsCaFile = args.values.get('nats-ca');
  const tlsCertFile = args.values.get('nats-cert');
  const tlsKeyFile = args.values.get('nats-key');
  return {
    ...(nkeySeedFile === undefined ? {} : { nkeySeedFile }),
    ...(user === undefined ? {} : { user }),
    /* with an nkey, a password in the environment is for something else: not sent */
    ...(password === undefined || nkeySeedFile !== undefined ? {} : { password }),
    ...(tlsCaFile === undefined ? {} : { tlsCaFile }),
    ...(tlsCertFile === undefined ? {} : { tlsCertFile }),
    ...(tlsKeyFile === undefined ? {} : { tlsKeyFile }),
  };
}
