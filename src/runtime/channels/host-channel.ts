/**
 * One channel backed by the host: a regular file, a character device
 * (/dev/null, /dev/zero, /dev/urandom, a tty...) or a named pipe.
 *
 * Where: runtime. `channel-set.ts` opens one per manifest line; the trap
 * (`trap-io.ts`) checks a guest request against the channel's limits and
 * positions, then calls `read` / `write` here, which move the bytes, update
 * positions, counters and the etag.
 *
 * Source of truth: spec/runtime.md "Channels", as measured on the original
 * ZeroVM 2015. Behaviours kept on purpose:
 *   - the source is chosen by stat() of the uri, following symlinks; a uri
 *     that does not exist is a regular file. /dev/stdin, /dev/stdout and
 *     /dev/stderr get no special treatment: they are opened by name, so they
 *     become whatever the host's descriptor 0/1/2 is (tty = character
 *     device, pipe = FIFO, redirection = regular file, which a write-only
 *     channel then truncates, as the original did). Directories, block
 *     devices and sockets are EPROTONOSUPPORT "invalid <alias> source type
 *     <type>".
 *   - regular, read-only: O_RDONLY, size = file size; a file that cannot
 *     be opened is EFAULT "cannot open <uri>".
 *     regular, write-only: O_WRONLY|O_CREAT|O_TRUNC (0600), size 0, the file
 *     is extended (ftruncate, sparse) to put_size unless preallocation is
 *     off (-P) or the uri is /dev/null; a failed ftruncate is its errno
 *     "cannot preallocate <alias>" (EBADF 9 when the open had failed),
 *     a failed open without preallocation its errno "<uri> open error".
 *     regular, read+write (type 1 appendable, type 3 random): O_RDWR|O_CREAT
 *     (0600), size = file size (EFAULT "cannot open <uri>" when it has
 *     none); an empty file is extended to put_size, otherwise the write
 *     position starts at the end (type 1) or at 0.
 *     Character devices and FIFOs are read-only (O_RDONLY) or write-only
 *     (O_RDWR, so that opening a FIFO for writing does not wait for a
 *     reader); they have size 0; one that cannot be opened is EBADF
 *     "cannot open <uri>" (the original's fdopen of a failed open).
 *   - reads of regular files are pread() at the channel position (sequential)
 *     or the guest's offset (random); devices and FIFOs ignore offsets and
 *     fill the buffer completely unless the stream ends (fread semantics,
 *     with end of stream sticky). A read goes in chunks of 64 KiB until the
 *     request is filled or a sequential channel hits its end; each chunk is
 *     one "get" of the report's accounting, the zero-byte chunk that finds
 *     the end included. Reaching the end sets the channel's eof flag.
 *   - writes are one pwrite() for regular files, a complete write for
 *     devices and FIFOs; size becomes the write position (sequential
 *     writes) or the larger of both (random writes).
 *   - at close, a regular channel with non-zero puts and put_size limits is
 *     truncated to its size, which removes the unused preallocated tail.
 * Deliberate differences, each the safer choice (spec/runtime.md, "Where
 * we differ"):
 *   - no user-space buffering: every write reaches the kernel before the
 *     trap returns, so the data survives a later crash of the session (the
 *     original used stdio for devices and FIFOs and lost unflushed output);
 *   - a random read that gets 0 bytes stops instead of looping forever;
 *   - EAGAIN (a non-blocking descriptor) is retried instead of ending the
 *     stream.
 * Opening a FIFO for reading blocks until a writer opens it, as in the
 * original; the whole Node thread waits, by design (the trap path is
 * synchronous).
 */
