/**
 * Job description -> JobPlan: every rule of ZeroCloud's servlet format that
 * needs the object store (spec/serving.md, "Job descriptions"):
 *
 * - paths: `swift://ACCOUNT/CONTAINER/OBJECT` (URL-encoded parts; `~` is the
 *   requester's account); readable objects must exist and are hard-linked
 *   into the job's directory (the job reads the version it started with);
 *   writable ones go to files in that directory, which finish.ts makes
 *   objects once the node has ended, atomically;
 * - wildcards: `*` in a readable device's object name (stdin, input, image,
 *   script) makes one node per matching object (count is then ignored); the
 *   text each `*` matched replaces the same-numbered `*` of the node's
 *   writable paths. A writable path with `*` and no readable wildcard takes
 *   the node's number (1..count);
 * - names: `name` for a single node, `name-1..name-N` when `count` > 1 or a
 *   wildcard made them;
 * - connect: node A connecting to B gives A a channel `/dev/out/B` and B a
 *   channel `/dev/in/A`, a pipe of the job; B names one node or every node
 *   of a group (a node never connects to itself);
 * - the writable device without a path is the response body; readable
 *   devices without a path read the request body (X-Zerovm-Source);
 * - exec.path: a swift object, `file://IMAGE:PATH` (a system image),
 *   `file://PATH` or a relative path (the node's image, then the system
 *   images in their order);
 * - a device's `mode` becomes its channel's stat() type (NodePlan
 *   channelModes); the node's local object (attach) its LOCAL_* variables.
 *
 * Where: the server and `zerovm job` call compileJob, hand `plan` to a
 * JobExecutor (executor.ts) and `CompiledJob` with the results to
 * finish.ts. Errors are JobDescriptionError (400) or JobResolveError (404:
 * an object or container that does not exist).
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EngineName } from '../api/engine-choice.js';
import type { ChannelLimits } from '../api/session.js';
import { DEVICE_KINDS, JobDescriptionError, SYSIMAGE_KIND, type DeviceDescription, type DeviceKind, type JobDescription, type NodeDescription } from './description.js';
import type { MappingMode } from '../runtime/nvram.js';
import type { NodeChannel, NodeInput, NodeOutput, NodePlan, JobPlan, PipePlan } from './executor.js';
import { ImageError, TarImage } from './images.js';

/** What a job needs of an object: its metadata and a local file. */
export interface JobObject {
  readonly name: string;
  readonly size: number;
  readonly etag: string;
  readonly contentType: string;
  readonly meta: Readonly<Record<string, string>>;
  readonly timestamp: number;
}

/** The object store as jobs see it (src/serve/store.ts is one; a cluster's store another). */
export interface JobStorage<O extends JobObject = JobObject> {
  stat(account: string, container: string, object: string): O | undefined;
  listContainer(account: string, container: string, options?: { readonly prefix?: string }): readonly JobObject[] | undefined;
  hasContainer(account: string, container: string): boolean;
  /** A host file in `dir` with the object's bytes, unaffected by later writes to the object. */
  linkInto(object: O, dir: string, name: string): string;
}

/** A referenced object or container does not exist (a 404 response). */
export class JobResolveError extends Error {
  override name = 'JobResolveError';
}

/** Where an object lives. */
export interface ObjectPath {
  readonly account: string;
  readonly container: string;
  readonly object: string;
}

/** How an output's bytes are read when the device's content type is message/http or message/cgi. */
export type OutputParsing = 'http' | 'cgi' | undefined;

interface OutputCommon {
  readonly node: string;
  /** The channel alias ('/dev/stdout'). */
  readonly alias: string;
  readonly contentType: string | undefined;
  readonly meta: Readonly<Record<string, string>>;
  readonly minSize: number;
  readonly parse: OutputParsing;
}

/** A writable device with a path: the file the node writes, and the object it becomes. */
export interface OutputTarget extends OutputCommon {
  readonly file: string;
  readonly target: ObjectPath;
}

/** A writable device without a path: part of the response body. */
export type ResponsePart = OutputCommon;

