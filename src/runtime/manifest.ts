/**
 * The system manifest: the `Key = value` text file given to `zerovm`, read
 * into a typed `Manifest`, checked, and written back (`formatManifest`, used
 * by `zerovm run` to generate manifests).
 *
 * Pipeline position: command line -> here -> program loading, channels,
 * memory set-up, report. Source of truth: spec/runtime.md "A session,
 * step by step", the syntax and checks of the original ZeroVM 2015's
 * manifest reader (manifest version 20130611, with its "MANIFEST <line>:"
 * message tags), measured on its binary, plus the checks it made on the
 * parsed values at later steps of a session.
 *
 * Two stages, because the original checked in two places and a caller that
 * wants the original's exit code must keep its order:
 *   1. `readManifest(text)`: what the original's manifest constructor did:
 *      syntax, field formats, required and duplicate keys. Exit code 14
 *      (EFAULT) for every error, which names its line when it has one.
 *   2. `checkManifest(manifest)`: what the original checked only after it
 *      had opened and validated the program (ENOENT / ENOEXEC come first):
 *      channel count (ENFILE), unique aliases, channel types, the name
 *      server protocol, the three standard channels, memory size (ENOMEM),
 *      timeout.
 * `parseManifest(text)` runs both.
 *
 * Choices a reader would question:
 * - Every failure is a `ManifestError` whose `message` is the original's
 *   text ("MANIFEST 14: invalid memory etag token"; the report prints it as
 *   the exit state) and whose `hint` says what to change.
 * - The original's quirks are kept where they are deterministic and
 *   harmless: integers follow strtoll base 0 (sign, 0 octal, 0x hex, an
 *   empty number reads as 0); lines with no or several `=` are ignored
 *   silently; only the first 8191 lines are lines (the rest of the file is
 *   the 8192nd); text after a NUL byte is ignored; Memory and Channel split
 *   on at most 1 and 7 commas, so surplus fields end up inside the last
 *   number; "invalid numeric value" quotes the unparsed rest, as strtoll
 *   left it.
 * - Timeout, Node, the channel type and the etag flags are C ints: the low
 *   32 bits, signed, before any check (4294967297 reads as 1), as measured
 *   on the original ZeroVM 2015.
 * - Not kept: a file over 512 KiB was silently cut by the original; here
 *   it is an error (EFBIG, as the pre-20130611 parser did), see
 *   spec/runtime.md "Where we differ".
 * - Channel limits are `bigint`: a program reads them as int64 from the
 *   user manifest, so values above 2^53 must survive exactly.
 */
import { Errno, SANDBOX_SIZE, STANDARD_CHANNELS, type ErrnoName } from './definitions.js';

// ---------------------------------------------------------------------------
// Constants (manifest.c, channel.c, channel.h of the original)

export const MANIFEST_VERSION = '20130611';
/** The original read at most this many bytes (manifest.c MANIFEST_SIZE_LIMIT 0x80000). */
export const MANIFEST_SIZE_LIMIT = 0x80000;
/** g_strsplit limit on lines (manifest.c MANIFEST_LINES_LIMIT 0x2000); the last piece is the rest of the text. */
export const MANIFEST_LINES_LIMIT = 0x2000;
/** channel.c MAX_CHANNELS_NUMBER; the check is `count >= 10915`, so at most 10914 channels. */
export const MAX_CHANNELS = 10914;
/** Job socket path limit, Linux sockaddr_un (manifest.c: strlen(value) > UNIX_PATH_MAX). */
export const UNIX_PATH_MAX = 108;
export const INT32_MAX = 2 ** 31 - 1;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Channel types, the 4 GiB sandbox and the standard channels: shared definitions, re-exported for the manifest's users. */
export { CHANNEL_TYPES, ChannelType, SANDBOX_SIZE, STANDARD_CHANNELS } from './definitions.js';