import {
  closeSync,
  constants as fsConstants,
  fstatSync,
  ftruncateSync,
  openSync,
  readSync,
  statSync,
  writeSync,
} from 'node:fs';
import { Errno } from '../definitions.js';
import { StreamingEtag } from '../etag.js';
import type { MemoryFile } from './memory-file.js';
import { BROKEN_PIPE, DEADLINE_PASSED, type SequentialStream } from './stream.js';
import {
  ChannelDeadlineError,
  ChannelIoError,
  ChannelMountError,
  hostErrno,
  hostErrorCode,
} from './errors.js';
import {
  accessMask,
  channelKind,
  exactLimits,
  isSequentialRead,
  isSequentialWrite,
  isValidChannelType,
  numericLimits,
  ChannelType,
  type AccessMask,
  type ChannelKind,
  type ChannelSpec,
  type IoLimits,
  type IoNumbers,
} from './spec.js';

/**
 * What kind of host object backs a channel (not the manifest's
 * `ChannelBacking`, which is where a uri points: a file path or a network
 * address). 'memory' is an embedder's buffer or stream (memory-file.ts),
 * which behaves as a regular file; 'stream' a blocking sequential stream
 * (stream.ts: a pipe to another session), which behaves as a FIFO.
 */
export type ChannelBacking = 'regular' | 'character' | 'fifo' | 'socket' | 'memory' | 'stream';

/**
 * The host's standard streams by their channel uri. When one of them is a
 * socket (what Node's child_process gives a child for "pipe" stdio, or a
 * service manager), it cannot be opened by name (Linux refuses open() on a
 * socket), so the channel uses the inherited descriptor itself and leaves
 * it open at the end. The original ZeroVM refused sockets here; accepting
 * them as sequential streams changes nothing a program can observe.
 */
const STANDARD_STREAM_FD: Readonly<Record<string, number>> = { '/dev/stdin': 0, '/dev/stdout': 1, '/dev/stderr': 2 };

/** Options of the session that affect how channels are opened. */
export interface OpenChannelOptions {
  /** Extend writable regular files to put_size when opened (default true; -P turns it off). */
  readonly preallocate?: boolean;
  /**
   * Use the host's standard streams through the inherited descriptors 0-2
   * whatever they are, never reopened by name (`zerovm run`). Reopening
   * /dev/stdout when it is a file truncates it, and the final truncation of
   * an empty /dev/stderr would empty a file that stdout shares
   * (`> out 2>&1`). The original's manifest semantics reopen them (default).
   */
  readonly inheritStandardStreams?: boolean;
}

/** Size of one host read (the original's BUFFER_SIZE). */
export const READ_CHUNK_SIZE = 0x10000;

/** Host I/O calls as the report's accounting counts them. */
export interface HostIoStats {
  gets: number;
  getBytes: number;
  puts: number;
  putBytes: number;
}

const DEV_NULL = '/dev/null';
const FILE_MODE = 0o600;
const NETWORK_SCHEME = /^(tcp|udp|ipc):/i;

const sleeper = new Int32Array(new SharedArrayBuffer(4));
function pause(): void {
  Atomics.wait(sleeper, 0, 0, 1);
}

function isRetryable(error: unknown): boolean {
  const code = hostErrorCode(error);
  return code === 'EAGAIN' || code === 'EWOULDBLOCK' || code === 'EINTR';
}

/** The host object behind a uri, or undefined when it cannot back a channel. */
function detectBacking(uri: string, options: OpenChannelOptions): ChannelBacking | undefined {
  if (options.inheritStandardStreams === true && uri in STANDARD_STREAM_FD) return 'socket';
  let stats;
  try {
    stats = statSync(uri);
  } catch {
    return 'regular'; /* does not exist (yet): a regular file */
  }
  if (stats.isFile()) return 'regular';
  if (stats.isCharacterDevice()) return 'character';
  if (stats.isFIFO()) return 'fifo';
  if (stats.isSocket() && uri in STANDARD_STREAM_FD) return 'socket';
  return undefined; /* directory, block device, other sockets */
}

interface OpenedHandle {
  readonly fd: number;
  readonly size: number;
  readonly putpos: number;
}