export interface CompiledJob {
  readonly plan: JobPlan;
  readonly outputs: readonly OutputTarget[];
  readonly response: readonly ResponsePart[];
  /** Host paths in the plan and how a user knows them (error messages are shown with these, never with host paths). */
  readonly shownAs: ReadonlyMap<string, string>;
}

export interface CompileContext<O extends JobObject = JobObject> {
  /** The requester's account (`~`). */
  readonly account: string;
  readonly storage: JobStorage<O>;
  /** The job's own directory (removed by the caller after the job). */
  readonly dir: string;
  /** The server's system images, by name, in their configured order. */
  readonly sysimages: ReadonlyMap<string, TarImage>;
  /** The tar POSTed as the request: the image of every node that names none. */
  readonly image?: TarImage;
  /** A host file with the request body: what a readable device without a path reads (X-Zerovm-Source). */
  readonly body?: string;
  /** A host file the `script` device reads when it has no path (a POSTed script); else it reads `body` as the others do. */
  readonly script?: string;
  /** CGI/1.1 variables for nodes with a message/cgi or message/http device (a function: called only for such nodes). */
  readonly cgi?: CgiVariables;
  readonly maxNodes: number;
  /** Pipes one job may have (connect). Default DEFAULT_MAX_PIPES. */
  readonly maxPipes?: number;
  /** Bytes each writable device may write (a flood ends with a write error in that session only). Default: unlimited. */
  readonly maxOutput?: number;
  readonly defaults?: { readonly memory?: number; readonly timeout?: number; readonly engine?: EngineName };
}

/** CGI/1.1 variables, or what makes them when a node first needs them (a server builds them only for the jobs that read them). */
export type CgiVariables = Readonly<Record<string, string>> | (() => Readonly<Record<string, string>>);

/** Pipes per job unless the context says otherwise: a mesh of 32 nodes, or a thousand mappers into one reducer. */
export const DEFAULT_MAX_PIPES = 1024;

const SWIFT = 'swift://';
const FILE = 'file://';

/** Parses `swift://ACCOUNT/CONTAINER/OBJECT` (parts URL-encoded, `~` the requester's account). */
export function parseSwiftPath(path: string, account: string, where: string): ObjectPath {
  if (!path.startsWith(SWIFT)) throw new JobDescriptionError(`${where}: '${path}' is not an object path; write swift://~/CONTAINER/OBJECT (or swift://ACCOUNT/CONTAINER/OBJECT)`);
  const rest = path.slice(SWIFT.length);
  const first = rest.indexOf('/');
  const second = first < 0 ? -1 : rest.indexOf('/', first + 1);
  if (first <= 0 || second <= first + 1 || second === rest.length - 1) throw new JobDescriptionError(`${where}: '${path}' needs an account, a container and an object: swift://~/CONTAINER/OBJECT`);
  const decode = (part: string): string => {
    try {
      return decodeURIComponent(part);
    } catch {
      throw new JobDescriptionError(`${where}: '${path}' has a malformed %-escape`);
    }
  };
  const accountPart = rest.slice(0, first);
  return { account: accountPart === '~' ? account : decode(accountPart), container: decode(rest.slice(first + 1, second)), object: decode(rest.slice(second + 1)) };
}

function showPath(p: ObjectPath): string {
  return `swift://${p.account}/${p.container}/${p.object}`;
}

/** A wildcard's matches: each matching object and the texts its `*`s matched, in name order. */
function expandWildcard(path: ObjectPath, storage: JobStorage, where: string): { object: string; parts: string[] }[] {
  if (path.container.includes('*') || path.account.includes('*')) throw new JobDescriptionError(`${where}: wildcards are allowed in object names only, not in accounts or containers`);
  const pattern = new RegExp(`^${path.object.split('*').map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('(.*)')}$`, 's');
  const prefix = path.object.slice(0, path.object.indexOf('*'));
  const listing = storage.listContainer(path.account, path.container, { prefix });
  if (listing === undefined) throw new JobResolveError(`${where}: container swift://${path.account}/${path.container} does not exist`);
  const out: { object: string; parts: string[] }[] = [];
  for (const o of listing) {
    const m = pattern.exec(o.name);
    if (m) out.push({ object: o.name, parts: m.slice(1) });
  }
  return out;
}

