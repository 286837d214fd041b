/**
 * `zerovm serve`'s HTTP front end (node:http): Swift object requests on the
 * store, and ZeroCloud's execution requests on the JobService
 * (spec/serving.md).
 *
 *   PUT/GET/HEAD/DELETE /v1/ACCOUNT/CONTAINER[/OBJECT]   objects, containers
 *   GET/HEAD /v1/ACCOUNT                                 the account's containers
 *   POST /v1/ACCOUNT[/CONTAINER/OBJECT]  X-Zerovm-Execute: 1.0       run a job, image or script
 *   GET /v1/ACCOUNT/CONTAINER/OBJECT     X-Zerovm-Execute: open/1.0  run the object's application
 *   GET /open/ACCOUNT/CONTAINER/OBJECT                               the same, without the header
 *
 * Robustness: header size (16 KiB) and count (100) are capped by node:http;
 * bodies by --max-body (objects) and the job limit (descriptions); a slow
 * client is cut by the request timeout; every error answer is text/plain
 * with a message and never a host path (internal errors are logged and
 * answered with an id). close() drains: no new request is taken (idle
 * keep-alive connections are closed, requests arriving on busy ones get
 * 503), the running ones finish, then the executor closes.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { BodyTooLargeError, StoreError, type ObjectInfo } from './store.js';
import type { StoreBackend } from './object-store.js';
import { contentRange, multipartPieces, planRanges, type ByteRange } from './ranges.js';
import { EXISTS_REASON, evaluatePreconditions, lastModifiedHeader, preconditionsOf, writeCondition } from './conditional.js';
import { checkName, NameError } from './names.js';
import { HttpError, type JobService } from './service.js';
import type { JobResponse } from '../jobs/finish.js';

export interface ServerOptions {
  readonly store: StoreBackend;
  readonly service: JobService;
  /** Requests must carry X-Auth-Token with this value (compared in constant time). */
  readonly authToken?: string;
  /** Largest object or script body, bytes. */
  readonly maxBody: number;
  /** Where internal errors are logged (default: stderr). */
  readonly log?: (line: string) => void;
}

export const HEADER_LIMIT = 16 * 1024;
/** The path's first part that runs open/1.0 without the header (ZeroCloud doc/Requests.md, "GET with version open"). */
export const OPEN_VERSION = 'open';
export const HEADER_COUNT_LIMIT = 100;
/** Swift's limits on metadata (swift/common/constraints.py). */
const MAX_META_COUNT = 90;
const MAX_META_NAME = 128;
const MAX_META_VALUE = 256;
/** Bodies of execution responses up to this size go out in the header's write. */
const ONE_WRITE_BODY = 16 * 1024;

function send(res: ServerResponse, status: number, body: string | Buffer, headers: Record<string, string | number> = {}): void {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': bytes.length, ...headers });
  res.end(res.req.method === 'HEAD' ? undefined : bytes);
}

function fail(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  send(res, status, `${message}\n`);
}

