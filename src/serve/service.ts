/**
 * The execution requests of ZeroCloud's API, independent of HTTP: a job
 * description, a tar image with `boot/system.map`, a script run by the
 * interpreter its `#!` line names, a stored job named by X-Zerovm-Source,
 * and `open/1.0` (a zapp object's own job, or the application registered
 * for an object's content type) (spec/serving.md, "Execution").
 *
 * Where: src/serve/server.ts maps HTTP requests here; `zerovm job` calls
 * runDescription directly. Each request gets a directory of its own under
 * the store's tmp/ (its inputs linked, its outputs written, its image
 * unpacked), removed when the response is built. Errors a client caused are
 * HttpError with a status and a message free of host paths.
 *
 * Warm starts (spec/serving.md "Warm starts in zerovm serve"): compile.ts
 * marks the nodes that may start from their program's set-up snapshot, and
 * the executor keeps the snapshots; nothing in this module depends on how
 * a node starts.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { JobDescriptionError, parseJobDescription, type JobDescription, type NodeDescription } from '../jobs/description.js';
import { compileJob, JobResolveError, parseSwiftPath, type CgiVariables } from '../jobs/compile.js';
import type { EngineName } from '../api/engine-choice.js';
import type { JobExecutor, NodeResult } from '../jobs/executor.js';
import { finishJob, Scrubber, type JobResponse } from '../jobs/finish.js';
import { ImageError, TarImage } from '../jobs/images.js';
import { PlanRefusedError } from '../jobs/in-process.js';
import { JobPlanError } from '../jobs/plan.js';
import { NameError } from './names.js';
import type { JobView, StoreBackend } from './object-store.js';
import { NO_WORKER, type JobRecorder } from '../jobs/records.js';

/** A request the service refuses: status and a message for the client. */
export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** A tar without boot/system.map: 400 when POSTed; open/1.0 then looks for the type's application instead. */
class NoSystemMapError extends HttpError {
  override name = 'NoSystemMapError';
}

export interface ServiceLimits {
  /** Nodes per job, after counts and wildcards. */
  readonly maxNodes: number;
  /** Bytes of a job description (ZeroCloud's zerovm_maxconfig: 64 KiB). */
  readonly maxJobBytes: number;
  /** Bytes each writable device of a node may write. */
  readonly maxOutput: number;
  /** Copies of a node the executor runs (`replicate`): 1 on one host, the NATS executor's maxReplicate on a cluster. */
  readonly maxReplicate?: number;
  /** Parts a job's `spread` may ask for: 1 on one host (refused), the NATS executor's maxSpread on a cluster. */
  readonly maxSpread?: number;
}

export interface ServiceOptions {
  readonly store: StoreBackend;
  readonly executor: JobExecutor;
  /** Where jobs are noted (a cluster's KV bucket); none on one host. */
  readonly records?: JobRecorder;
  /** System images by name, in the order --sysimage gave them. */
  readonly sysimages: ReadonlyMap<string, TarImage>;
  readonly limits: ServiceLimits;
  readonly defaults?: { readonly memory?: number; readonly timeout?: number; readonly engine?: EngineName };
}

export const TAR_TYPES = ['application/x-tar', 'application/x-gtar', 'application/x-ustar'];
export const JOB_TYPE = 'application/json';
/** The member of a POSTed image that holds its job (ZeroCloud NODE_CONFIG_FILENAME). */
export const SYSTEM_MAP = 'boot/system.map';
/** The container of open/1.0 applications: `.zvm/<content type>/config`. */
export const APPS_CONTAINER = '.zvm';
export const NEXE_TYPE = 'application/x-nexe';

/** What an execution request carries, once HTTP is peeled off. */
export interface ExecuteRequest {
  readonly account: string;
  /** POST /v1/ACCOUNT/CONTAINER/OBJECT: a script reads that object as stdin. */
  readonly object?: { readonly container: string; readonly object: string };
  readonly contentType: string;
  readonly body: Buffer;
  /** X-Zerovm-Source: the job, image or script is this object; the body is the data of the readable device without a path. */
  readonly source?: string;
  /** CGI/1.1 variables, or the function that makes them (called only when a node has a message/cgi or message/http device). */
  readonly cgi?: CgiVariables;
  readonly signal?: AbortSignal;
}

