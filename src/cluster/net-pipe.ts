/**
 * Pipes between sessions on different hosts: a TCP connection between two
 * cluster workers, behind a ring pipe on each side (spec/cluster.md,
 * "Pipes between workers").
 *
 * Where: src/cluster, used by the part runner (part-runner.ts). A session
 * never sees the network: it reads or writes its end of a ring
 * (src/jobs/ring-pipe.ts) as it would a local pipe, blocking its own
 * thread. This worker's event loop serves the other end of the ring
 * without ever blocking (RingPort), moving bytes to or from the socket.
 * Memory stays bounded however fast the writer is: the writer's session
 * blocks while its ring is full; its ring empties only as fast as the
 * socket takes bytes (a write that the socket refuses waits for 'drain');
 * the reading worker stops reading the socket while the reader's ring is
 * full (the socket is paused by async iteration), so TCP's window fills
 * and the writing worker's socket stops taking bytes.
 *
 * The wire: the writer connects to the reader's listener and sends
 * `ZVP1` and the pipe's one-time token (64 hex digits); then frames, each a
 * 32-bit big-endian length and that many bytes, at most 64 KiB; a frame of
 * length 0 says the writer ended its end (the reader's session sees the end
 * of data). The reader sends one byte, `C`, when its session closed its end
 * (the writer's session then gets a broken pipe). A connection that ends
 * without one of those two means the other worker was lost: the session
 * sees the end of data (or a broken pipe), and the ending says `clean:
 * false`, which the part runner reports as a lost member of the group.
 *
 * TLS (spec/cluster.md, "Pipes between workers", "TLS"): a worker given a
 * CA, its certificate and its key (the NATS TLS options) listens with TLS,
 * asks every writer for a certificate the same CA signed, and publishes
 * `tls: true` with its endpoint; a writer then connects with TLS, presents
 * its own certificate, and checks the reader's against the CA and the
 * published host. The one-time token is still sent (inside TLS): a
 * certificate says "a worker of this cluster", the token "this pipe". A
 * worker with TLS never sends a pipe's bytes in clear, and a worker without
 * it cannot reach a TLS endpoint: either way the pipe fails with a message
 * that says which options to give.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { connect as tlsConnect, createServer as createTlsServer } from 'node:tls';
import { BROKEN_PIPE } from '../runtime/channels/index.js';
import { closeRingReader, closeRingWriter, RingPipeReader, RingPipeWriter, RingPort, type RingPipeState } from '../jobs/ring-pipe.js';

const MAGIC = 'ZVP1';
const TOKEN_HEX = 64;
const HELLO_BYTES = MAGIC.length + TOKEN_HEX;
/** Largest frame: a few traps' worth, and small enough to keep the socket's queue short. */
export const FRAME_MAX = 64 * 1024;
const READER_CLOSED = 0x43; /* 'C' */
/** How long a connection may take to say which pipe it is for. */
const HELLO_TIMEOUT_MS = 10_000;
/** Event waits wake at least this often to look at flags set from outside. */
const POLL_MS = 500;
/** Frames a writing worker has handed to its socket and not yet seen written: with FRAME_MAX, its own bound on buffered bytes per pipe. */
const FRAMES_IN_FLIGHT = 4;

/** Where a reader's worker listens for a pipe's writer (published in the name service). */
export interface PipeEndpoint {
  readonly host: string;
  readonly port: number;
  readonly token: string;
  /** The listener takes only TLS connections with a certificate of the cluster's CA. */
  readonly tls?: boolean;
}

/** A worker's TLS material for pipes (PEM): the CA that signs every worker's certificate, and its own certificate and key. */
export interface PipeTls {
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
}

/**
 * The pipes' TLS material from the worker's NATS TLS options: all three
 * files given, or none (undefined: pipes without TLS). The files were
 * checked when NATS was connected (auth.ts); a file that cannot be read
 * now throws with its name.
 */