/** Network protocols a channel or name server uri may name (manifest.h PROTOCOLS, the network ones). */
export const NETWORK_PROTOCOLS = ['tcp', 'udp', 'ipc', 'inproc', 'pgm', 'epgm'] as const;
export type NetworkProtocol = (typeof NETWORK_PROTOCOLS)[number];

// ---------------------------------------------------------------------------
// The value

export interface ChannelLimits {
  readonly gets: bigint;
  readonly getSize: bigint;
  readonly puts: bigint;
  readonly putSize: bigint;
}

export type ChannelHost =
  | { readonly kind: 'node'; readonly node: number }
  | { readonly kind: 'ipv4'; readonly address: string };

export type ChannelSource =
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'network'; readonly protocol: NetworkProtocol; readonly host: ChannelHost; readonly port: number };

export interface ManifestChannel {
  /** The uri field as written (spaces around it removed); `sources` is its parsed form. */
  readonly uri: string;
  /** One source per `;`-separated part of `uri` (the original allowed several, for replication). */
  readonly sources: readonly ChannelSource[];
  readonly alias: string;
  /** 0..3 once `checkManifest` has passed (see CHANNEL_TYPES). */
  readonly type: number;
  readonly etag: boolean;
  readonly limits: ChannelLimits;
}

export interface NameServer {
  readonly uri: string;
  readonly source: ChannelSource;
}

export interface Manifest {
  readonly version: typeof MANIFEST_VERSION;
  readonly program: string;
  /** Seconds; 1..2147483647 once checked. */
  readonly timeout: number;
  /** Bytes for the whole session; 1..4 GiB once checked. */
  readonly memory: number;
  readonly memoryEtag: boolean;
  /** In manifest order. */
  readonly channels: readonly ManifestChannel[];
  readonly node?: number;
  readonly nameServer?: NameServer;
  readonly job?: string;
}

// ---------------------------------------------------------------------------
// Failures: one row per kind, with the exit code the original used

const ERRNO = Errno;

interface FailureRow {
  readonly errno: ErrnoName;
  /** Where the original raised it (zerovm/zerovm, 20130611 era) or why it is ours. */
  readonly source: string;
}

/**
 * Every way a session can fail to start because of its manifest or
 * program. The runtime raises the program/memory rows elsewhere; they are
 * here so that one table holds the exit codes.
 */