function baseType(contentType: string): string {
  return (contentType.split(';')[0] ?? '').trim().toLowerCase();
}

/**
 * The interpreter a script's first line names and its arguments, in the
 * forms ZeroCloud read (doc/Requests.md, "POST any other file"):
 *
 *   #!file://IMAGE:PROGRAM [ARGS]            a file of a system image
 *   #!swift://ACCOUNT/CONTAINER/OBJECT [ARGS] an object (`~`: the requester's account)
 *   #! IMAGE PATH [ARGS]                     a system image's name, then a path in it
 *   #! /CONTAINER/OBJECT [ARGS]              an object of the requester's account
 *   #! PATH                                  a path in the system images, searched in order
 *
 * Blanks after `#!` are optional. In `#! IMAGE PATH` a leading '/' of PATH
 * is dropped (paths in an image are relative). Two or more words whose
 * first is neither a URL, an absolute path nor a system image are refused:
 * ZeroCloud took the first word as the image's name there.
 */
export function parseShebang(script: Buffer, sysimages: readonly string[]): { program: string; args: string[] } {
  const end = script.indexOf(0x0a);
  const line = script.subarray(0, end < 0 ? Math.min(script.length, 1024) : Math.min(end, 1024)).toString('utf8').replace(/\r$/, '');
  if (!line.startsWith('#!')) throw new HttpError(400, "a script must start with a '#!' line naming its interpreter, e.g. #!file://lua:lua.nexe or #! lua lua.nexe (content types other than application/json and tar are scripts)");
  const words = line.slice(2).trim().split(/\s+/).filter((w) => w !== '');
  const first = words[0];
  const images = sysimages.length === 0 ? 'this server has none' : `this server has ${sysimages.join(', ')}`;
  if (first === undefined) throw new HttpError(400, `the '#!' line names no interpreter: write #!file://IMAGE:PROGRAM, #! IMAGE PROGRAM (system images: ${images}) or #!swift://~/CONTAINER/OBJECT`);
  if (first.includes('://')) {
    if (!(first.startsWith('file://') || first.startsWith('swift://'))) throw new HttpError(400, `the '#!' line names '${first}': write #!file://IMAGE:PROGRAM (a system image) or #!swift://~/CONTAINER/OBJECT`);
    return { program: first, args: words.slice(1) };
  }
  if (first.startsWith('/')) {
    if (!/^\/[^/]+\/./.test(first)) throw new HttpError(400, `the '#!' line names '${first}': an absolute path is an object of your account, /CONTAINER/OBJECT`);
    return { program: `swift://~${first}`, args: words.slice(1) };
  }
  if (words.length === 1) return { program: first, args: [] };
  if (!sysimages.includes(first)) throw new HttpError(400, `the '#!' line names the image '${first}', which is not a system image (${images}): write #! IMAGE PATH [ARGS], or #! PATH for a path in the system images`);
  return { program: `file://${first}:${(words[1] as string).replace(/^\/+/, '')}`, args: words.slice(2) };
}

/** open/1.0 templates: `{.NAME=DEFAULT}` takes the query's NAME (JSON-escaped), `{.object_path}` the object's /CONTAINER/OBJECT. */
export function fillTemplate(template: string, objectPath: string, query: URLSearchParams): string {
  return template.replace(/\{\.([A-Za-z0-9_]+)(?:=([^}]*))?\}/g, (_whole, name: string, fallback: string | undefined) => {
    const value = name === 'object_path' ? objectPath : (query.get(name) ?? fallback ?? '');
    return JSON.stringify(value).slice(1, -1);
  });
}

/** Parsed descriptions kept by their text (JobService.parse), and the longest text kept: 64 texts of 4 KiB at most. */
const MAX_CACHED_DESCRIPTIONS = 64;
const MAX_CACHED_TEXT = 4096;

/** `value` and everything it holds, frozen (plain data: objects and arrays). */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