/** The descriptor, or the errno of the failed open (negated). */
function tryOpen(uri: string, flags: number): number {
  try {
    return openSync(uri, flags, FILE_MODE);
  } catch (error) {
    return -hostErrno(error);
  }
}

function openOrFail(uri: string, flags: number, alias: string, errno: number, message: string): number {
  const fd = tryOpen(uri, flags);
  if (fd < 0) throw new ChannelMountError(errno === 0 ? -fd : errno, message, alias);
  return fd;
}

function fileSize(fd: number): number {
  return fstatSync(fd).size;
}

/** Extends the file to put_size; `fd` may be a failed open's negated errno (then EBADF, as ftruncate(-1) gave). */
function preallocate(fd: number, spec: ChannelSpec, limits: IoLimits, options: OpenChannelOptions): void {
  if (options.preallocate === false) return;
  const fail = (errno: number): never => {
    if (fd >= 0) closeSync(fd);
    throw new ChannelMountError(errno, `cannot preallocate ${spec.alias}`, spec.alias);
  };
  if (fd < 0) fail(Errno.EBADF);
  if (limits.putSize > BigInt(Number.MAX_SAFE_INTEGER)) fail(Errno.EFBIG);
  try {
    ftruncateSync(fd, Number(limits.putSize));
  } catch (error) {
    fail(hostErrno(error));
  }
}

function openRegular(
  spec: ChannelSpec,
  type: ChannelType,
  mask: AccessMask,
  limits: IoLimits,
  options: OpenChannelOptions,
): OpenedHandle {
  const { uri, alias } = spec;
  const cannotOpen = `cannot open ${uri}`;
  const flags = fsConstants;
  /* after preallocation: a descriptor that never opened is the open's errno */
  const opened = (fd: number): number => {
    if (fd < 0) throw new ChannelMountError(-fd, `${uri} open error`, alias);
    return fd;
  };
  switch (mask) {
    case 1: {
      const fd = openOrFail(uri, flags.O_RDONLY, alias, Errno.EFAULT, cannotOpen);
      return { fd, size: fileSize(fd), putpos: 0 };
    }
    case 2: {
      const fd = tryOpen(uri, flags.O_WRONLY | flags.O_CREAT | flags.O_TRUNC);
      if (uri !== DEV_NULL) preallocate(fd, spec, limits, options);
      return { fd: opened(fd), size: 0, putpos: 0 };
    }
    case 3: {
      if (type === ChannelType.SGetSPut)
        throw new ChannelMountError(Errno.EFAULT, 'sequential channels cannot have r/w access', alias);
      if (type === ChannelType.SGetRPut)
        throw new ChannelMountError(
          Errno.EFAULT,
          'sequential read / random write channels not supported',
          alias,
        );
      const fd = tryOpen(uri, flags.O_RDWR | flags.O_CREAT);
      const size = fd >= 0 ? fileSize(fd) : statSize(uri);
      if (size === undefined) throw new ChannelMountError(Errno.EFAULT, cannotOpen, alias);
      if (size === 0 && uri !== DEV_NULL) {
        preallocate(fd, spec, limits, options);
        return { fd: opened(fd), size, putpos: 0 };
      }
      return { fd: opened(fd), size, putpos: type === ChannelType.RGetSPut ? size : 0 };
    }
    default:
      throw new ChannelMountError(Errno.EINVAL, `${alias} has invalid i/o type`, alias);
  }
}

/** The size of a file that can be opened for reading (the original measured it so), or undefined. */
function statSize(uri: string): number | undefined {
  const fd = tryOpen(uri, fsConstants.O_RDONLY);
  if (fd < 0) return undefined;
  try {
    return fileSize(fd);
  } finally {
    closeSync(fd);
  }
}