export const MANIFEST_FAILURES = {
  'manifest-open': { errno: 'ENOENT', source: 'manifest.c GetManifestData: "manifest open error"' },
  'manifest-read': { errno: 'EIO', source: 'manifest.c GetManifestData: fread < 1 (empty file), "manifest read error"' },
  'manifest-too-large': { errno: 'EFBIG', source: 'ours; the 20130611 reader cut the file at 512 KiB, the earlier manifest_parser.c failed with EFBIG' },
  'invalid-number': { errno: 'EFAULT', source: 'manifest.c ToInt: "invalid numeric value \'%s\'"' },
  'invalid-version': { errno: 'EFAULT', source: 'manifest.c Version: "invalid manifest version"' },
  'invalid-memory-token': { errno: 'EFAULT', source: 'manifest.c Memory: "invalid memory token"' },
  'invalid-memory-etag': { errno: 'EFAULT', source: 'manifest.c Memory: "invalid memory etag token"' },
  'job-path-too-long': { errno: 'EFAULT', source: 'manifest.c Job: "too long Job name"' },
  'invalid-channel-tokens': { errno: 'EFAULT', source: 'manifest.c Channel: "invalid channel tokens number"' },
  'invalid-channel-name': { errno: 'EFAULT', source: 'manifest.c ParseName: "invalid channel name"' },
  'relative-channel-path': { errno: 'EFAULT', source: 'manifest.c ParseName: "only absolute path channels are allowed"' },
  'invalid-channel-url': { errno: 'EFAULT', source: 'manifest.c ParseName: "invalid channel url"' },
  'malformed-ip': { errno: 'EFAULT', source: 'manifest.c ExtractHost: "malformed ip token"' },
  'invalid-channel-etag': { errno: 'EFAULT', source: 'manifest.c Channel: "invalid channel mumeric token" (sic; "numeric" here)' },
  'negative-limit': { errno: 'EFAULT', source: 'manifest.c Channel: "negative limits for %s"' },
  'keyword-missing': { errno: 'EFAULT', source: 'manifest.c CheckCounters: "%s not specified"' },
  'keyword-duplicate': { errno: 'EFAULT', source: 'manifest.c CheckCounters: "duplicate %s keyword"' },
  'program-missing': { errno: 'ENOENT', source: 'zvm_main.c ParseCommandLine: "program open error"' },
  'program-malformed': { errno: 'ENOEXEC', source: 'loader (elf_util.c) failures while loading the program' },
  'validation-failed': { errno: 'ENOEXEC', source: 'zvm_main.c ValidateProgram: "validation failed"' },
  'too-many-channels': { errno: 'ENFILE', source: 'channel.c ChannelsCtor: "channels number reached maximum"' },
  'not-enough-channels': { errno: 'EFAULT', source: 'channel.c ChannelsCtor: "not enough channels: N" (measured on the original ZeroVM 2015)' },
  'duplicate-alias': { errno: 'EFAULT', source: 'channel.c DuplicateKey: "%s is already allocated"' },
  'invalid-channel-type': { errno: 'EFAULT', source: 'channel.c ChannelCtor: "%s has invalid type %d"' },
  'name-server-protocol': { errno: 'EFAULT', source: 'nservice.c NameServiceCtor: "name server only support udp protocol"' },
  'missing-standard-channels': { errno: 'EFAULT', source: 'channel.c ChannelsCtor: "missing standard channels in manifest"' },
  'invalid-memory-size': { errno: 'ENOMEM', source: 'setup.c PreallocateUserMemory: "invalid memory size"' },
  'heap-too-small': { errno: 'ENOMEM', source: 'setup.c PreallocateUserMemory: "user heap size is too small"' },
  'invalid-timeout': { errno: 'EFAULT', source: 'setup.c SetTimeout: "invalid timeout %d"' },
  'unwritable': { errno: 'EINVAL', source: 'ours: formatManifest was given a value no manifest text can carry' },
} as const satisfies Record<string, FailureRow>;

export type ManifestFailureKind = keyof typeof MANIFEST_FAILURES;

/** The process exit code (Linux errno value) the original exited with for `kind`. */
export function exitCodeOf(kind: ManifestFailureKind): number {
  return ERRNO[MANIFEST_FAILURES[kind].errno];
}

export class ManifestError extends Error {
  readonly kind: ManifestFailureKind;
  /** 1-based manifest line, when the failure belongs to a line. */
  readonly line: number | undefined;
  readonly exitCode: number;
  /** What to change, in plain words (the message keeps the original's text). */
  readonly hint: string;

  constructor(kind: ManifestFailureKind, text: string, hint: string, line?: number) {
    super(line === undefined ? text : `MANIFEST ${line}: ${text}`);
    this.name = 'ManifestError';
    this.kind = kind;
    this.line = line;
    this.exitCode = exitCodeOf(kind);
    this.hint = hint;
  }
}

// ---------------------------------------------------------------------------
// Text helpers

/** g_strstrip: ASCII white space (space, \t, \n, \v, \f, \r) at both ends. */
function strip(s: string): string {
  return s.replace(/^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g, '');
}

function utf8Length(s: string): number {
  return new TextEncoder().encode(s).length;
}

/** g_strsplit with max_tokens: at most `max` pieces, the last holding the rest. */
function splitLimited(s: string, separator: string, max: number): string[] {
  const pieces: string[] = [];
  let from = 0;
  while (pieces.length < max - 1) {
    const at = s.indexOf(separator, from);
    if (at < 0) break;
    pieces.push(s.slice(from, at));
    from = at + separator.length;
  }
  pieces.push(s.slice(from));
  return pieces;
}