export class JobService {
  private readonly scrubRoots: string[];
  /** Descriptions by their text, least recently used first. */
  private readonly parsed = new Map<string, JobDescription>();

  constructor(private readonly options: ServiceOptions) {
    this.scrubRoots = [options.store.root, ...[...options.sysimages.values()].map((i) => i.path), tmpdir()];
  }

  private get sysimageNames(): string[] {
    return [...this.options.sysimages.keys()];
  }

  private parse(text: string): JobDescription {
    if (Buffer.byteLength(text) > this.options.limits.maxJobBytes) throw new HttpError(413, `the job description is larger than ${this.options.limits.maxJobBytes} bytes`);
    /*
     * The same text parses to the same description (the sysimages and
     * limits are the service's own): a client that POSTs one job again and
     * again is answered from here. Frozen, so no request can change what
     * the next one gets.
     */
    const known = this.parsed.get(text);
    if (known !== undefined) {
      this.parsed.delete(text);
      this.parsed.set(text, known);
      return known;
    }
    let description: JobDescription;
    try {
      description = parseJobDescription(text, this.sysimageNames, { maxNodes: this.options.limits.maxNodes, maxReplicate: this.options.limits.maxReplicate ?? 1, maxSpread: this.options.limits.maxSpread ?? 1 });
    } catch (error) {
      if (error instanceof JobDescriptionError) throw new HttpError(400, error.message);
      throw error;
    }
    if (text.length <= MAX_CACHED_TEXT) {
      this.parsed.set(text, deepFreeze(description));
      if (this.parsed.size > MAX_CACHED_DESCRIPTIONS) this.parsed.delete(this.parsed.keys().next().value as string);
    }
    return description;
  }

  /**
   * Runs a description. `prepare` writes what the job needs into its
   * directory (the request body, a tar) and returns the image and body file.
   */
  async runDescription(
    description: JobDescription | string,
    request: { readonly account: string; readonly cgi?: CgiVariables; readonly signal?: AbortSignal },
    prepare: (dir: string) => { readonly image?: TarImage; readonly body?: string; readonly script?: string; readonly description?: JobDescription } = () => ({}),
  ): Promise<JobResponse> {
    const started = process.hrtime.bigint();
    const dir = this.options.store.acquireJobDir();
    let view: JobView | undefined;
    try {
      const prepared = prepare(dir);
      const parsed = prepared.description ?? (typeof description === 'string' ? this.parse(description) : description);
      /* the directory store answers at once: no turn of the microtask queue for it */
      const answer = this.options.store.jobView(parsed, request.account);
      view = answer instanceof Promise ? await answer : answer;
      let job;
      try {
        job = compileJob(parsed, {
          account: request.account,
          storage: view.storage,
          dir,
          sysimages: this.options.sysimages,
          ...(prepared.image === undefined ? {} : { image: prepared.image }),
          ...(prepared.body === undefined ? {} : { body: prepared.body }),
          ...(prepared.script === undefined ? {} : { script: prepared.script }),
          ...(request.cgi === undefined ? {} : { cgi: request.cgi }),
          maxNodes: this.options.limits.maxNodes,
          maxOutput: this.options.limits.maxOutput,
          ...(this.options.defaults === undefined ? {} : { defaults: this.options.defaults }),
        });
      } catch (error) {
        throw this.clientError(error, new Scrubber(new Map(), [...this.scrubRoots, dir]));
      }
      const scrubber = new Scrubber(job.shownAs, [...this.scrubRoots, dir]);
      const records = this.options.records;
      const recordId = records === undefined ? undefined : await records.started({ account: request.account, nodes: job.plan.nodes.map((n) => n.name) });
      let result;
      try {
        result = await this.options.executor.run(job.plan, request.signal === undefined ? {} : { signal: request.signal });
      } catch (error) {
        if (recordId !== undefined) await records!.finished(recordId, { httpStatus: 500, statuses: [], ranOn: [], seconds: Number(process.hrtime.bigint() - started) / 1e9, error: scrubber.scrub((error as Error).message) }).catch(() => undefined);
        throw this.clientError(error, scrubber);
      }
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      let response = finishJob(job, result, view.sink, seconds, scrubber);
      const failedCommits = await view.settle();
      if (failedCommits.length > 0) response = withError(response, scrubber.scrub(failedCommits.join('; ')));
      if (result.nodes.some((n) => n.error?.kind === NO_WORKER)) response = noWorker(response, result.nodes);
      if (recordId !== undefined) {
        const statuses = result.nodes.map((n) => (n.error !== undefined ? n.error.message : n.exitState));
        await records!.finished(recordId, { httpStatus: response.status, statuses, ranOn: result.nodes.map((n) => n.ranOn ?? ''), seconds }).catch(() => undefined);
      }
      return response;
    } finally {
      view?.release();
      this.options.store.releaseJobDir(dir);
    }
  }