function openStream(spec: ChannelSpec, mask: AccessMask): OpenedHandle {
  if (mask !== 1 && mask !== 2)
    throw new ChannelMountError(Errno.EINVAL, `${spec.alias} has invalid i/o type`, spec.alias);
  const flags = mask === 1 ? fsConstants.O_RDONLY : fsConstants.O_RDWR;
  /* the original wrapped the descriptor with fdopen, which fails with EBADF when the open did */
  const fd = openOrFail(spec.uri, flags, spec.alias, Errno.EBADF, `cannot open ${spec.uri}`);
  return { fd, size: 0, putpos: 0 };
}

/** The descriptor of a channel whose bytes are in memory: there is none. */
const NO_DESCRIPTOR = -1;
/** The largest in-memory channel: a Buffer's largest size here (as a disk's largest file). */
const MEMORY_FILE_LIMIT = 2 ** 32;

/** A channel over a MemoryFile opens as a regular file would (without a disk to preallocate). */
function openMemory(spec: ChannelSpec, memory: MemoryFile, type: ChannelType, mask: AccessMask): OpenedHandle {
  switch (mask) {
    case 1:
      return { fd: NO_DESCRIPTOR, size: memory.size, putpos: 0 };
    case 2:
      memory.truncate(0); /* O_TRUNC */
      return { fd: NO_DESCRIPTOR, size: 0, putpos: 0 };
    case 3:
      if (type === ChannelType.SGetSPut)
        throw new ChannelMountError(Errno.EFAULT, 'sequential channels cannot have r/w access', spec.alias);
      if (type === ChannelType.SGetRPut)
        throw new ChannelMountError(Errno.EFAULT, 'sequential read / random write channels not supported', spec.alias);
      return { fd: NO_DESCRIPTOR, size: memory.size, putpos: type === ChannelType.RGetSPut ? memory.size : 0 };
    default:
      throw new ChannelMountError(Errno.EINVAL, `${spec.alias} has invalid i/o type`, spec.alias);
  }
}

/** A standard stream that is a socket (or `inheritStandardStreams`): use the inherited descriptor. */
function inheritedStream(spec: ChannelSpec, mask: AccessMask): OpenedHandle {
  if (mask !== 1 && mask !== 2)
    throw new ChannelMountError(Errno.EINVAL, `${spec.alias} has invalid i/o type`, spec.alias);
  return { fd: STANDARD_STREAM_FD[spec.uri] as number, size: 0, putpos: 0 };
}

/** A mounted channel: host descriptor, positions, limits, counters and etag. */
export class HostChannel {
  /** Exact limits (int64), for the user manifest. */
  readonly limits: IoLimits;
  /** Limits as numbers (clamped to 2^53 - 1), for the trap checks. */
  readonly quota: Readonly<IoNumbers>;
  /** Which of the six channel kinds this is. */
  readonly kind: ChannelKind;
  /** Running SHA-1 of the bytes moved, when the manifest asked for an etag. */
  readonly etag: StreamingEtag | null;

  private fd: number | null;
  private sizeValue: number;
  private getposValue = 0;
  private putposValue: number;
  private eofValue = false;
  /** End of a device/FIFO stream seen (fread's sticky EOF). */
  private streamEnded = false;
  private readonly countersValue: IoNumbers = { gets: 0, getSize: 0, puts: 0, putSize: 0 };
  /** When the session's time is up (Date.now() ms): how long a stream may wait. */
  private deadline = Number.POSITIVE_INFINITY;
  private readonly hostStatsValue: HostIoStats = { gets: 0, getBytes: 0, puts: 0, putBytes: 0 };

  private constructor(
    readonly alias: string,
    readonly uri: string,
    readonly type: ChannelType,
    readonly backing: ChannelBacking,
    limits: IoLimits,
    kind: ChannelKind,
    handle: OpenedHandle,
    etag: boolean,
    /** Where the bytes are when the backing is 'memory'. */
    private readonly memory: MemoryFile | null,
    /** The endpoint when the backing is 'stream'. */
    private readonly stream: SequentialStream | null = null,
  ) {
    this.limits = limits;
    this.quota = numericLimits(limits);
    this.kind = kind;
    this.fd = handle.fd;
    this.sizeValue = handle.size;
    this.putposValue = handle.putpos;
    this.etag = etag ? new StreamingEtag() : null;
  }