export function pipeTlsFrom(options: { readonly tlsCaFile?: string; readonly tlsCertFile?: string; readonly tlsKeyFile?: string }): PipeTls | undefined {
  const { tlsCaFile, tlsCertFile, tlsKeyFile } = options;
  if (tlsCaFile === undefined || tlsCertFile === undefined || tlsKeyFile === undefined) return undefined;
  const read = (file: string, what: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new Error(`the TLS ${what} for pipes between workers, ${file}, cannot be read: ${(error as Error).message}`);
    }
  };
  return { ca: read(tlsCaFile, 'CA'), cert: read(tlsCertFile, 'certificate'), key: read(tlsKeyFile, 'key') };
}

/** What the worker's options lack for a TLS endpoint, or a plain one for a worker with TLS. */
const TLS_ADVICE = 'give every worker the same --nats-ca and its own --nats-cert and --nats-key (a certificate of that CA naming its --pipe-host, usable as server and client)';

/** How one side of a pipe between workers ended. */
export type PipeEnding =
  /** The writer ended its end, or the reader closed its end, and the other side was told; or the pipe was never connected (its peer never started). */
  | { readonly clean: true; readonly connected: boolean; readonly bytes: number }
  /** The connection broke without either: the other worker was lost (or could not be reached). */
  | { readonly clean: false; readonly why: string; readonly bytes: number };

/** The reading side of one pipe, waiting for its writer to connect. */
export interface IncomingPipe {
  readonly token: string;
  readonly ended: Promise<PipeEnding>;
  /** The part is over: a writer that never connected is no longer waited for (its token is forgotten). */
  cancel(): void;
}

interface Expected {
  readonly ring: RingPipeState;
  readonly label: string;
  readonly settle: (ending: PipeEnding) => void;
}

/** A worker's one TCP listener for the pipes its sessions read. */
export class PipeListener {
  private readonly expected = new Map<string, Expected>();
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly host: string,
    readonly port: number,
    /** Only TLS connections whose certificate the CA signed. */
    readonly tls: boolean,
  ) {}

  /** Listens on `host` (the address other workers reach this one at), on a port the system picks; with `tls`, TLS only, writers' certificates verified. */
  static listen(host: string, tls?: PipeTls): Promise<PipeListener> {
    const server = tls === undefined ? createServer({ noDelay: true }) : createTlsServer({ ca: tls.ca, cert: tls.cert, key: tls.key, requestCert: true, rejectUnauthorized: true, handshakeTimeout: HELLO_TIMEOUT_MS });
    return new Promise((resolveListen, rejectListen) => {
      server.once('error', (error) => rejectListen(new Error(`cannot listen for pipes between workers on ${host}: ${error.message}; pass an address of this host (--pipe-host)`)));
      server.listen(0, host, () => {
        const address = server.address();
        const port = typeof address === 'object' && address !== null ? address.port : 0;
        const listener = new PipeListener(server, host, port, tls !== undefined);
        /* a TLS connection is served once its handshake verified the writer's certificate; one that fails is dropped by the server */
        server.on(tls === undefined ? 'connection' : 'secureConnection', (socket: Socket) => {
          socket.setNoDelay(true);
          listener.accept(socket);
        });
        resolveListen(listener);
      });
    });
  }

  /** Where to reach this listener for a pipe with `token`. */
  endpoint(token: string): PipeEndpoint {
    return { host: this.host, port: this.port, token, ...(this.tls ? { tls: true } : {}) };
  }

  /** Waits for the writer of a pipe whose session reads `ring`; the token goes into the name service. */
  expect(ring: RingPipeState, label: string): IncomingPipe {
    const token = randomBytes(TOKEN_HEX / 2).toString('hex');
    let settle!: (ending: PipeEnding) => void;
    const ended = new Promise<PipeEnding>((r) => (settle = r));
    this.expected.set(token, { ring, label, settle });
    return {
      token,
      ended,
      cancel: () => {
        if (!this.expected.delete(token)) return;
        closeRingWriter(ring);
        settle({ clean: true, connected: false, bytes: 0 });
      },
    };
  }

  async close(): Promise<void> {
    for (const token of [...this.expected.keys()]) {
      const entry = this.expected.get(token)!;
      this.expected.delete(token);
      closeRingWriter(entry.ring);
      entry.settle({ clean: true, connected: false, bytes: 0 });
    }
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined); /* the serving loop sees the failure */
    const hello = setTimeout(() => socket.destroy(), HELLO_TIMEOUT_MS);
    const onReadable = (): void => {
      const head = socket.read(HELLO_BYTES) as Buffer | null;
      if (head === null) return;
      socket.off('readable', onReadable);
      clearTimeout(hello);
      const text = head.toString('latin1');
      const entry = text.startsWith(MAGIC) ? this.expected.get(text.slice(MAGIC.length)) : undefined;
      if (entry === undefined) {
        /* not a pipe of ours, or a token already used: one connection per token */
        socket.destroy();
        return;
      }
      this.expected.delete(text.slice(MAGIC.length));
      void serveIncoming(socket, entry.ring, entry.label).then(entry.settle);
    };
    socket.on('readable', onReadable);
  }
}