/**
 * The original's integer reading (strtoll, base 0, after stripping): an
 * optional sign, then 0x/0X hex, 0-prefixed octal or decimal, within int64;
 * nothing after the digits. An empty text is 0 (strtoll converts nothing
 * and stops at the end). On failure, `rest` is what strtoll left unparsed.
 */
export function parseManifestInteger(text: string): { ok: true; value: bigint } | { ok: false; rest: string } {
  const s = strip(text);
  if (s === '') return { ok: true, value: 0n };
  let i = 0;
  let negative = false;
  if (s[i] === '-' || s[i] === '+') negative = s[i++] === '-';
  let base = 10;
  let hexPrefixAt = -1;
  if (s[i] === '0' && (s[i + 1] === 'x' || s[i + 1] === 'X')) {
    base = 16;
    hexPrefixAt = i;
    i += 2;
  } else if (s[i] === '0') {
    base = 8;
  }
  const digits = base === 16 ? /[0-9a-fA-F]/ : base === 8 ? /[0-7]/ : /[0-9]/;
  const start = i;
  while (i < s.length && digits.test(s[i] as string)) i++;
  if (i === start) {
    // nothing converted: strtoll points at the 'x' of a bare "0x", else at the start
    return { ok: false, rest: hexPrefixAt >= 0 ? s.slice(hexPrefixAt + 1) : s };
  }
  const prefix = base === 16 ? '0x' : base === 8 ? '0o' : '';
  const magnitude = BigInt(prefix + s.slice(start, i));
  const value = negative ? -magnitude : magnitude;
  if (value < INT64_MIN || value > INT64_MAX) return { ok: false, rest: s.slice(i) };
  if (i < s.length) return { ok: false, rest: s.slice(i) };
  return { ok: true, value };
}

/** glibc inet_pton(AF_INET): four decimal parts 0..255, no leading zeros. */
function isIpv4(s: string): boolean {
  const parts = s.split('.');
  return parts.length === 4 && parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255);
}

// ---------------------------------------------------------------------------
// Stage 1: reading

/** The keywords in the original's order; CheckCounters walks them backwards (and never checks Channel). */
const KEYWORDS = [
  { key: 'Channel', required: true, single: false },
  { key: 'Version', required: true, single: true },
  { key: 'Program', required: true, single: true },
  { key: 'Memory', required: true, single: true },
  { key: 'Timeout', required: true, single: true },
  { key: 'NameServer', required: false, single: true },
  { key: 'Node', required: false, single: true },
  { key: 'Job', required: false, single: true },
] as const;
type Keyword = (typeof KEYWORDS)[number]['key'];

const INTEGER_HINT = 'write a whole number: decimal, 0-prefixed octal or 0x hex, within 64-bit range';

/** Builds errors for one manifest line (or none, for `parseChannelUri`). */
class LineContext {
  constructor(readonly line: number | undefined) {}

  fail(kind: ManifestFailureKind, text: string, hint: string): never {
    throw new ManifestError(kind, text, hint, this.line);
  }

  integer(field: string, raw: string): bigint {
    const parsed = parseManifestInteger(raw);
    if (parsed.ok) return parsed.value;
    return this.fail('invalid-number', `invalid numeric value '${parsed.rest}'`, `${field} is '${strip(raw)}': ${INTEGER_HINT}`);
  }

  /** An integer the caller stores as a JS number (only out-of-range values lose precision, and those fail checks). */
  number(field: string, raw: string): number {
    return Number(this.integer(field, raw));
  }

  /** An integer the original stored in a C int: the low 32 bits, signed (4294967297 reads as 1). */
  int32(field: string, raw: string): number {
    return Number(BigInt.asIntN(32, this.integer(field, raw)));
  }

  flag(field: string, raw: string, kind: 'invalid-memory-etag' | 'invalid-channel-etag', text: string): boolean {
    const value = BigInt.asIntN(32, this.integer(field, raw));
    if (value !== 0n && value !== 1n) this.fail(kind, text, `${field} is ${value}; it must be 0 (off) or 1 (on)`);
    return value === 1n;
  }