  /** Opens the host object of one manifest channel line. Throws ChannelMountError. */
  static open(spec: ChannelSpec, options: OpenChannelOptions = {}): HostChannel {
    const { alias, uri } = spec;
    if (!isValidChannelType(spec.type))
      throw new ChannelMountError(Errno.EFAULT, `${alias} has invalid type ${spec.type}`, alias);
    const type = spec.type;
    if (NETWORK_SCHEME.test(uri))
      throw new ChannelMountError(
        Errno.EPROTONOSUPPORT,
        `${alias}: network channel ${uri} is not supported`,
        alias,
      );
    if (spec.memory !== undefined) return HostChannel.openInMemory(spec, spec.memory);
    if (spec.stream !== undefined) return HostChannel.openStream(spec, spec.stream);
    if (!uri.startsWith('/'))
      throw new ChannelMountError(Errno.EFAULT, 'only absolute path channels are allowed', alias);

    const limits = exactLimits(spec.limits);
    const mask = accessMask(limits);
    const backing = detectBacking(uri, options);
    if (backing === undefined)
      throw new ChannelMountError(
        Errno.EPROTONOSUPPORT,
        `invalid ${alias} source type ${type}`,
        alias,
      );
    const kind = channelKind(type, mask);
    const handle =
      backing === 'regular'
        ? openRegular(spec, type, mask, limits, options)
        : backing === 'socket'
          ? inheritedStream(spec, mask)
          : openStream(spec, mask);
    /* openRegular/openStream refuse every pair channelKind does not know */
    if (kind === undefined) {
      closeSync(handle.fd);
      throw new ChannelMountError(Errno.EINVAL, `${alias} has invalid i/o type`, alias);
    }
    return new HostChannel(alias, uri, type, backing, limits, kind, handle, spec.etag, null);
  }

  private static openInMemory(spec: ChannelSpec, memory: MemoryFile): HostChannel {
    const type = spec.type as ChannelType; /* checked by open */
    const limits = exactLimits(spec.limits);
    const mask = accessMask(limits);
    const handle = openMemory(spec, memory, type, mask);
    const kind = channelKind(type, mask);
    if (kind === undefined) throw new ChannelMountError(Errno.EINVAL, `${spec.alias} has invalid i/o type`, spec.alias);
    return new HostChannel(spec.alias, spec.uri, type, 'memory', limits, kind, handle, spec.etag, memory);
  }

  /**
   * A channel over a SequentialStream: one-way, in the stream's direction,
   * with a sequential type for that direction (positions mean nothing).
   */
  private static openStream(spec: ChannelSpec, stream: SequentialStream): HostChannel {
    const type = spec.type as ChannelType; /* checked by open */
    const limits = exactLimits(spec.limits);
    const mask = accessMask(limits);
    const wanted = stream.direction === 'read' ? 1 : 2;
    const sequential = stream.direction === 'read' ? isSequentialRead(type) : isSequentialWrite(type);
    const kind = channelKind(type, mask);
    if (mask !== wanted || !sequential || kind === undefined)
      throw new ChannelMountError(Errno.EINVAL, `${spec.alias} has invalid i/o type (a pipe is sequential and ${stream.direction === 'read' ? 'read' : 'write'}-only)`, spec.alias);
    return new HostChannel(spec.alias, spec.uri, type, 'stream', limits, kind, { fd: NO_DESCRIPTOR, size: 0, putpos: 0 }, spec.etag, null, stream);
  }

  /** The session's deadline (Date.now() milliseconds), set when its clock starts: a stream waits no longer. */
  setDeadline(deadline: number): void {
    this.deadline = deadline;
  }

  /** Current size: file size at open, then grown by writes (0 for devices until written). */
  get size(): number {
    return this.sizeValue;
  }