/** Replaces the `*`s of a writable path, in order, with `parts`. */
function substitute(path: ObjectPath, parts: readonly string[], where: string): ObjectPath {
  const pieces = path.object.split('*');
  if (pieces.length - 1 > parts.length) throw new JobDescriptionError(`${where}: the path has ${pieces.length - 1} '*' but the readable wildcard matched ${parts.length}`);
  return { ...path, object: pieces.reduce((acc, piece, i) => (i === 0 ? piece : acc + (parts[i - 1] as string) + piece), '') };
}

function kindOf(device: DeviceDescription, ctx: CompileContext): DeviceKind {
  const kind = DEVICE_KINDS[device.name] ?? (ctx.sysimages.has(device.name) ? SYSIMAGE_KIND : undefined);
  if (kind === undefined) throw new JobDescriptionError(`device '${device.name}' is neither a standard device nor a system image of this server`);
  return kind;
}

function parsingOf(contentType: string | undefined): OutputParsing {
  const base = contentType?.split(';')[0]?.trim().toLowerCase();
  return base === 'message/http' ? 'http' : base === 'message/cgi' ? 'cgi' : undefined;
}

/** One group of the description expanded: its node names and, per node, the wildcard's texts. */
interface Expanded {
  readonly group: NodeDescription;
  readonly names: readonly string[];
  /** The object each node's readable wildcard device reads, and what its `*`s matched. */
  readonly matches: readonly ({ object: string; parts: string[] } | undefined)[];
  readonly wildcardDevice: string | undefined;
  readonly multiple: boolean;
}

function expandGroup(group: NodeDescription, ctx: CompileContext): Expanded {
  const where = `node '${group.name}'`;
  const wild = group.devices.filter((d) => d.path !== undefined && d.path.includes('*'));
  const readableWild = wild.filter((d) => kindOf(d, ctx).readable);
  if (readableWild.length > 1) throw new JobDescriptionError(`${where}: only one readable device may have a wildcard (${readableWild.map((d) => d.name).join(', ')} have)`);
  const source = readableWild[0];
  if (source !== undefined) {
    for (const d of group.devices) {
      if (kindOf(d, ctx).writable && d.path !== undefined && !d.path.includes('*')) {
        throw new JobDescriptionError(`${where}.devices (${d.name}): ${source.name} has a wildcard, so this writable path needs one too (each node writes its own object), or no path`);
      }
    }
    const path = parseSwiftPath(source.path as string, ctx.account, `${where}.devices (${source.name})`);
    const matches = expandWildcard(path, ctx.storage, `${where}.devices (${source.name})`);
    if (matches.length === 0) throw new JobResolveError(`${where}.devices (${source.name}): no object matches ${showPath(path)}`);
    return { group, names: matches.map((_, i) => `${group.name}-${i + 1}`), matches, wildcardDevice: source.name, multiple: true };
  }
  const count = group.count ?? 1;
  /* before any per-node work: a count of a billion must cost nothing */
  if (count > ctx.maxNodes) throw new JobDescriptionError(`${where}: count ${count}: this server runs at most ${ctx.maxNodes} per job (--max-nodes)`);
  if (wild.length > 0 && count === 1) throw new JobDescriptionError(`${where}.devices (${wild[0]!.name}): a '*' in a writable path needs a readable wildcard or a count above 1 (it is replaced by the matched text, or the node's number)`);
  const multiple = count > 1;
  return { group, names: multiple ? Array.from({ length: count }, (_, i) => `${group.name}-${i + 1}`) : [group.name], matches: Array.from({ length: count }, () => undefined), wildcardDevice: undefined, multiple };
}

/** A device of a node with an object path: a candidate for the node's local object. */
interface Located {
  readonly device: DeviceDescription;
  readonly kind: DeviceKind;
  readonly path: ObjectPath;
  /** The object a readable device reads (writable devices have none yet). */
  readonly object?: JobObject;
}

/**
 * The node's local object (ZeroCloud doc/Servlets.md rule 17, "attach"):
 * the device `attach` names, else the first device with an object path,
 * readable ones first, then the image, then writable ones, in the order
 * the description lists them; `script` only when no other device has a path.
 */