/** Reader side: frames from the socket into the ring, until the end frame, the reader's close, or a broken connection. */
async function serveIncoming(socket: Socket, ring: RingPipeState, label: string): Promise<PipeEnding> {
  const port = new RingPort(ring);
  const writer = new RingPipeWriter(ring);
  let bytes = 0;
  let done = false;
  let readerGone = false;
  const tellWriter = (): void => {
    if (readerGone) return;
    readerGone = true;
    if (!socket.destroyed) socket.end(Buffer.of(READER_CLOSED));
  };
  /* the session may close its end while no bytes come: tell the writer at once */
  const watch = (async () => {
    while (!done) {
      const seen = port.events('room');
      if (port.readerClosed) return tellWriter();
      await port.changed('room', seen, POLL_MS);
    }
  })();
  /** Puts `payload` into the ring, waiting for room; false when the reader has gone. */
  const put = async (payload: Buffer): Promise<boolean> => {
    let at = 0;
    while (at < payload.length) {
      const seen = port.events('room');
      const n = writer.write(payload.subarray(at), 0);
      if (n === BROKEN_PIPE) return false;
      if (n > 0) {
        at += n;
        bytes += n;
        continue;
      }
      await port.changed('room', seen, POLL_MS);
    }
    return true;
  };
  /* a frame's header may arrive in pieces; its payload goes into the ring as it arrives, never copied twice */
  const header = Buffer.alloc(4);
  let headerHave = 0;
  let payloadLeft = 0;
  try {
    for await (const chunk of socket as AsyncIterable<Buffer>) {
      if (readerGone) continue; /* drain until the writer hangs up */
      let at = 0;
      while (at < chunk.length && !readerGone) {
        if (payloadLeft > 0) {
          const piece = chunk.subarray(at, at + payloadLeft);
          at += piece.length;
          payloadLeft -= piece.length;
          if (!(await put(piece))) tellWriter();
          continue;
        }
        const take = Math.min(4 - headerHave, chunk.length - at);
        chunk.copy(header, headerHave, at, at + take);
        headerHave += take;
        at += take;
        if (headerHave < 4) break;
        headerHave = 0;
        payloadLeft = header.readUInt32BE(0);
        if (payloadLeft > FRAME_MAX) throw new Error(`a frame of ${payloadLeft} bytes, more than ${FRAME_MAX}: not a zerovm pipe`);
        if (payloadLeft === 0) {
          closeRingWriter(ring);
          return { clean: true, connected: true, bytes };
        }
      }
    }
    if (readerGone) return { clean: true, connected: true, bytes };
    throw new Error('the connection ended before the writer ended the pipe');
  } catch (error) {
    if (readerGone) return { clean: true, connected: true, bytes };
    closeRingWriter(ring);
    return { clean: false, why: `pipe ${label}: the writing worker was lost after ${bytes} bytes (${(error as Error).message})`, bytes };
  } finally {
    done = true;
    await watch;
    if (!socket.destroyed) socket.end();
  }
}