/**
 * The request body, at most `limit` bytes (413 past it; the request is
 * then destroyed, as Node's stream iterator did). Read with listeners
 * rather than `for await`: the iterator's promise per chunk and its
 * end-of-stream watcher cost more than the job's own parsing on a small
 * body (spec/serving.md, "Serving cost").
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > limit) return Promise.reject(new HttpError(413, `the request body is larger than ${limit} bytes`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const settle = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        settle();
        req.destroy();
        reject(new HttpError(413, `the request body is larger than ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      settle();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (error: Error): void => {
      settle();
      reject(error);
    };
    /* closed before its end: the client went away mid-body */
    const onClose = (): void => {
      settle();
      reject(new Error('Premature close: the request body ended before its length'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/** A request header's one value (node:http joins repeated ones, or gives an array for a few). */
function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function objectHeaders(info: ObjectInfo): Record<string, string | number> {
  const headers: Record<string, string | number> = {
    'Accept-Ranges': 'bytes',
    'Content-Type': info.contentType,
    'Content-Length': info.size,
    ETag: info.etag,
    'Last-Modified': lastModifiedHeader(info.timestamp),
    'X-Timestamp': (info.timestamp / 1000).toFixed(5),
  };
  for (const [k, v] of Object.entries(info.meta)) headers[`X-Object-Meta-${k}`] = v;
  return headers;
}

/** X-Object-Meta-* of a request, checked against Swift's limits. */
function requestMeta(req: IncomingMessage): Record<string, string> {
  const meta: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (!name.startsWith('x-object-meta-') || typeof value !== 'string') continue;
    const key = name.slice('x-object-meta-'.length);
    if (key.length === 0 || key.length > MAX_META_NAME) throw new HttpError(400, `metadata name '${key}' must be 1 to ${MAX_META_NAME} characters`);
    if (value.length > MAX_META_VALUE) throw new HttpError(400, `metadata X-Object-Meta-${key} is longer than ${MAX_META_VALUE} characters`);
    meta[key] = value;
  }
  if (Object.keys(meta).length > MAX_META_COUNT) throw new HttpError(400, `more than ${MAX_META_COUNT} X-Object-Meta-* headers`);
  return meta;
}

/** CGI/1.1 variables of a request (ZeroCloud doc/CGIEnvironment.md); X-Auth-Token is never passed on. */
function cgiEnvironment(req: IncomingMessage, url: URL, pathInfo: string, local: AddressInfo | undefined): Record<string, string> {
  const env: Record<string, string> = {
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_NAME: url.hostname,
    SERVER_PORT: String(local?.port ?? ''),
    SERVER_PROTOCOL: `HTTP/${req.httpVersion}`,
    SERVER_SOFTWARE: 'zerovm-ts',
    PATH_INFO: pathInfo,
    REQUEST_METHOD: req.method ?? 'GET',
    REQUEST_URI: req.url ?? '/',
    QUERY_STRING: url.search.slice(1),
  };
  for (const [name, value] of Object.entries(req.headers)) {
    if (name === 'x-auth-token' || name === 'authorization' || name === 'cookie' || typeof value !== 'string') continue;
    env[`HTTP_${name.toUpperCase().replace(/-/g, '_')}`] = value;
  }
  return env;
}

/**
 * What cancels the jobs of a connection's requests: aborted when the
 * connection closes. A request's job runs until its answer is written, so
 * the connection closing under it is the client going away (the only way
 * its response closes unfinished); a closing after the answers cancels
 * nothing. One per connection, not per request: its keep-alive requests
 * share it (a pipelined request's job is cancelled too, which a listener
 * on its queued response would not see), and an AbortController with its
 * 'close' listener costs more than the rest of a request's routing.
 */
const connectionAborts = new WeakMap<Socket, AbortController>();

function connectionAbort(socket: Socket): AbortController {
  let abort = connectionAborts.get(socket);
  if (abort === undefined) {
    const controller = new AbortController();
    socket.once('close', () => controller.abort());
    if (socket.destroyed) controller.abort();
    connectionAborts.set(socket, controller);
    abort = controller;
  }
  return abort;
}

/** /v1/ACCOUNT[/CONTAINER[/OBJECT]] -> decoded parts (the object keeps its '/'s). */
function splitPath(pathname: string): { version: string; account?: string; container?: string; object?: string } {
  const parts = pathname.split('/');
  if (parts[0] !== '') throw new HttpError(400, 'the path must start with /');
  const decode = (part: string): string => {
    try {
      return decodeURIComponent(part);
    } catch {
      throw new HttpError(400, 'the path has a malformed %-escape');
    }
  };
  const version = parts[1] ?? '';
  const account = parts[2] === undefined || parts[2] === '' ? undefined : decode(parts[2]);
  const container = parts[3] === undefined || parts[3] === '' ? undefined : decode(parts[3]);
  const objectRaw = parts.slice(4).join('/');
  const object = objectRaw === '' ? undefined : decode(objectRaw);
  if (object !== undefined && container === undefined) throw new HttpError(400, 'an object path needs a container');
  return { version, ...(account === undefined ? {} : { account }), ...(container === undefined ? {} : { container }), ...(object === undefined ? {} : { object }) };
}

export class ZeroVMServer {
  readonly http: Server;
  private inFlight = 0;
  private draining = false;
  private drained: (() => void) | undefined;
  private readonly log: (line: string) => void;

  constructor(private readonly options: ServerOptions) {
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.http = createServer({ maxHeaderSize: HEADER_LIMIT, requestTimeout: 300_000, headersTimeout: 30_000, keepAliveTimeout: 5_000 }, (req, res) => {
      void this.handle(req, res);
    });
    this.http.maxHeadersCount = HEADER_COUNT_LIMIT;
  }

  listen(port: number, host: string): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, host, () => {
        this.http.off('error', reject);
        resolve(this.http.address() as AddressInfo);
      });
    });
  }

  /** Stops taking requests, waits for the running ones, then closes the executor. */
  async close(executorClose: () => Promise<void>): Promise<void> {
    this.draining = true;
    const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    this.http.closeIdleConnections();
    if (this.inFlight > 0) await new Promise<void>((resolve) => (this.drained = resolve));
    this.http.closeAllConnections();
    await closed;
    await executorClose();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.draining) {
      res.setHeader('Connection', 'close');
      fail(res, 503, 'the server is shutting down');
      return;
    }
    this.inFlight++;
    try {
      await this.route(req, res);
    } catch (error) {
      if (error instanceof HttpError) fail(res, error.status, error.message);
      else if (error instanceof NameError) fail(res, 400, error.message);
      else if (error instanceof BodyTooLargeError) fail(res, 413, error.message);
      else if (error instanceof StoreError) fail(res, error.reason === 'no-container' ? 404 : error.reason === 'exists' ? 412 : 409, error.message);
      else {
        const id = randomBytes(6).toString('hex');
        this.log(`zerovm serve: internal error ${id} on ${req.method ?? ''} ${req.url ?? ''}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
        fail(res, 500, `internal error ${id} (the server's log has the details)`);
      }
    } finally {
      this.inFlight--;
      if (this.draining && this.inFlight === 0) this.drained?.();
      if (this.draining) this.http.closeIdleConnections();
    }
  }

  private authorised(req: IncomingMessage): boolean {
    const expected = this.options.authToken;
    if (expected === undefined) return true;
    const given = req.headers['x-auth-token'];
    if (typeof given !== 'string') return false;
    const a = Buffer.from(given);
    const b = Buffer.from(expected);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.draining) res.setHeader('Connection', 'close');
    if (!this.authorised(req)) {
      fail(res, 401, 'X-Auth-Token is missing or wrong');
      req.resume();
      return;
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    const { version, account, container, object } = splitPath(url.pathname);
    /* /open/ACCOUNT/CONTAINER/OBJECT: ZeroCloud's URL form of open/1.0, for clients that cannot set headers */
    const command = version === OPEN_VERSION ? 'open/1.0' : undefined;
    if ((version !== 'v1' && command === undefined) || account === undefined) throw new HttpError(404, 'paths are /v1/ACCOUNT[/CONTAINER[/OBJECT]] (or /open/ACCOUNT/CONTAINER/OBJECT to run the application of an object)');
    checkName('account', account);
    if (container !== undefined) checkName('container', container);
    if (object !== undefined) checkName('object', object);
    const header = req.headers['x-zerovm-execute'];
    const method = req.method ?? 'GET';
    if (command !== undefined) {
      if (header !== undefined && header !== command) throw new HttpError(400, `X-Zerovm-Execute: '${header}' on an /open/ URL: leave the header out (the URL says open/1.0), or use /v1/`);
      if (method !== 'GET') {
        req.resume();
        res.setHeader('Allow', 'GET');
        throw new HttpError(405, `${method} is not allowed on an /open/ URL: GET /open/ACCOUNT/CONTAINER/OBJECT runs the application of the object's content type`);
      }
    }
    const execute = header ?? command;
    if (execute !== undefined) {
      const abort = connectionAbort(req.socket);
      const local = req.socket.address() as AddressInfo;
      /* built when a node asks for them (a message/cgi or message/http device), from what the request was when it arrived */
      let cgi: Record<string, string> | undefined;
      const cgiOnce = (): Record<string, string> => (cgi ??= cgiEnvironment(req, url, `/${[account, container, object].filter((p) => p !== undefined).join('/')}`, local));
      if (execute === '1.0' && method === 'POST') {
        const body = await readBody(req, this.options.maxBody);
        const source = req.headers['x-zerovm-source'];
        const response = await this.options.service.execute({
          account,
          ...(container !== undefined && object !== undefined ? { object: { container, object } } : {}),
          contentType: req.headers['content-type'] ?? 'application/octet-stream',
          body,
          ...(typeof source === 'string' ? { source } : {}),
          cgi: cgiOnce,
          signal: abort.signal,
        });
        this.sendJob(res, response);
        return;
      }
      if (execute === 'open/1.0' && method === 'GET') {
        if (container === undefined || object === undefined) throw new HttpError(400, `open/1.0 runs an object: GET /${command === undefined ? 'v1' : OPEN_VERSION}/ACCOUNT/CONTAINER/OBJECT`);
        this.sendJob(res, await this.options.service.open({ account, container, object, query: url.searchParams, cgi: cgiOnce, signal: abort.signal }));
        return;
      }
      throw new HttpError(400, `X-Zerovm-Execute: '${execute}' with ${method}: use 1.0 with POST (a job, an image or a script) or open/1.0 with GET (an object's application)`);
    }
    if (object !== undefined) return this.objectRequest(req, res, method, account, container!, object);
    if (container !== undefined) return this.containerRequest(req, res, method, account, container, url);
    return this.accountRequest(res, method, account, url);
  }

  private sendJob(res: ServerResponse, response: JobResponse): void {
    /* a flat [name, value, ...] list: node:http takes it as it is (the names are unique: finish.ts builds them from one record) */
    const headers: (string | number)[] = [];
    for (const [name, value] of response.headers) headers.push(name, value);
    headers.push('Content-Length', response.body.length);
    res.writeHead(response.status, headers);
    /* a small body as latin1 text (byte for byte): node:http then sends it with the header in one write, not a corked writev of two */
    if (response.body.length <= ONE_WRITE_BODY) res.end(response.body.toString('latin1'), 'latin1');
    else res.end(response.body);
  }

  private async objectRequest(req: IncomingMessage, res: ServerResponse, method: string, account: string, container: string, object: string): Promise<void> {
    const store = this.options.store;
    switch (method) {
      case 'PUT': {
        /* If-None-Match: * creates only (conditional.ts); checked before the body is read, and again by the store as it commits */
        const write = writeCondition(preconditionsOf(req.headers));
        if (write.kind === 'bad-request') {
          req.resume();
          throw new HttpError(400, write.reason);
        }
        const meta = requestMeta(req);
        const contentType = req.headers['content-type'] ?? 'application/octet-stream';
        if (!(await store.hasContainer(account, container))) {
          req.resume();
          throw new HttpError(404, `container '${container}' does not exist (create it with PUT /v1/${account}/${container})`);
        }
        if (write.onlyIfAbsent && (await store.stat(account, container, object)) !== undefined) {
          req.resume();
          throw new HttpError(412, `'${object}': ${EXISTS_REASON}`);
        }
        const info = await store.putStream(account, container, object, req, { contentType, meta, maxBytes: this.options.maxBody, ...(write.onlyIfAbsent ? { onlyIfAbsent: true } : {}) });
        const expected = req.headers.etag;
        if (typeof expected === 'string' && expected.replace(/"/g, '').toLowerCase() !== info.etag) {
          await store.deleteObject(account, container, object);
          throw new HttpError(422, `the body's MD5 is ${info.etag}, not the ETag sent (${expected})`);
        }
        send(res, 201, '', { ETag: info.etag, 'Last-Modified': lastModifiedHeader(info.timestamp) });
        return;
      }
      case 'GET':
      case 'HEAD': {
        const stored = await store.stat(account, container, object);
        /* If-Match, If-None-Match, If-(Un)Modified-Since before Range (conditional.ts) */
        const condition = evaluatePreconditions(method, preconditionsOf(req.headers), stored);
        if (condition.kind === 'not-modified') {
          const { 'Content-Length': _length, ...headers } = objectHeaders(stored!);
          res.writeHead(304, headers);
          res.end();
          return;
        }
        if (condition.kind === 'precondition-failed') {
          if (stored !== undefined) {
            res.setHeader('ETag', stored.etag);
            res.setHeader('Last-Modified', lastModifiedHeader(stored.timestamp));
          }
          throw new HttpError(412, condition.reason);
        }
        if (stored === undefined) throw new HttpError(404, `/${container}/${object} does not exist`);
        /* HEAD ignores Range (ranges.ts): its headers are those of a GET without one */
        const plan = method === 'GET' ? planRanges({ range: req.headers.range, ifRange: headerText(req.headers['if-range']) }, { length: stored.size, etag: stored.etag, lastModified: new Date(stored.timestamp) }) : ({ kind: 'whole' } as const);
        if (plan.kind === 'unsatisfiable') {
          res.setHeader('Content-Range', `bytes */${stored.size}`);
          throw new HttpError(416, plan.reason);
        }
        if (plan.kind === 'partial') return this.sendRanges(res, stored, plan.ranges);
        res.writeHead(200, objectHeaders(stored));
        if (method === 'HEAD') {
          res.end();
          return;
        }
        const stream = store.read(stored);
        stream.on('error', () => res.destroy());
        stream.pipe(res);
        await new Promise<void>((resolve) => res.on('close', resolve));
        return;
      }
      case 'DELETE':
        if (!(await store.deleteObject(account, container, object))) throw new HttpError(404, `/${container}/${object} does not exist`);
        send(res, 204, '');
        return;
      default:
        res.setHeader('Allow', 'GET, HEAD, PUT, DELETE, POST');
        throw new HttpError(405, `${method} is not allowed on an object (POST needs X-Zerovm-Execute: 1.0)`);
    }
  }

  /** 206: one range with Content-Range, or several as multipart/byteranges (ranges.ts). */
  private async sendRanges(res: ServerResponse, stored: ObjectInfo, ranges: readonly ByteRange[]): Promise<void> {
    const store = this.options.store;
    const headers = objectHeaders(stored);
    if (ranges.length === 1) {
      const range = ranges[0]!;
      res.writeHead(206, { ...headers, 'Content-Length': range.end - range.start, 'Content-Range': contentRange(range, stored.size) });
      await pipeline(store.read(stored, range), res).catch(() => res.destroy());
      return;
    }
    const boundary = randomBytes(16).toString('hex');
    const { heads, tail, bytes } = multipartPieces(ranges, stored.size, stored.contentType, boundary);
    res.writeHead(206, { ...headers, 'Content-Type': `multipart/byteranges; boundary=${boundary}`, 'Content-Length': bytes });
    try {
      for (const [i, range] of ranges.entries()) {
        res.write(heads[i]!);
        await pipeline(store.read(stored, range), res, { end: false });
      }
      res.end(tail);
    } catch {
      res.destroy();
    }
  }

  private async containerRequest(req: IncomingMessage, res: ServerResponse, method: string, account: string, container: string, url: URL): Promise<void> {
    const store = this.options.store;
    req.resume();
    switch (method) {
      case 'PUT':
        send(res, (await store.putContainer(account, container)) ? 201 : 202, '');
        return;
      case 'HEAD': {
        const totals = await store.containerTotals(account, container);
        if (totals === undefined) throw new HttpError(404, `container '${container}' does not exist`);
        send(res, 204, '', { 'X-Container-Object-Count': totals.count, 'X-Container-Bytes-Used': totals.bytes });
        return;
      }
      case 'GET': {
        const listing = await store.listContainer(account, container, listOptions(url));
        if (listing === undefined) throw new HttpError(404, `container '${container}' does not exist`);
        const totals = (await store.containerTotals(account, container))!;
        const headers = { 'X-Container-Object-Count': totals.count, 'X-Container-Bytes-Used': totals.bytes };
        if (url.searchParams.get('format') === 'json') {
          const json = listing.map((o) => ({ name: o.name, hash: o.etag, bytes: o.size, content_type: o.contentType, last_modified: new Date(o.timestamp).toISOString().replace('Z', '') }));
          send(res, 200, JSON.stringify(json), { ...headers, 'Content-Type': 'application/json; charset=utf-8' });
        } else if (listing.length === 0) send(res, 204, '', headers);
        else send(res, 200, listing.map((o) => `${o.name}\n`).join(''), headers);
        return;
      }
      case 'DELETE': {
        const outcome = await store.deleteContainer(account, container);
        if (outcome === 'missing') throw new HttpError(404, `container '${container}' does not exist`);
        if (outcome === 'not-empty') throw new HttpError(409, `container '${container}' is not empty: delete its objects first`);
        send(res, 204, '');
        return;
      }
      default:
        res.setHeader('Allow', 'GET, HEAD, PUT, DELETE');
        throw new HttpError(405, `${method} is not allowed on a container`);
    }
  }

  private async accountRequest(res: ServerResponse, method: string, account: string, url: URL): Promise<void> {
    if (method !== 'GET' && method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD, POST');
      throw new HttpError(405, `${method} is not allowed on an account (POST needs X-Zerovm-Execute: 1.0)`);
    }
    const containers = await this.options.store.listAccount(account, listOptions(url));
    const headers = { 'X-Account-Container-Count': containers.length, 'X-Account-Bytes-Used': containers.reduce((n, c) => n + c.bytes, 0) };
    if (url.searchParams.get('format') === 'json') send(res, 200, JSON.stringify(containers), { ...headers, 'Content-Type': 'application/json; charset=utf-8' });
    else if (containers.length === 0 || method === 'HEAD') send(res, 204, '', headers);
    else send(res, 200, containers.map((c) => `${c.name}\n`).join(''), headers);
  }
}

function listOptions(url: URL): { prefix?: string; marker?: string; limit?: number } {
  const limit = url.searchParams.get('limit');
  const parsed = limit === null ? undefined : Number(limit);
  if (parsed !== undefined && (!Number.isInteger(parsed) || parsed < 0)) throw new HttpError(400, `limit '${limit}' is not a whole number`);
  const prefix = url.searchParams.get('prefix');
  const marker = url.searchParams.get('marker');
  return { ...(prefix === null ? {} : { prefix }), ...(marker === null ? {} : { marker }), ...(parsed === undefined ? {} : { limit: parsed }) };
}