  /** The original's ParseName: a network uri `proto:host:port`, else an absolute path. */
  source(text: string, what: string): ChannelSource {
    const name = strip(text);
    const tokens = splitLimited(name, ':', 3);
    const protocol = strip(tokens[0] as string).toLowerCase();
    if (!(NETWORK_PROTOCOLS as readonly string[]).includes(protocol)) {
      if (tokens.length > 1) {
        this.fail('invalid-channel-name', 'invalid channel name',
          `${what} '${name}' contains ':' but does not start with a network protocol (${NETWORK_PROTOCOLS.join(', ')}); file paths may not contain ':'`);
      }
      if (!name.startsWith('/')) {
        this.fail('relative-channel-path', 'only absolute path channels are allowed', `${what} '${name}' must be an absolute path (starting with '/') or protocol:host:port`);
      }
      return { kind: 'file', path: name };
    }
    const hostText = tokens[1];
    const portText = tokens[2];
    if (hostText === undefined || portText === undefined) {
      return this.fail('invalid-channel-url', 'invalid channel url', `${what} '${name}' must be written ${protocol}:host:port (host a node number or an IPv4 address)`);
    }
    let host: ChannelHost;
    if (hostText.includes('.')) {
      const address = strip(hostText);
      if (!isIpv4(address)) this.fail('malformed-ip', 'malformed ip token', `'${address}' in ${what} '${name}' is not an IPv4 address like 10.0.0.1`);
      host = { kind: 'ipv4', address };
    } else {
      const node = this.integer(`the host of ${what} '${name}'`, hostText);
      if (node < 0n || node > 0xffffffffn) {
        this.fail('invalid-channel-url', 'invalid channel url', `node number ${node} in ${what} '${name}' must be 0..4294967295`);
      }
      host = { kind: 'node', node: Number(node) };
    }
    const port = this.integer(`the port of ${what} '${name}'`, portText);
    if (port < 0n || port > 65535n) this.fail('invalid-channel-url', 'invalid channel url', `port ${port} in ${what} '${name}' must be 0..65535`);
    return { kind: 'network', protocol: protocol as NetworkProtocol, host, port: Number(port) };
  }

  sources(uri: string): ChannelSource[] {
    // g_strsplit of "" gives no pieces; an empty uri is treated as a relative path (see the report)
    const pieces = uri === '' ? [''] : splitLimited(uri, ';', 16);
    return pieces.map((piece) => this.source(piece, 'channel'));
  }
}

interface Draft {
  program?: string;
  timeout?: number;
  memory?: number;
  memoryEtag?: boolean;
  node?: number;
  nameServer?: NameServer;
  job?: string;
  channels: ManifestChannel[];
}