function localObject(attach: string | undefined, located: readonly Located[]): Located | undefined {
  if (attach !== undefined) return located.find((l) => l.device.name === attach);
  const rank = (l: Located): number => (l.kind.image ? 1 : l.kind.readable ? 0 : 2);
  const sorted = [...located].sort((a, b) => rank(a) - rank(b));
  return sorted.find((l) => l.device.name !== 'script') ?? sorted[0];
}

/** `X-Object-Meta-Key` -> `LOCAL_HTTP_X_OBJECT_META_KEY` (anything but letters, digits and _ becomes _, so the name is an environment name). */
function localMetaName(key: string): string {
  return `LOCAL_HTTP_X_OBJECT_META_${key.toUpperCase().replace(/[^A-Z0-9_]/g, '_')}`;
}

/**
 * ZeroCloud's LOCAL_* variables for the node's local object
 * (doc/CGIEnvironment.md, "Non-standard local file vars"): what the object
 * is when the node reads it (length, type, etag, timestamp, metadata), what
 * it will be when the node writes it (type and metadata of the device),
 * and in both cases the device, LOCAL_OBJECT=on and the object's path.
 */
function localVariables(local: Located | undefined): Record<string, string> {
  if (local === undefined) return {};
  const env: Record<string, string> = {};
  if (local.object !== undefined) {
    env.LOCAL_CONTENT_LENGTH = String(local.object.size);
    env.LOCAL_CONTENT_TYPE = local.object.contentType;
    env.LOCAL_HTTP_ETAG = local.object.etag;
    env.LOCAL_HTTP_X_TIMESTAMP = (local.object.timestamp / 1000).toFixed(5);
    for (const [k, v] of Object.entries(local.object.meta)) env[localMetaName(k)] = v;
  } else {
    env.LOCAL_CONTENT_TYPE = local.device.contentType ?? 'application/octet-stream';
    for (const [k, v] of Object.entries(local.device.meta)) env[localMetaName(k)] = v;
  }
  env.LOCAL_DOCUMENT_ROOT = `/dev/${local.device.name}`;
  env.LOCAL_OBJECT = 'on';
  env.LOCAL_PATH_INFO = `/${local.path.account}/${local.path.container}/${local.path.object}`;
  return env;
}

class Compiler {
  private readonly linked = new Map<string, string>();
  private readonly objects = new Map<string, JobObject>();
  private readonly shownAs = new Map<string, string>();
  private readonly outputs: OutputTarget[] = [];
  private readonly response: ResponsePart[] = [];
  private readonly written = new Map<string, string>();
  private fileCount = 0;

  constructor(private readonly ctx: CompileContext) {}

  private newFile(kind: string): string {
    return join(this.ctx.dir, `${kind}-${++this.fileCount}`);
  }

  /** A readable object as a host file (linked once per job). */
  private readable(path: ObjectPath, where: string): string {
    const key = showPath(path);
    const known = this.linked.get(key);
    if (known !== undefined) return known;
    let object: JobObject | undefined;
    try {
      object = this.ctx.storage.stat(path.account, path.container, path.object);
    } catch (error) {
      throw new JobDescriptionError(`${where}: ${showPath(path)}: ${(error as Error).message}`);
    }
    if (object === undefined) throw new JobResolveError(`${where}: ${showPath(path)} does not exist`);
    const file = this.ctx.storage.linkInto(object, this.ctx.dir, `in-${++this.fileCount}`);
    this.linked.set(key, file);
    this.objects.set(key, object);
    this.shownAs.set(file, key);
    return file;
  }

  private fromImage(image: TarImage, member: string, where: string): string | undefined {
    try {
      const file = image.extract(member);
      if (file !== undefined) this.shownAs.set(file, `file://${image.name}:${member}`);
      return file;
    } catch (error) {
      if (error instanceof ImageError) throw new JobDescriptionError(`${where}: ${error.message}`);
      throw error;
    }
  }

