/**
 * ZeroCloud's job description ("servlet" JSON), read and checked: every
 * field's type and every rule that can be checked without the object store
 * (spec/serving.md, "Job descriptions"). compile.ts then resolves paths,
 * wildcards and connections into a JobPlan.
 *
 * Where: the server (src/serve/) and `zerovm job` parse the request's JSON
 * here; a JobDescriptionError becomes a 400 response whose message says
 * which node and field is wrong.
 *
 * The format (ZeroCloud doc/Servlets.md): an array of nodes, each
 *   { name, exec: { path, args?, env?, name? }, devices?: [ { name, path?,
 *     content_type?, meta?, mode?, min_size? } ], count?, connect?, attach?,
 *     replicate?, location?, spread? }
 * with the deprecated spellings `file_list` (devices) and `device` (name)
 * still read, as ZeroCloud read them. `spread` is ours, not ZeroCloud's
 * (spec/cluster.md, "Spread in job descriptions").
 */

/** How a device is used: ZeroCloud's access flags (proxyquery.py device_map). */
export interface DeviceKind {
  readonly readable: boolean;
  readonly writable: boolean;
  readonly random: boolean;
  /** A read-only tar mounted as the node's file system. */
  readonly image: boolean;
}

/** The standard devices and their types (Servlets.md rule 9); system images are added by name, random and readable. */
export const DEVICE_KINDS: Readonly<Record<string, DeviceKind>> = {
  stdin: { readable: true, writable: false, random: false, image: false },
  stdout: { readable: false, writable: true, random: false, image: false },
  stderr: { readable: false, writable: true, random: false, image: false },
  input: { readable: true, writable: false, random: true, image: false },
  output: { readable: false, writable: true, random: true, image: false },
  image: { readable: true, writable: false, random: true, image: true },
  script: { readable: true, writable: false, random: true, image: false },
};

export const SYSIMAGE_KIND: DeviceKind = { readable: true, writable: false, random: true, image: false };

/**
 * `mode` values (rule 16): what the C library's stat() says the device is.
 * 'file', 'char' and 'pipe' become the channel's nvram [mapping]; 'block'
 * leaves the channel's default, as ZRT did (its mapping knew no block
 * devices).
 */
export const DEVICE_MODES = ['file', 'char', 'pipe', 'block'] as const;
export type DeviceMode = (typeof DEVICE_MODES)[number];

export interface DeviceDescription {
  readonly name: string;
  readonly path?: string;
  readonly contentType?: string;
  readonly meta: Readonly<Record<string, string>>;
  readonly mode?: DeviceMode;
  readonly minSize: number;
}

export interface NodeDescription {
  readonly name: string;
  readonly exec: {
    readonly path: string;
    readonly args: readonly string[];
    readonly env: Readonly<Record<string, string>>;
    readonly name?: string;
  };
  readonly devices: readonly DeviceDescription[];
  /** Given explicitly (undefined: 1, or the wildcard's matches). */
  readonly count?: number;
  readonly connect: readonly string[];
  /** Copies on different hosts (2 or 3), when the server's executor replicates (DescriptionLimits.maxReplicate). */
  readonly replicate?: 2 | 3;
  /** A device name whose object the node should run next to (ZeroCloud's `attach`; 'default' is left out). */
  readonly attach?: string;
  /** Nodes of a job with the same location run on one host when possible. */
  readonly location?: string;
  /** An extension (ZeroCloud had none): split this node's connected group into this many parts on different workers (DescriptionLimits.maxSpread). */
  readonly spread?: number;
}

export type JobDescription = readonly NodeDescription[];

/** The description is malformed: the message names the node and field (a 400 response). */
export class JobDescriptionError extends Error {
  override name = 'JobDescriptionError';
}

/** The limits a description is checked against (the server's options). */
export interface DescriptionLimits {
  /** Nodes a job may have once counts and wildcards are expanded (checked by compile.ts) and groups it may list. */
  readonly maxNodes: number;
  /** Copies `replicate` may ask for: 1 on one host (the default), 3 with a cluster executor (spec/cluster.md). */
  readonly maxReplicate?: number;
  /** Parts `spread` may ask for: 1 on one host (the default: spread is refused), MAX_SPREAD with a cluster executor. */
  readonly maxSpread?: number;
}

const NODE_NAME = /^[A-Za-z0-9_]{1,64}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const META_KEY = /^[A-Za-z0-9_-]{1,128}$/;
const MAX_META_VALUE = 256;
const MAX_ARGS_BYTES = 64 * 1024;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isObject(value: unknown): value is { [key: string]: Json } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fail(where: string, problem: string): never {
  throw new JobDescriptionError(`${where}: ${problem}`);
}

function optionalString(value: Json | undefined, where: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') fail(where, `must be a string, not ${JSON.stringify(value)}`);
  return value;
}