/**
 * Writer side: connects to the reader's worker at `endpoint`, presents the
 * token, and sends what the session writes into `ring` until it ends. The
 * session's writes fail as on a broken pipe once the reader has gone.
 */
export function sendPipe(ring: RingPipeState, endpoint: PipeEndpoint, label: string, tls?: PipeTls): Promise<PipeEnding> {
  if ((endpoint.tls === true) !== (tls !== undefined)) {
    /* never bytes in clear from a worker with TLS; no handshake a plain worker cannot finish */
    closeRingReader(ring);
    const why = endpoint.tls === true ? 'the reading worker takes pipes only over TLS and this worker has no TLS certificate' : 'this worker sends pipes only over TLS and the reading worker listens without it';
    return Promise.resolve({ clean: false, why: `pipe ${label}: ${why}: ${TLS_ADVICE}`, bytes: 0 });
  }
  const port = new RingPort(ring);
  const reader = new RingPipeReader(ring);
  let bytes = 0;
  let readerGone = false;
  let broken: string | undefined;
  const socket: Socket = tls === undefined ? connect({ host: endpoint.host, port: endpoint.port, noDelay: true }) : tlsConnect({ host: endpoint.host, port: endpoint.port, ca: tls.ca, cert: tls.cert, key: tls.key });
  if (tls !== undefined) socket.setNoDelay(true);
  let wake: (() => void) | undefined;
  const stop = (why: string | undefined): void => {
    if (why === undefined) readerGone = true;
    else broken ??= why;
    closeRingReader(ring);
    wake?.();
  };
  socket.on('data', (chunk: Buffer) => {
    if (chunk.includes(READER_CLOSED)) stop(undefined);
  });
  socket.on('error', (error) => stop(error.message));
  socket.on('close', () => stop('the connection closed'));
  const connected = new Promise<boolean>((resolveConnect) => {
    /* over TLS, connected once the reader's certificate is verified (against the CA and the published host) */
    socket.once(tls === undefined ? 'connect' : 'secureConnect', () => resolveConnect(true));
    socket.once('close', () => resolveConnect(false));
  });
  const lost = (): PipeEnding => ({ clean: false, why: `pipe ${label}: the reading worker at ${endpoint.host}:${endpoint.port} was lost or could not be reached after ${bytes} bytes (${broken ?? 'no reason given'})`, bytes });
  /* frames are reused once the socket has written them: no garbage per frame, and at most FRAMES_IN_FLIGHT queued */
  const free: Buffer[] = Array.from({ length: FRAMES_IN_FLIGHT }, () => Buffer.allocUnsafe(4 + FRAME_MAX));
  return (async (): Promise<PipeEnding> => {
    if (!(await connected)) return lost();
    socket.write(MAGIC + endpoint.token);
    for (;;) {
      if (readerGone) {
        socket.destroy();
        return { clean: true, connected: true, bytes };
      }
      if (broken !== undefined) return lost();
      const frame = free.pop();
      if (frame === undefined) {
        /* every frame is still queued in the socket: wait for one to be written */
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
        continue;
      }
      const seen = port.events('data');
      const n = reader.read(frame.subarray(4), 0);
      if (n > 0) {
        frame.writeUInt32BE(n, 0);
        bytes += n;
        socket.write(frame.subarray(0, 4 + n), () => {
          free.push(frame);
          wake?.();
        });
        continue;
      }
      free.push(frame);
      if (n === 0) {
        /* the session ended its end: the end frame, then wait until the reader hangs up (or says it had gone) */
        const ended = new Promise<void>((r) => socket.once('close', () => r()));
        socket.end(Buffer.alloc(4));
        await ended;
        return { clean: true, connected: true, bytes };
      }
      const moved = port.changed('data', seen, POLL_MS);
      await Promise.race([moved, new Promise<void>((r) => (wake = r))]);
      wake = undefined;
    }
  })();
}