  /** exec.path -> the program's host file, and the system image it came from (the node's default image). */
  private program(group: NodeDescription, nodeImage: TarImage | undefined): { file: string; sysimage: TarImage | undefined } {
    const where = `node '${group.name}'.exec.path`;
    const path = group.exec.path;
    if (path.startsWith(SWIFT)) return { file: this.readable(parseSwiftPath(path, this.ctx.account, where), where), sysimage: undefined };
    let member = path;
    if (path.startsWith(FILE)) {
      const rest = path.slice(FILE.length);
      const colon = rest.indexOf(':');
      if (colon > 0) {
        const name = rest.slice(0, colon);
        const image = this.ctx.sysimages.get(name);
        if (image === undefined) throw new JobDescriptionError(`${where}: '${path}' names the image '${name}', which is not a system image of this server (${[...this.ctx.sysimages.keys()].join(', ') || 'it has none'})`);
        const file = this.fromImage(image, rest.slice(colon + 1), where);
        if (file === undefined) throw new JobResolveError(`${where}: system image '${name}' has no file '${rest.slice(colon + 1)}'`);
        return { file, sysimage: image };
      }
      member = rest;
    } else if (path.includes('://')) {
      throw new JobDescriptionError(`${where}: '${path}': the program is swift://~/CONTAINER/OBJECT, file://IMAGE:PATH, or a path inside the node's image`);
    }
    if (nodeImage !== undefined) {
      const file = this.fromImage(nodeImage, member, where);
      if (file !== undefined) return { file, sysimage: undefined };
    }
    for (const image of this.ctx.sysimages.values()) {
      const file = this.fromImage(image, member, where);
      if (file !== undefined) return { file, sysimage: image };
    }
    throw new JobResolveError(`${where}: no image of this node has '${member}' (the node's image, then the system images: ${[...this.ctx.sysimages.keys()].join(', ') || 'none'})`);
  }

  private writable(node: string, device: DeviceDescription, path: ObjectPath | undefined, random: boolean, where: string): { output: NodeOutput; file?: string } {
    const common = { node, alias: `/dev/${device.name}`, contentType: device.contentType, meta: device.meta, minSize: device.minSize, parse: parsingOf(device.contentType) };
    if (path === undefined) {
      this.response.push(common);
      return { output: 'buffer' };
    }
    const key = showPath(path);
    const other = this.written.get(key);
    if (other !== undefined) throw new JobDescriptionError(`${where}: ${key} is also written by ${other}; each object is written by one device of one node`);
    this.written.set(key, `node '${node}' (${device.name})`);
    if (!this.ctx.storage.hasContainer(path.account, path.container)) throw new JobResolveError(`${where}: container swift://${path.account}/${path.container} does not exist (create it first)`);
    const file = this.newFile('out');
    /* a random-access output is opened for reading and writing, so it must exist */
    if (random) writeFileSync(file, '');
    this.shownAs.set(file, key);
    this.outputs.push({ ...common, file, target: path });
    return { output: { file }, file };
  }

  compile(description: JobDescription): CompiledJob {
    const groups = description.map((g) => expandGroup(g, this.ctx));
    const total = groups.reduce((n, g) => n + g.names.length, 0);
    if (total > this.ctx.maxNodes) throw new JobDescriptionError(`the job expands to ${total} nodes; this server runs at most ${this.ctx.maxNodes} per job (--max-nodes)`);
    const nodes: { plan: NodePlan; channels: NodeChannel[] }[] = [];
    for (const g of groups) {
      g.names.forEach((name, i) => nodes.push(this.node(g, name, i)));
    }
    const pipes = this.connect(groups, nodes);
    const plan: JobPlan = { nodes: nodes.map((n) => ({ ...n.plan, channels: n.channels })), ...(pipes.length > 0 ? { pipes } : {}) };
    return { plan, outputs: this.outputs, response: this.response, shownAs: this.shownAs };
  }