  /** Size as the user manifest reports it: 0 for type 0 channels. */
  get manifestSize(): number {
    return this.type === ChannelType.SGetSPut ? 0 : this.sizeValue;
  }

  get getpos(): number {
    return this.getposValue;
  }

  get putpos(): number {
    return this.putposValue;
  }

  /** A sequential read found the end of the data; further reads return 0. */
  get eof(): boolean {
    return this.eofValue;
  }

  /** Guest requests served so far, checked against the limits. */
  get counters(): Readonly<IoNumbers> {
    return this.countersValue;
  }

  /** Host calls as the report's accounting counts them. */
  get hostStats(): Readonly<HostIoStats> {
    return this.hostStatsValue;
  }

  get isOpen(): boolean {
    return this.fd !== null;
  }

  /**
   * Reads `dest.length` bytes (already checked and cut by the trap) at
   * `offset` (the channel position for sequential channels). Returns the
   * bytes read; 0 means end of data. Throws ChannelIoError when the host
   * fails to read a regular file.
   */
  read(dest: Uint8Array, offset: number): number {
    const fd = this.descriptor();
    if (this.stream !== null) return this.streamRead(this.stream, dest);
    let done = 0;
    let position = offset;
    while (done < dest.length && !this.eofValue) {
      const want = Math.min(dest.length - done, READ_CHUNK_SIZE);
      const got = this.readChunk(fd, dest.subarray(done, done + want), position);
      this.hostStatsValue.gets += 1;
      this.hostStatsValue.getBytes += got;
      if (got === 0) {
        if (!isSequentialRead(this.type)) break;
        this.eofValue = true;
      }
      done += got;
      position += got;
      this.getposValue = position;
      if (!isSequentialWrite(this.type)) this.putposValue = position;
    }
    this.etag?.update(dest.subarray(0, done));
    this.countersValue.gets += 1;
    this.countersValue.getSize += done;
    return done;
  }

  /**
   * Writes `src` (already checked and cut by the trap) at `offset` (the
   * channel position for sequential channels). Returns the bytes written.
   * Throws ChannelIoError when the host fails to write a regular file.
   */
  write(src: Uint8Array, offset: number): number {
    const fd = this.descriptor();
    if (this.stream !== null) return this.streamWrite(this.stream, src);
    const written = this.memory !== null ? this.memoryWrite(this.memory, src, offset) : this.backing === 'regular' ? this.pwrite(fd, src, offset) : this.writeAll(fd, src);
    this.hostStatsValue.puts += 1;
    this.hostStatsValue.putBytes += written;
    this.putposValue = offset + written;
    this.sizeValue = isSequentialWrite(this.type)
      ? this.putposValue
      : Math.max(this.sizeValue, this.putposValue);
    this.getposValue = this.putposValue;
    this.etag?.update(src.subarray(0, written));
    this.countersValue.puts += 1;
    this.countersValue.putSize += written;
    return written;
  }

  /**
   * Closes the host descriptor; a writable regular file is first truncated
   * to the channel size (dropping the preallocated tail). Idempotent.
   */
  close(): void {
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    if (this.stream !== null) {
      this.stream.close();
      return;
    }
    if (this.memory !== null) {
      if (this.limits.putSize !== 0n && this.limits.puts !== 0n) this.memory.truncate(this.sizeValue);
      return;
    }
    if (this.backing === 'regular' && this.limits.putSize !== 0n && this.limits.puts !== 0n) {
      try {
        ftruncateSync(fd, this.sizeValue);
      } catch {
        /* the original ignored a failed final truncation too */
      }
    }
    if (this.backing !== 'socket') closeSync(fd); /* an inherited standard stream stays open */
  }

  private descriptor(): number {
    if (this.fd === null) throw new ChannelIoError(`${this.alias} is closed`, this.alias);
    return this.fd;
  }

