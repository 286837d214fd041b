/**
 * How a front end or worker proves who it is to NATS and secures the link
 * (spec/cluster.md, "Security"): a user and password, or an nkey whose
 * seed is read from a file (never a command-line argument, which every
 * user of a host can read); TLS when a CA file is given, with a client
 * certificate when the servers verify clients.
 *
 * Where: src/cluster, used by connection.ts when it connects. The account a
 * user or nkey belongs to is the server's business: each account is a
 * namespace of its own (its own stream, buckets and subjects), so a worker
 * of one account never sees another account's tasks or blobs.
 */
import { readFileSync, statSync } from 'node:fs';
import { nkeyAuthenticator, nkeys, type NodeConnectionOptions } from '@nats-io/transport-node';

/** Credentials and TLS (all optional: a server without auth and TLS takes a bare connection). */
export interface NatsSecurity {
  readonly user?: string;
  readonly password?: string;
  /** A file holding an nkey user seed (`SU...`, as `nk -gen user` writes it). */
  readonly nkeySeedFile?: string;
  /** PEM file of the CA that signed the servers' certificates: the connection must be TLS. */
  readonly tlsCaFile?: string;
  /** PEM client certificate and its key, for servers that verify clients. */
  readonly tlsCertFile?: string;
  readonly tlsKeyFile?: string;
}

/** The security options are wrong before any server is asked (a missing file, a seed that is not one): `message` says what to fix. */
export class NatsSecurityError extends Error {
  override name = 'NatsSecurityError';
}

/** The connection options that carry `security`. */
export function securityConnectOptions(security: NatsSecurity): Partial<NodeConnectionOptions> {
  const options: Partial<NodeConnectionOptions> = {};
  if (security.nkeySeedFile !== undefined) {
    if (security.password !== undefined) throw new NatsSecurityError('give either a password or an nkey seed file, not both');
    const seed = readSeed(security.nkeySeedFile);
    /* nkey users have no user name: the public key is the identity */
    Object.assign(options, { authenticator: nkeyAuthenticator(seed) });
  } else {
    if (security.user !== undefined) Object.assign(options, { user: security.user });
    if (security.password !== undefined) Object.assign(options, { pass: security.password });
  }
  const { tlsCaFile, tlsCertFile, tlsKeyFile } = security;
  if ((tlsCertFile === undefined) !== (tlsKeyFile === undefined)) throw new NatsSecurityError('a TLS client certificate needs its key, and a key its certificate: give both --nats-cert and --nats-key');
  if (tlsCaFile !== undefined || tlsCertFile !== undefined) {
    for (const [what, file] of [['CA', tlsCaFile], ['client certificate', tlsCertFile], ['client key', tlsKeyFile]] as const) {
      if (file !== undefined) readable(file, `the TLS ${what} file`);
    }
    Object.assign(options, {
      tls: {
        ...(tlsCaFile === undefined ? {} : { caFile: tlsCaFile }),
        ...(tlsCertFile === undefined ? {} : { certFile: tlsCertFile }),
        ...(tlsKeyFile === undefined ? {} : { keyFile: tlsKeyFile }),
      },
    });
  }
  return options;
}

/** Who connects, for messages: the user, the nkey's public key, or nobody. */
export function describeIdentity(security: NatsSecurity): string {
  if (security.nkeySeedFile !== undefined) {
    try {
      return `the nkey ${nkeys.fromSeed(readSeed(security.nkeySeedFile)).getPublicKey()} (seed file ${security.nkeySeedFile})`;
    } catch {
      return `the nkey of seed file ${security.nkeySeedFile}`;
    }
  }
  return `user '${security.user ?? '(none)'}'`;
}

function readable(file: string, what: string): void {
  try {
    if (!statSync(file).isFile()) throw new Error('not a regular file');
  } catch (error) {
    throw new NatsSecurityError(`${what} ${file} cannot be read: ${(error as Error).message}`);
  }
}

/** The seed's bytes, checked to be an nkey user seed. */
function readSeed(file: string): Uint8Array {
  readable(file, 'the nkey seed file');
  /* the file may hold comments and blank lines (as nsc writes): the seed is the line that starts with SU */
  const text = readFileSync(file, 'utf8');
  const line = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .find((l) => l.startsWith('SU'));
  if (line === undefined) throw new NatsSecurityError(`the nkey seed file ${file} holds no user seed (a line starting with SU, as \`nk -gen user\` writes)`);
  const seed = new TextEncoder().encode(line);
  try {
    nkeys.fromSeed(seed);
  } catch (error) {
    throw new NatsSecurityError(`the nkey seed in ${file} is not valid: ${(error as Error).message}`);
  }
  return seed;
}