  private clientError(error: unknown, scrubber: Scrubber): unknown {
    if (error instanceof HttpError) return new HttpError(error.status, scrubber.scrub(error.message));
    if (error instanceof JobDescriptionError || error instanceof NameError || error instanceof ImageError || error instanceof PlanRefusedError || error instanceof JobPlanError) return new HttpError(400, scrubber.scrub(error.message));
    if (error instanceof JobResolveError) return new HttpError(404, scrubber.scrub(error.message));
    return error;
  }

  /** POST with X-Zerovm-Execute: 1.0. */
  async execute(request: ExecuteRequest): Promise<JobResponse> {
    let content = request.body;
    let contentType = request.contentType;
    let data: Buffer | undefined;
    if (request.source !== undefined) {
      const path = this.sourcePath(request.source, request.account);
      const object = await this.options.store.stat(path.account, path.container, path.object);
      if (object === undefined) throw new HttpError(404, `X-Zerovm-Source: swift://${path.account}/${path.container}/${path.object} does not exist`);
      content = await readAll(this.options.store.read(object));
      contentType = object.contentType;
      data = request.body;
    }
    const type = baseType(contentType);
    if (type === JOB_TYPE) {
      if (request.object !== undefined) throw new HttpError(400, 'a job description is POSTed to /v1/ACCOUNT, not to an object');
      return this.runDescription(content.toString('utf8'), request, (dir) => ({ ...(data === undefined ? {} : { body: writeBody(dir, data) }) }));
    }
    if (TAR_TYPES.includes(type)) {
      if (request.object !== undefined) throw new HttpError(400, 'an image is POSTed to /v1/ACCOUNT, not to an object');
      return this.runDescription('', request, (dir) => {
        const tar = join(dir, 'request-image.tar');
        writeFileSync(tar, content);
        const image = new TarImage("the request's image", tar, join(dir, 'request-image'));
        let map: Uint8Array | undefined;
        try {
          map = image.read(SYSTEM_MAP);
        } catch (error) {
          throw new HttpError(400, (error as Error).message);
        }
        if (map === undefined) throw new NoSystemMapError(400, `the image has no ${SYSTEM_MAP} (the job description to run)`);
        return { image, description: this.parse(Buffer.from(map).toString('utf8')), ...(data === undefined ? {} : { body: writeBody(dir, data) }) };
      });
    }
    return this.runScript(content, request, data);
  }

  /**
   * A script: one node running the `#!` program with the script as
   * /dev/script (also its last argument) and stdout as the response; its
   * stdin is the object POSTed to, or the request body when the script came
   * from X-Zerovm-Source.
   */
  private runScript(script: Buffer, request: ExecuteRequest, data: Buffer | undefined): Promise<JobResponse> {
    const { program, args } = parseShebang(script, this.sysimageNames);
    const devices: NodeDescription['devices'][number][] = [
      { name: 'script', meta: {}, minSize: 0 },
      { name: 'stdout', contentType: 'text/plain', meta: {}, minSize: 0 },
    ];
    if (data !== undefined) devices.push({ name: 'stdin', meta: {}, minSize: 0 });
    else if (request.object !== undefined) {
      devices.push({ name: 'stdin', path: `swift://${encodeURIComponent(request.account)}/${encodeURIComponent(request.object.container)}/${encodeURIComponent(request.object.object)}`, meta: {}, minSize: 0 });
    }
    const node: NodeDescription = { name: 'script', exec: { path: program, args: [...args, '/dev/script'], env: {} }, devices, connect: [] };
    return this.runDescription([node], request, (dir) => {
      const scriptFile = join(dir, 'script');
      writeFileSync(scriptFile, script);
      return { script: scriptFile, ...(data === undefined ? {} : { body: writeBody(dir, data) }) };
    });
  }