/** `args` is a command line string split on blanks (ZeroCloud), or an array of strings (kept as given). */
function parseArgsField(value: Json | undefined, where: string): string[] {
  if (value === undefined || value === null) return [];
  if (typeof value === 'string') {
    if (Buffer.byteLength(value) > MAX_ARGS_BYTES) fail(where, `is longer than ${MAX_ARGS_BYTES} bytes`);
    return value.split(/\s+/).filter((a) => a !== '');
  }
  if (Array.isArray(value) && value.every((a) => typeof a === 'string')) {
    if (value.reduce((n, a) => n + Buffer.byteLength(a as string) + 1, 0) > MAX_ARGS_BYTES) fail(where, `is longer than ${MAX_ARGS_BYTES} bytes`);
    return value as string[];
  }
  return fail(where, 'must be a command line string ("-n 5 file") or an array of strings');
}

function stringMap(value: Json | undefined, where: string, key: RegExp, keyRule: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (!isObject(value)) fail(where, 'must be an object of string values');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (!key.test(k)) fail(`${where}.${k}`, `is not a valid name (${keyRule})`);
    if (typeof v !== 'string' && typeof v !== 'number') fail(`${where}.${k}`, 'must be a string');
    out[k] = String(v);
  }
  return out;
}

/**
 * `/CONTAINER/OBJECT` -> `swift://~/CONTAINER/OBJECT`: the paths of
 * ZeroCloud's first format (Servlets.md rule 11, "each path must start
 * with /"), which open/1.0 templates still make of `{.object_path}`.
 */
function accountPath(path: string | undefined): string | undefined {
  return path !== undefined && path.startsWith('/') ? `swift://~${path}` : path;
}