const HANDLERS: Record<Keyword, (draft: Draft, value: string, at: LineContext) => void> = {
  Version(_draft, value, at) {
    if (strip(value) !== MANIFEST_VERSION) {
      at.fail('invalid-version', 'invalid manifest version', `Version is '${strip(value)}'; only ${MANIFEST_VERSION} is supported`);
    }
  },
  Program(draft, value) {
    draft.program = strip(value);
  },
  Memory(draft, value, at) {
    const tokens = splitLimited(value, ',', 2);
    if (tokens.length < 2) at.fail('invalid-memory-token', 'invalid memory token', 'write Memory = <bytes>, <etag 0 or 1>');
    draft.memory = at.number('Memory size', tokens[0] as string);
    draft.memoryEtag = at.flag('the Memory etag flag', tokens[1] as string, 'invalid-memory-etag', 'invalid memory etag token');
  },
  Timeout(draft, value, at) {
    draft.timeout = at.int32('Timeout', value);
  },
  Node(draft, value, at) {
    draft.node = at.int32('Node', value);
  },
  Job(draft, value, at) {
    const length = utf8Length(value);
    if (length > UNIX_PATH_MAX) at.fail('job-path-too-long', 'too long Job name', `the Job value is ${length} bytes; a unix socket path holds at most ${UNIX_PATH_MAX}`);
    draft.job = strip(value);
  },
  NameServer(draft, value, at) {
    const uri = strip(value);
    draft.nameServer = { uri, source: at.source(uri, 'name server') };
  },
  Channel(draft, value, at) {
    const tokens = splitLimited(value, ',', 8);
    if (tokens.length < 8) {
      at.fail('invalid-channel-tokens', 'invalid channel tokens number',
        `found ${tokens.length} comma-separated fields; write Channel = uri, alias, type, etag, gets, get_size, puts, put_size`);
    }
    const [uriText, aliasText, typeText, etagText, gets, getSize, puts, putSize] = tokens as [string, string, string, string, string, string, string, string];
    const alias = strip(aliasText);
    const uri = strip(uriText);
    const sources = at.sources(uri);
    const type = at.int32(`the type of channel ${alias}`, typeText);
    const etag = at.flag(`the etag flag of channel ${alias}`, etagText, 'invalid-channel-etag', 'invalid channel numeric token');
    const limit = (name: string, raw: string): bigint => {
      const v = at.integer(`the ${name} limit of channel ${alias}`, raw);
      if (v < 0n) at.fail('negative-limit', `negative limits for ${alias}`, `the ${name} limit of channel ${alias} is ${v}; limits must be 0 or more`);
      return v;
    };
    const limits: ChannelLimits = { gets: limit('gets', gets), getSize: limit('get_size', getSize), puts: limit('puts', puts), putSize: limit('put_size', putSize) };
    draft.channels.push({ uri, sources, alias, type, etag, limits });
  },
};

/**
 * Stage 1: reads a manifest text the way the original's manifest
 * constructor did. Throws `ManifestError` (exit code 14, EFBIG 27 for an
 * oversized file, EIO 5 for an empty one).
 */
export function readManifest(text: string): Manifest {
  if (text.length === 0) throw new ManifestError('manifest-read', 'manifest read error', 'the manifest file is empty');
  if (text.length > MANIFEST_SIZE_LIMIT / 3 && utf8Length(text) > MANIFEST_SIZE_LIMIT) {
    throw new ManifestError('manifest-too-large', 'manifest file exceeded the limit',
      `the manifest is ${utf8Length(text)} bytes; at most ${MANIFEST_SIZE_LIMIT} (512 KiB) are read`);
  }
  const nul = text.indexOf('\0');
  const body = nul < 0 ? text : text.slice(0, nul);
  const counters = new Map<Keyword, number>();
  const draft: Draft = { channels: [] };
  const lines = body === '' ? [] : splitLimited(body, '\n', MANIFEST_LINES_LIMIT);
  lines.forEach((line, index) => {
    const eq = line.indexOf('=');
    if (eq < 0 || line.indexOf('=', eq + 1) >= 0) return; // not exactly one '=': ignored
    const key = strip(line.slice(0, eq));
    const keyword = KEYWORDS.find((k) => k.key === key);
    if (keyword === undefined) return; // unknown keys are ignored
    counters.set(keyword.key, (counters.get(keyword.key) ?? 0) + 1);
    HANDLERS[keyword.key](draft, line.slice(eq + 1), new LineContext(index + 1));
  });
  for (let n = KEYWORDS.length - 1; n > 0; n--) {
    const { key, required, single } = KEYWORDS[n] as (typeof KEYWORDS)[number];
    const count = counters.get(key) ?? 0;
    if (count === 0 && required) throw new ManifestError('keyword-missing', `${key} not specified`, `add a line '${key} = ...' to the manifest`);
    if (count > 1 && single) throw new ManifestError('keyword-duplicate', `duplicate ${key} keyword`, `${key} appears ${count} times; keep one`);
  }
  const manifest: Manifest = {
    version: MANIFEST_VERSION,
    program: draft.program as string,
    timeout: draft.timeout as number,
    memory: draft.memory as number,
    memoryEtag: draft.memoryEtag as boolean,
    channels: draft.channels,
    ...(draft.node === undefined ? {} : { node: draft.node }),
    ...(draft.nameServer === undefined ? {} : { nameServer: draft.nameServer }),
    ...(draft.job === undefined ? {} : { job: draft.job }),
  };
  return manifest;
}