  private node(g: Expanded, name: string, index: number): { plan: NodePlan; channels: NodeChannel[] } {
    const group = g.group;
    const where = `node '${name}'`;
    const match = g.matches[index];
    const channels: NodeChannel[] = [];
    let stdin: NodeInput | undefined;
    let stdout: NodeOutput = 'discard';
    let stderr: NodeOutput = 'discard';
    let image: string | undefined;
    let imageTar: TarImage | undefined = this.ctx.image;
    let pathlessReadable: string | undefined;
    let cgi = false;
    const standardLimits: Partial<Record<'/dev/stdout' | '/dev/stderr', ChannelLimits>> = {};
    const modes: Record<string, MappingMode> = {};
    const located: Located[] = [];
    for (const device of group.devices) {
      const kind = kindOf(device, this.ctx);
      const at = `${where}.devices (${device.name})`;
      if (parsingOf(device.contentType) !== undefined) cgi = true;
      /* 'block' keeps the channel's default (description.ts DEVICE_MODES) */
      if (device.mode !== undefined && device.mode !== 'block' && !kind.image) modes[`/dev/${device.name}`] = device.mode;
      if (this.ctx.sysimages.has(device.name)) {
        if (device.path !== undefined) throw new JobDescriptionError(`${at}: a system image has no path (the server gives it)`);
        channels.push({ alias: `/dev/${device.name}`, input: { file: this.ctx.sysimages.get(device.name)!.path } });
        continue;
      }
      if (kind.readable) {
        let file: string;
        if (device.path === undefined && device.name === 'script' && this.ctx.script !== undefined) {
          file = this.ctx.script;
        } else if (device.path === undefined) {
          if (this.ctx.body === undefined) throw new JobDescriptionError(`${at}: needs a path (swift://~/CONTAINER/OBJECT), or its data as the request body with X-Zerovm-Source`);
          if (pathlessReadable !== undefined) throw new JobDescriptionError(`${at}: ${pathlessReadable} already reads the request body; only one readable device of a node may have no path`);
          pathlessReadable = device.name;
          file = this.ctx.body;
        } else {
          let path = parseSwiftPath(device.path, this.ctx.account, at);
          if (g.wildcardDevice === device.name && match !== undefined) path = { ...path, object: match.object };
          file = this.readable(path, at);
          const object = this.objects.get(showPath(path));
          located.push({ device, kind, path, ...(object === undefined ? {} : { object }) });
        }
        if (kind.image) {
          image = file;
          imageTar = undefined;
        } else if (device.name === 'stdin') stdin = { file };
        else channels.push({ alias: `/dev/${device.name}`, input: { file } });
        continue;
      }
      let target: ObjectPath | undefined;
      if (device.path !== undefined) {
        target = parseSwiftPath(device.path, this.ctx.account, at);
        if (target.object.includes('*')) target = substitute(target, match?.parts ?? [String(index + 1)], at);
        located.push({ device, kind, path: target });
      }
      const { output, file } = this.writable(name, device, target, kind.random, at);
      const limits = this.ctx.maxOutput === undefined ? undefined : { putSize: this.ctx.maxOutput };
      if (device.name === 'stdout' || device.name === 'stderr') {
        if (device.name === 'stdout') stdout = output;
        else stderr = output;
        if (limits !== undefined) standardLimits[`/dev/${device.name}`] = limits;
      } else if (file !== undefined) channels.push({ alias: `/dev/${device.name}`, file, access: 'read-write', ...(limits === undefined ? {} : { limits }) });
      else channels.push({ alias: `/dev/${device.name}`, output, ...(limits === undefined ? {} : { limits }) });
    }
    const nodeImage = image !== undefined ? this.imageOf(image, where) : imageTar;
    const program = this.program(group, nodeImage);
    const mounted = image ?? this.ctx.image?.path ?? program.sysimage?.path;
    /* LOCAL_* last: they describe the node's object and win over exec.env, as in ZeroCloud's nvram */
    const cgiVariables = cgi ? (typeof this.ctx.cgi === 'function' ? this.ctx.cgi() : this.ctx.cgi) : undefined;
    const local = localVariables(localObject(group.attach, located));
    const env = { ...(cgiVariables !== undefined ? { ...cgiVariables, SCRIPT_NAME: name, SCRIPT_FILENAME: group.exec.path } : {}), ...group.exec.env, ...local };
    /*
     * Warm starts (spec/serving.md "Warm starts in zerovm serve"): a node
     * whose environment is the same from request to request may start from
     * its program's set-up snapshot. LOCAL_* (the node's object) and CGI
     * variables (the request's) make each object or request a set-up key of
     * its own, which would run the set-up for nearly every node: those run cold.
     */
    const warm = Object.keys(local).length === 0 && cgiVariables === undefined;
    const defaults = this.ctx.defaults ?? {};
    const plan: NodePlan = {
      name,
      program: program.file,
      argv0: group.exec.name ?? name,
      args: group.exec.args,
      env,
      ...(stdin === undefined ? {} : { stdin }),
      stdout,
      stderr,
      ...(Object.keys(standardLimits).length === 0 ? {} : { channelLimits: standardLimits }),
      ...(mounted === undefined ? {} : { image: mounted }),
      ...(Object.keys(modes).length === 0 ? {} : { channelModes: modes }),
      ...(defaults.memory === undefined ? {} : { memory: defaults.memory }),
      ...(defaults.timeout === undefined ? {} : { timeout: defaults.timeout }),
      ...(defaults.engine === undefined ? {} : { engine: defaults.engine }),
      ...(warm ? { warm } : {}),
      /* placement and replication: meaningful to a cluster executor (spec/cluster.md) */
      ...(group.replicate === undefined ? {} : { replicate: group.replicate }),
      ...(group.attach === undefined ? {} : { attach: group.devices.some((d) => d.name === group.attach && kindOf(d, this.ctx).image) ? 'image' : `/dev/${group.attach}` }),
      ...(group.location === undefined ? {} : { location: group.location }),
      ...(group.spread === undefined ? {} : { spread: group.spread }),
    };
    return { plan, channels };
  }