function parseDevice(value: Json, where: string, allowed: ReadonlySet<string>): DeviceDescription {
  if (!isObject(value)) fail(where, 'must be an object like {"name": "stdout"}');
  const name = optionalString(value.name ?? value.device, `${where}.name`);
  if (name === undefined) fail(where, 'has no "name" (stdin, stdout, stderr, input, output, image, script, or a system image)');
  if (name === 'debug') fail(`${where} (debug)`, 'network devices are not supported by this server (no sessions reach the network)');
  if (!allowed.has(name)) fail(`${where}.name`, `'${name}' is not a device: use one of ${[...allowed].join(', ')}`);
  const path = accountPath(optionalString(value.path, `${where}.path`));
  if (path !== undefined && path.length === 0) fail(`${where}.path`, 'is empty; leave it out instead');
  const contentType = optionalString(value.content_type, `${where}.content_type`);
  if (contentType !== undefined && !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+\/[!#$%&'*+.^_`|~0-9A-Za-z-]+(\s*;[\x20-\x7e]*)?$/.test(contentType)) fail(`${where}.content_type`, `'${contentType}' is not a MIME type like text/plain`);
  const meta = stringMap(value.meta, `${where}.meta`, META_KEY, 'letters, digits, _ and -');
  for (const [k, v] of Object.entries(meta)) if (v.length > MAX_META_VALUE || /[\r\n\0]/.test(v)) fail(`${where}.meta.${k}`, `must be one line of at most ${MAX_META_VALUE} characters`);
  const mode = optionalString(value.mode, `${where}.mode`);
  if (mode !== undefined && !(DEVICE_MODES as readonly string[]).includes(mode)) fail(`${where}.mode`, `'${mode}' is not one of ${DEVICE_MODES.join(', ')}`);
  const minSize = value.min_size ?? 0;
  if (typeof minSize !== 'number' || !Number.isSafeInteger(minSize) || minSize < 0) fail(`${where}.min_size`, 'must be a whole number of bytes, at least 0');
  return { name, ...(path === undefined ? {} : { path }), ...(contentType === undefined ? {} : { contentType }), meta, ...(mode === undefined ? {} : { mode: mode as DeviceMode }), minSize };
}

function parseNode(value: Json, index: number, allowed: ReadonlySet<string>, maxReplicate: number, maxSpread: number): NodeDescription {
  const at = `node ${index + 1}`;
  if (!isObject(value)) fail(at, 'must be an object like {"name": "hello", "exec": {"path": "swift://~/bin/hello.nexe"}}');
  const name = optionalString(value.name, `${at}.name`);
  if (name === undefined) fail(at, 'has no "name"');
  if (!NODE_NAME.test(name)) fail(`${at}.name`, `'${name}' must be 1 to 64 letters, digits or _`);
  const where = `node '${name}'`;
  const exec = value.exec;
  if (!isObject(exec)) fail(`${where}.exec`, 'is required: {"path": "swift://~/container/program.nexe"}');
  const path = accountPath(optionalString(exec.path, `${where}.exec.path`));
  if (path === undefined || path.length === 0) fail(`${where}.exec.path`, 'is required (swift://~/container/object, file://IMAGE:PATH, or a path inside the image)');
  const argv0 = optionalString(exec.name, `${where}.exec.name`);
  const args = parseArgsField(exec.args ?? value.args, `${where}.exec.args`);
  const env = stringMap(exec.env, `${where}.exec.env`, ENV_NAME, 'a letter or _, then letters, digits or _');
  const deviceList = value.devices ?? value.file_list ?? [];
  if (!Array.isArray(deviceList)) fail(`${where}.devices`, 'must be an array of devices');
  const devices = deviceList.map((d, i) => parseDevice(d, `${where}.devices[${i}]`, allowed));
  const seen = new Set<string>();
  for (const d of devices) {
    if (seen.has(d.name)) fail(`${where}.devices`, `'${d.name}' is listed twice`);
    seen.add(d.name);
  }
  const pathless = devices.filter((d) => d.path === undefined);
  for (const d of pathless) {
    if (DEVICE_KINDS[d.name]?.image === true) fail(`${where}.devices (image)`, 'needs a path (swift://~/container/image.tar)');
  }
  for (const d of devices) {
    if (DEVICE_KINDS[d.name]?.image === true && d.mode !== undefined) fail(`${where}.devices (image).mode`, 'the image is mounted as the file system, not a channel the program stats; leave mode out');
  }
  let count: number | undefined;
  if (value.count !== undefined && value.count !== null) {
    if (typeof value.count !== 'number' || !Number.isSafeInteger(value.count) || value.count < 1) fail(`${where}.count`, 'must be a whole number, at least 1');
    count = value.count;
  }
  const connect = value.connect ?? [];
  if (!Array.isArray(connect) || connect.some((c) => typeof c !== 'string')) fail(`${where}.connect`, 'must be an array of node names');
  const replicate = value.replicate ?? 1;
  if (replicate !== 1 && replicate !== 2 && replicate !== 3) fail(`${where}.replicate`, 'must be 1, 2 or 3');
  if (replicate > maxReplicate) fail(`${where}.replicate`, maxReplicate === 1 ? 'replication is not supported on one host (leave it out, or 1)' : `this server runs at most ${maxReplicate} copies of a node`);
  const attach = optionalString(value.attach, `${where}.attach`);
  if (attach !== undefined && attach !== 'default' && !devices.some((d) => d.name === attach)) fail(`${where}.attach`, `'${attach}' is not one of the node's devices (${devices.map((d) => d.name).join(', ') || 'none'}), nor 'default'`);
  const location = optionalString(value.location, `${where}.location`);
  const spread = value.spread ?? 1;
  if (typeof spread !== 'number' || !Number.isSafeInteger(spread) || spread < 1) fail(`${where}.spread`, 'must be a whole number, at least 1 (the parts the node\'s connected group is split into, on different workers)');
  if (spread > maxSpread) fail(`${where}.spread`, maxSpread === 1 ? 'splitting a connected group over workers needs a cluster (zerovm serve --nats); leave it out, or 1, on one host' : `this server splits a group into at most ${maxSpread} parts`);
  return {
    name,
    exec: { path, args, env, ...(argv0 === undefined ? {} : { name: argv0 }) },
    devices,
    ...(count === undefined ? {} : { count }),
    connect: connect as string[],
    ...(replicate === 1 ? {} : { replicate }),
    ...(attach === undefined || attach === 'default' ? {} : { attach }),
    ...(location === undefined || location === '' ? {} : { location }),
    ...(spread === 1 ? {} : { spread }),
  };
}

/**
 * Parses a job description (the request body or `boot/system.map`).
 * `sysimages` are the names of the server's system images, which are
 * devices too.
 */
export function parseJobDescription(text: string, sysimages: readonly string[], limits: DescriptionLimits): JobDescription {
  let doc: Json;
  try {
    doc = JSON.parse(text) as Json;
  } catch (error) {
    throw new JobDescriptionError(`the job description is not JSON: ${(error as Error).message}`);
  }
  if (isObject(doc)) doc = [doc];
  if (!Array.isArray(doc) || doc.length === 0) throw new JobDescriptionError('the job description must be a non-empty array of nodes: [{"name": ..., "exec": {"path": ...}, "devices": [...]}]');
  if (doc.length > limits.maxNodes) throw new JobDescriptionError(`the job has ${doc.length} nodes; this server runs at most ${limits.maxNodes} per job (--max-nodes)`);
  const allowed = new Set([...Object.keys(DEVICE_KINDS), ...sysimages]);
  const nodes = doc.map((n, i) => parseNode(n, i, allowed, limits.maxReplicate ?? 1, limits.maxSpread ?? 1));
  const names = new Set<string>();
  for (const n of nodes) {
    if (names.has(n.name)) throw new JobDescriptionError(`node '${n.name}' is described twice`);
    names.add(n.name);
  }
  return nodes;
}