  /** GET with X-Zerovm-Execute: open/1.0: the application for the object's content type. */
  async open(request: { readonly account: string; readonly container: string; readonly object: string; readonly query: URLSearchParams; readonly cgi?: CgiVariables; readonly signal?: AbortSignal }): Promise<JobResponse> {
    const object = await this.options.store.stat(request.account, request.container, request.object);
    if (object === undefined) throw new HttpError(404, `/${request.container}/${request.object} does not exist`);
    const type = baseType(object.contentType);
    const objectUrl = `swift://${encodeURIComponent(request.account)}/${encodeURIComponent(request.container)}/${encodeURIComponent(request.object)}`;
    if (TAR_TYPES.includes(type)) {
      /* a zapp runs its own boot/system.map, as ZeroCloud's open did; a tar without one is a type like any other */
      try {
        return await this.execute({ account: request.account, contentType: type, body: Buffer.alloc(0), source: objectUrl, ...(request.cgi === undefined ? {} : { cgi: request.cgi }), ...(request.signal === undefined ? {} : { signal: request.signal }) });
      } catch (error) {
        if (!(error instanceof NoSystemMapError)) throw error;
      }
    }
    if (type === NEXE_TYPE) {
      const node: NodeDescription = {
        name: 'open',
        exec: { path: objectUrl, args: (request.query.get('args') ?? '').split(/\s+/).filter((a) => a !== ''), env: {} },
        devices: [{ name: 'stdout', contentType: request.query.get('content_type') ?? 'text/plain', meta: {}, minSize: 0 }],
        connect: [],
      };
      return this.runDescription([node], request);
    }
    const config = await this.options.store.stat(request.account, APPS_CONTAINER, `${type}/config`);
    if (config === undefined) throw new HttpError(404, `no application is registered for ${type}: PUT a job template to /v1/${request.account}/${APPS_CONTAINER}/${type}/config`);
    const template = (await readAll(this.options.store.read(config))).toString('utf8');
    const objectPath = `/${encodeURIComponent(request.container)}/${encodeURIComponent(request.object)}`;
    return this.runDescription(fillTemplate(template, objectPath, request.query), request);
  }

  private sourcePath(source: string, account: string): { account: string; container: string; object: string } {
    try {
      return parseSwiftPath(source, account, 'X-Zerovm-Source');
    } catch (error) {
      throw new HttpError(400, (error as Error).message);
    }
  }
}

/**
 * No worker took a node of the job: the server cannot serve it now (503),
 * and X-Nexe-Status says why for those nodes (spec/cluster.md, "The front
 * end's deadline").
 */
function noWorker(response: JobResponse, nodes: readonly NodeResult[]): JobResponse {
  const statuses = nodes.map((n) => (n.error?.kind === NO_WORKER ? n.error.message : n.exitState)).join(',');
  return { ...response, status: 503, headers: [...response.headers.filter(([name]) => name !== 'X-Nexe-Status'), ['X-Nexe-Status', statuses]] };
}

/** A response with one more error in X-Nexe-Error (outputs that a cluster store could not write). */
function withError(response: JobResponse, message: string): JobResponse {
  const previous = response.headers.find(([name]) => name === 'X-Nexe-Error')?.[1];
  const error = previous === undefined ? message : `${previous}; ${message}`;
  return { ...response, headers: [...response.headers.filter(([name]) => name !== 'X-Nexe-Error'), ['X-Nexe-Error', error]] };
}

function writeBody(dir: string, data: Buffer): string {
  const file = join(dir, 'request-body');
  writeFileSync(file, data);
  return file;
}

async function readAll(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks);
}