  /**
   * One read of a stream: what is there (pipe semantics, not fread's fill:
   * a program answering its peer must not wait for a full buffer), one get
   * in the accounting; 0 is the end of data, sticky.
   */
  private streamRead(stream: SequentialStream, dest: Uint8Array): number {
    const got = stream.read(dest, this.deadline);
    if (got === DEADLINE_PASSED) throw new ChannelDeadlineError(this.alias, 'data');
    if (got < 0) throw new ChannelIoError(`${this.alias} failed to read`, this.alias);
    this.hostStatsValue.gets += 1;
    this.hostStatsValue.getBytes += got;
    if (got === 0) this.eofValue = true;
    this.getposValue += got;
    this.etag?.update(dest.subarray(0, got));
    this.countersValue.gets += 1;
    this.countersValue.getSize += got;
    return got;
  }

  /** One write to a stream: every byte, a short count, or -EPIPE when the reader has gone (POSIX pipe semantics). */
  private streamWrite(stream: SequentialStream, src: Uint8Array): number {
    const written = stream.write(src, this.deadline);
    if (written === DEADLINE_PASSED) throw new ChannelDeadlineError(this.alias, 'room');
    if (written === BROKEN_PIPE) return -Errno.EPIPE;
    if (written < 0) throw new ChannelIoError(`${this.alias};0 failed to write`, this.alias);
    this.hostStatsValue.puts += 1;
    this.hostStatsValue.putBytes += written;
    this.putposValue += written;
    this.sizeValue = this.putposValue;
    this.getposValue = this.putposValue;
    this.etag?.update(src.subarray(0, written));
    this.countersValue.puts += 1;
    this.countersValue.putSize += written;
    return written;
  }

  private readChunk(fd: number, dest: Uint8Array, position: number): number {
    if (this.memory !== null) return this.memory.read(dest, position);
    if (this.backing === 'regular') {
      try {
        return readSync(fd, dest, 0, dest.length, position);
      } catch (error) {
        throw new ChannelIoError(`${this.alias} failed to read`, this.alias, hostErrorCode(error));
      }
    }
    /* device or FIFO: fill the chunk unless the stream ends (fread) */
    if (this.streamEnded) return 0;
    let got = 0;
    while (got < dest.length) {
      let n: number;
      try {
        n = readSync(fd, dest, got, dest.length - got, null);
      } catch (error) {
        if (isRetryable(error)) {
          pause();
          continue;
        }
        this.streamEnded = true; /* fread: an error ends the stream with what was read */
        break;
      }
      if (n === 0) {
        this.streamEnded = true;
        break;
      }
      got += n;
    }
    return got;
  }

  /** A write past what one buffer can hold fails as a file system's would (EFBIG), ending the session. */
  private memoryWrite(memory: MemoryFile, src: Uint8Array, offset: number): number {
    if (!Number.isSafeInteger(offset) || offset + src.length > MEMORY_FILE_LIMIT)
      throw new ChannelIoError(`${this.alias};0 failed to write: EFBIG`, this.alias, 'EFBIG');
    return memory.write(src, offset);
  }

  private pwrite(fd: number, src: Uint8Array, offset: number): number {
    /* no file system takes offsets this large: pwrite would fail with EFBIG */
    if (!Number.isSafeInteger(offset))
      throw new ChannelIoError(`${this.alias};0 failed to write: EFBIG`, this.alias, 'EFBIG');
    try {
      return writeSync(fd, src, 0, src.length, offset);
    } catch (error) {
      const code = hostErrorCode(error) ?? 'unknown error';
      throw new ChannelIoError(`${this.alias};0 failed to write: ${code}`, this.alias, code);
    }
  }

  private writeAll(fd: number, src: Uint8Array): number {
    let written = 0;
    while (written < src.length) {
      try {
        written += writeSync(fd, src, written, src.length - written);
      } catch (error) {
        if (isRetryable(error)) {
          pause();
          continue;
        }
        break; /* fwrite: an error leaves a short count (EPIPE included) */
      }
    }
    return written;
  }
}