  /** The node's image device as a tar to take a relative program from (extracted into the job's directory). */
  private imageOf(file: string, where: string): TarImage {
    if (!existsSync(file)) throw new JobResolveError(`${where}: its image is missing`);
    return new TarImage(this.shownAs.get(file) ?? 'the image', file, join(this.ctx.dir, 'image-members'));
  }

  private connect(groups: readonly Expanded[], nodes: { plan: NodePlan; channels: NodeChannel[] }[]): PipePlan[] {
    const byGroup = new Map(groups.map((g) => [g.group.name, g]));
    const byNode = new Map(nodes.map((n) => [n.plan.name, n]));
    const pipes: PipePlan[] = [];
    const ids = new Set<string>();
    const maxPipes = this.ctx.maxPipes ?? DEFAULT_MAX_PIPES;
    for (const g of groups) {
      for (const dest of g.group.connect) {
        const where = `node '${g.group.name}'.connect`;
        const targetGroup = byGroup.get(dest);
        let targets: readonly string[];
        if (targetGroup !== undefined) targets = targetGroup.names;
        else if (byNode.has(dest)) targets = [dest];
        else throw new JobDescriptionError(`${where}: '${dest}' is not a node of this job (nodes: ${groups.map((x) => x.group.name).join(', ')})`);
        for (const from of g.names) {
          const to = targets.filter((t) => t !== from);
          if (to.length === 0) throw new JobDescriptionError(`${where}: '${from}' cannot connect to itself (a group connects to its other nodes only when it has several)`);
          for (const t of to) {
            const id = `${from}>${t}`;
            if (ids.has(id)) continue;
            /* a group of n connected to itself has n(n-1) pipes: refused as it grows, before it takes the host's memory */
            if (pipes.length === maxPipes) throw new JobDescriptionError(`${where}: the job connects more than ${maxPipes} pipes, the most one job may have; connect fewer nodes`);
            ids.add(id);
            pipes.push({ id, from, to: t });
            byNode.get(from)!.channels.push({ alias: `/dev/out/${t}`, output: { pipe: id } });
            byNode.get(t)!.channels.push({ alias: `/dev/in/${from}`, input: { pipe: id } });
          }
        }
      }
    }
    return pipes;
  }
}

/** Compiles a parsed description for one request (see the module comment). */
export function compileJob(description: JobDescription, ctx: CompileContext): CompiledJob {
  return new Compiler(ctx).compile(description);
}
