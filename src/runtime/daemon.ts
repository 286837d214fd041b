/**
 * Daemon mode's socket protocol (spec/runtime.md "Daemon mode"): a daemon
 * holds the snapshot of a session that called TrapFork and listens on the
 * unix socket its manifest's `Job` names. Each connection is one request:
 *
 *   client -> daemon   8 bytes: the manifest's length as text ("%8d",
 *                      "0x%06x", ... as C's strtoll reads it, base 0),
 *                      then the manifest (at most 64 KiB)
 *   daemon -> client   "0x%06x" (the report's length) and the report, then
 *                      the end of the stream; nothing at all when the
 *                      request failed before the program resumed (a bad
 *                      header or manifest, channels that differ, a channel
 *                      that does not open)
 *
 * Pipeline position: the CLI's daemon process (src/cli/daemon-process.ts)
 * -> here -> runWarmSession (session.ts). A request whose own manifest has
 * a `Job` and whose program calls TrapFork again yields a new snapshot:
 * `onFork` makes a daemon of it, as the original's request process became
 * one.
 *
 * Requests are served by `DaemonOptions.serve` when given (the CLI's
 * daemon hands each to one of its worker processes, so requests overlap as
 * the original's forked request processes did); without it, here, one
 * after another.
 *
 * Differences from the original, each named in the spec: a manifest that
 * arrives in pieces is read whole (the original took what one read()
 * returned); a length above the 64 KiB buffer is refused (the original
 * overflowed its buffer).
 */
import { unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { frameForJobSocket } from './report.js';
import { manifestJob, runWarmSession, warmRequestFromManifest, type SessionRunOptions } from './session.js';
import type { SessionSnapshot } from './snapshot.js';

/** Bytes of a request's length field. */
export const REQUEST_HEADER_SIZE = 8;
/** The original's command buffer: a longer manifest is refused. */
export const REQUEST_MANIFEST_LIMIT = 0x10000;

const SPACE = new Set([0x20, 0x09, 0x0a, 0x0b, 0x0c, 0x0d]);

/**
 * The manifest length an 8-byte header gives, or null when it gives none
 * above 0. The original read it as text: up to the first NUL, surrounding
 * white space stripped, then strtoll with base 0 (an optional sign, then
 * "0x" hexadecimal, "0" octal or decimal, as far as the digits go),
 * stored in a C int.
 */
export function parseRequestLength(header: Uint8Array): number | null {
  let end = header.indexOf(0);
  if (end < 0) end = header.length;
  let at = 0;
  while (at < end && SPACE.has(header[at]!)) at++;
  while (end > at && SPACE.has(header[end - 1]!)) end--;
  const text = Buffer.from(header.subarray(at, end)).toString('latin1');
  const match = /^([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)?/.exec(text);
  const digits = match?.[2];
  if (digits === undefined) return null;
  let value: bigint;
  if (/^0[xX]/.test(digits)) value = BigInt(digits);
  else if (digits.startsWith('0')) value = digits.length === 1 ? 0n : BigInt(`0o${digits.slice(1)}`);
  else value = BigInt(digits);
  /* strtoll saturates at the int64 range; the int takes the low 32 bits */
  const limit = 2n ** 63n - 1n;
  if (value > limit) value = match?.[1] === '-' ? limit + 1n : limit;
  if (match?.[1] === '-') value = -value;
  const length = Number(BigInt.asIntN(32, value));
  return length > 0 ? length : null;
}

/** What one request gave: the bytes to answer (null: close without a reply) and, when it forked again, the new daemon's snapshot and socket. */
export interface RequestOutcome {
  readonly reply: string | null;
  readonly fork?: { readonly snapshot: SessionSnapshot; readonly job: string };
}

/** Serves one request's manifest text from the snapshot. */
export function serveRequest(snapshot: SessionSnapshot, manifestText: string, options: SessionRunOptions): RequestOutcome {
  let request;
  try {
    request = warmRequestFromManifest(manifestText);
  } catch {
    return { reply: null };
  }
  const result = runWarmSession(snapshot, request, { ...options, reportMode: 3 });
  if (!result.ran) return { reply: null };
  const reply = frameForJobSocket(result.report);
  const job = result.snapshot === undefined ? undefined : manifestJob(manifestText);
  return job === undefined || result.snapshot === undefined ? { reply } : { reply, fork: { snapshot: result.snapshot, job } };
}

/** Reads one request from a connection: the header, then the manifest (or what came before the stream ended). */
function readRequest(socket: Socket, done: (text: string | null) => void): void {
  let buffered = Buffer.alloc(0);
  let length: number | null | undefined;
  let finished = false;
  const finish = (text: string | null): void => {
    if (finished) return;
    finished = true;
    socket.off('data', onData);
    socket.off('end', onEnd);
    done(text);
  };
  const onData = (chunk: Buffer): void => {
    buffered = Buffer.concat([buffered, chunk]);
    if (length === undefined && buffered.length >= REQUEST_HEADER_SIZE) {
      length = parseRequestLength(buffered.subarray(0, REQUEST_HEADER_SIZE));
      if (length === null || length > REQUEST_MANIFEST_LIMIT) return finish(null);
    }
    if (typeof length === 'number' && buffered.length >= REQUEST_HEADER_SIZE + length) {
      finish(buffered.subarray(REQUEST_HEADER_SIZE, REQUEST_HEADER_SIZE + length).toString('utf8'));
    }
  };
  const onEnd = (): void => {
    finish(typeof length === 'number' ? buffered.subarray(REQUEST_HEADER_SIZE).toString('utf8') : null);
  };
  socket.on('data', onData);
  socket.on('end', onEnd);
}

export interface DaemonOptions {
  /** The engine (the snapshot's), preallocation. */
  readonly run: SessionRunOptions;
  /** Serves one request's manifest text elsewhere (a worker process); default: serveRequest here, one request at a time. */
  readonly serve?: (manifestText: string) => Promise<RequestOutcome>;
  /** A request forked again: make a daemon of its snapshot on its own socket (the reply waits until it listens). */
  readonly onFork?: (snapshot: SessionSnapshot, job: string) => Promise<unknown>;
}

/**
 * Listens on `socketPath` (removed first, as the original did) and serves
 * requests from the snapshot until the server is closed. Resolves once
 * listening; rejects when the socket cannot be bound.
 */
export function listenDaemon(snapshot: SessionSnapshot, socketPath: string, options: DaemonOptions): Promise<Server> {
  try {
    unlinkSync(socketPath);
  } catch {
    /* nothing there */
  }
  const server = createServer((socket) => {
    socket.on('error', () => socket.destroy());
    readRequest(socket, (text) => {
      const served: Promise<RequestOutcome> =
        text === null ? Promise.resolve({ reply: null }) : options.serve !== undefined ? options.serve(text) : Promise.resolve(serveRequest(snapshot, text, options.run));
      void served
        .catch((): RequestOutcome => ({ reply: null }))
        .then((outcome) => {
          const answer = (): void => {
            if (outcome.reply === null) socket.end();
            else socket.end(outcome.reply);
          };
          /* a client that gets the report of a request that forked may use the new socket at once */
          if (outcome.fork !== undefined && options.onFork !== undefined) void options.onFork(outcome.fork.snapshot, outcome.fork.job).finally(answer);
          else answer();
        });
    });
  });
  return new Promise((resolveListen, rejectListen) => {
    server.once('error', rejectListen);
    server.listen(socketPath, () => {
      server.off('error', rejectListen);
      resolveListen(server);
    });
  });
}