/** Parses one channel uri (`/abs/path`, `tcp:host:port`, several joined by `;`). Throws `ManifestError` without a line. */
export function parseChannelUri(uri: string): ChannelSource[] {
  return new LineContext(undefined).sources(strip(uri));
}

// ---------------------------------------------------------------------------
// Stage 2: checks the original made after loading the program

function isNetwork(channel: ManifestChannel): boolean {
  return channel.sources.some((s) => s.kind === 'network');
}

/** The name server must speak udp when a channel is networked (EFAULT 14). */
export function checkNetwork(manifest: Manifest): void {
  const server = manifest.nameServer?.source;
  if (server !== undefined && !(server.kind === 'network' && server.protocol === 'udp') && manifest.channels.some(isNetwork)) {
    throw new ManifestError('name-server-protocol', 'name server only support udp protocol', `NameServer is '${manifest.nameServer?.uri}'; write udp:host:port`);
  }
}

/** Timeout 1..2147483647 seconds (EFAULT 14 "invalid timeout N"). */
export function checkTimeout(manifest: Manifest): void {
  if (!(manifest.timeout >= 1 && manifest.timeout <= INT32_MAX)) {
    throw new ManifestError('invalid-timeout', `invalid timeout ${manifest.timeout}`, `Timeout is ${manifest.timeout}; it must be 1..${INT32_MAX} seconds`);
  }
}

/**
 * Stage 2, what a session checks after it has loaded and validated the
 * program, all at once (a session runs them at their own steps, see
 * session.ts): channel count (ENFILE 23; fewer than 3: EFAULT), per
 * channel a unique alias and a type 0..3, the name server protocol (only
 * when some channel is networked), the three standard channels, memory
 * size (ENOMEM 12), timeout (EFAULT 14). Throws `ManifestError`.
 */
export function checkManifest(manifest: Manifest): void {
  const { channels } = manifest;
  if (channels.length > MAX_CHANNELS) {
    throw new ManifestError('too-many-channels', 'channels number reached maximum', `the manifest has ${channels.length} channels; at most ${MAX_CHANNELS} are allowed`);
  }
  if (channels.length < STANDARD_CHANNELS.length) {
    throw new ManifestError('not-enough-channels', `not enough channels: ${channels.length}`, 'a manifest needs at least the three standard channels /dev/stdin, /dev/stdout, /dev/stderr');
  }
  const aliases = new Set<string>();
  for (const channel of channels) {
    if (aliases.has(channel.alias)) {
      throw new ManifestError('duplicate-alias', `${channel.alias} is already allocated`, `two channels are named ${channel.alias}; aliases must be unique`);
    }
    aliases.add(channel.alias);
    if (!Number.isInteger(channel.type) || channel.type < 0 || channel.type > 3) {
      throw new ManifestError('invalid-channel-type', `${channel.alias} has invalid type ${channel.type}`,
        `channel ${channel.alias}: type must be 0 (sequential), 1 (random read), 2 (random write) or 3 (random read and write)`);
    }
  }
  checkNetwork(manifest);
  if (!STANDARD_CHANNELS.every((alias) => aliases.has(alias))) {
    const missing = STANDARD_CHANNELS.filter((alias) => !aliases.has(alias));
    throw new ManifestError('missing-standard-channels', 'missing standard channels in manifest', `add Channel lines with the aliases ${missing.join(', ')}`);
  }
  if (!(manifest.memory > 0 && manifest.memory <= SANDBOX_SIZE)) {
    throw new ManifestError('invalid-memory-size', 'invalid memory size', `Memory is ${manifest.memory}; it must be 1..${SANDBOX_SIZE} bytes (4 GiB)`);
  }
  checkTimeout(manifest);
}

/** Reads and checks: `readManifest` then `checkManifest`. */
export function parseManifest(text: string): Manifest {
  const manifest = readManifest(text);
  checkManifest(manifest);
  return manifest;
}

// ---------------------------------------------------------------------------
// Writing

function unwritable(what: string, why: string): never {
  throw new ManifestError('unwritable', `cannot write ${what}`, why);
}

/** A text field must come back unchanged: no line break, no '=', no NUL, no surrounding blanks (and no ',' in Channel fields). */
function checkText(what: string, value: string, inChannel: boolean): void {
  if (/[\n=\0]/.test(value)) unwritable(what, `${what} '${value}' contains a line break, '=' or NUL`);
  if (inChannel && value.includes(',')) unwritable(what, `${what} '${value}' contains ','`);
  if (strip(value) !== value) unwritable(what, `${what} '${value}' starts or ends with white space`);
}

function checkInteger(what: string, value: number): void {
  if (!Number.isSafeInteger(value)) unwritable(what, `${what} is ${value}, not a whole number`);
}

/** Writes a network or file source back as uri text. */
export function formatChannelSource(source: ChannelSource): string {
  if (source.kind === 'file') return source.path;
  const host = source.host.kind === 'node' ? String(source.host.node) : source.host.address;
  return `${source.protocol}:${host}:${source.port}`;
}

/**
 * Writes `manifest` as text that `readManifest` reads back to the same
 * value (and `parseManifest` too, when the manifest passes
 * `checkManifest`). Channel uris are written as given in `uri`. Throws
 * `ManifestError` of kind 'unwritable' for a value no text can carry.
 */
export function formatManifest(manifest: Manifest): string {
  checkText('Program', manifest.program, false);
  checkInteger('Timeout', manifest.timeout);
  checkInteger('Memory', manifest.memory);
  const lines = [
    `Version = ${MANIFEST_VERSION}`,
    `Program = ${manifest.program}`,
    `Timeout = ${manifest.timeout}`,
    `Memory = ${manifest.memory}, ${manifest.memoryEtag ? 1 : 0}`,
  ];
  if (manifest.node !== undefined) {
    checkInteger('Node', manifest.node);
    lines.push(`Node = ${manifest.node}`);
  }
  if (manifest.nameServer !== undefined) {
    checkText('NameServer', manifest.nameServer.uri, false);
    lines.push(`NameServer = ${manifest.nameServer.uri}`);
  }
  if (manifest.job !== undefined) {
    checkText('Job', manifest.job, false);
    // the original measures the raw value, which includes the blank after '='
    if (utf8Length(manifest.job) + 1 > UNIX_PATH_MAX) unwritable('Job', `the Job path is ${utf8Length(manifest.job)} bytes; at most ${UNIX_PATH_MAX - 1}`);
    lines.push(`Job = ${manifest.job}`);
  }
  for (const channel of manifest.channels) {
    checkText('a channel uri', channel.uri, true);
    checkText('a channel alias', channel.alias, true);
    checkInteger(`the type of channel ${channel.alias}`, channel.type);
    const limits = [channel.limits.gets, channel.limits.getSize, channel.limits.puts, channel.limits.putSize];
    for (const limit of limits) {
      if (limit < 0n || limit > INT64_MAX) unwritable(`channel ${channel.alias}`, `limit ${limit} is outside 0..${INT64_MAX}`);
    }
    lines.push(`Channel = ${channel.uri}, ${channel.alias}, ${channel.type}, ${channel.etag ? 1 : 0}, ${limits.join(', ')}`);
  }
  if (lines.length >= MANIFEST_LINES_LIMIT) unwritable('the manifest', `${lines.length} lines; the reader takes at most ${MANIFEST_LINES_LIMIT - 1}`);
  const text = `${lines.join('\n')}\n`;
  if (utf8Length(text) > MANIFEST_SIZE_LIMIT) unwritable('the manifest', `${utf8Length(text)} bytes; at most ${MANIFEST_SIZE_LIMIT}`);
  return text;
}
