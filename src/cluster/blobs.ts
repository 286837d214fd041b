/**
 * Content-addressed bytes in the JetStream Object Store bucket: the name of
 * an object is the SHA-256 of its bytes, so the same program, image or
 * input is stored once however many tasks name it, and a worker keeps what
 * it fetched in a local cache directory under the same name
 * (spec/cluster.md, "Blobs").
 *
 * Where: src/cluster. The front end puts programs and inputs and gets
 * outputs; a worker gets programs and inputs (to files, since sessions read
 * regular files) and puts outputs.
 */
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ObjectStore } from '@nats-io/obj';
import { retryingNats } from './retry.js';
import { INLINE_OUTPUT_LIMIT, isBlobName, type BlobRef, type WireBytes } from './protocol.js';

/** A blob a task names is not in the bucket (expired, or never stored). */
export class BlobMissingError extends Error {
  override name = 'BlobMissingError';
}

export function blobName(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export class BlobStore {
  /** Names known to be in the bucket already (puts skip them). */
  private readonly stored = new Set<string>();
  /** Bytes moved to and from the bucket, for the benchmarks and status. */
  bytesPut = 0;
  bytesGot = 0;

  constructor(
    private readonly bucket: ObjectStore,
    /** Where a worker keeps fetched blobs as files (absent on a front end). */
    private readonly cacheDir?: string,
  ) {
    if (cacheDir !== undefined) mkdirSync(cacheDir, { recursive: true });
  }

  /** Puts under way by name: concurrent tasks naming one program check and store it once. */
  private readonly putting = new Map<string, Promise<void>>();

  async put(bytes: Uint8Array): Promise<BlobRef> {
    const name = blobName(bytes);
    if (!this.stored.has(name)) {
      const underway = this.putting.get(name);
      if (underway !== undefined) {
        await underway;
        return { blob: name };
      }
      const storing = this.store(name, bytes);
      this.putting.set(name, storing);
      try {
        await storing;
      } finally {
        this.putting.delete(name);
      }
    }
    return { blob: name };
  }

  private async store(name: string, bytes: Uint8Array): Promise<void> {
    const info = await retryingNats(() => this.bucket.info(name));
    if (info === null || info.deleted) {
      await retryingNats(() => this.bucket.putBlob({ name }, bytes));
      this.bytesPut += bytes.length;
    }
    this.stored.add(name);
  }

  /** Hashes of files by path, while the file stays the same (device, inode, size, change time in ns). */
  private readonly fileNames = new Map<string, { readonly stamp: string; readonly ref: BlobRef }>();

  /**
   * A file's bytes as a blob. A program or image named by job after job is
   * read and hashed once while it stays unchanged: a large program costs
   * milliseconds of SHA-256 per session otherwise.
   */
  async putFile(path: string): Promise<BlobRef> {
    const stat = statSync(path, { bigint: true });
    const stamp = `${stat.dev}:${stat.ino}:${stat.size}:${stat.ctimeNs}:${stat.mtimeNs}`;
    const known = this.fileNames.get(path);
    if (known !== undefined && known.stamp === stamp && this.stored.has(known.ref.blob)) return known.ref;
    const ref = await this.put(readFileSync(path));
    this.fileNames.set(path, { stamp, ref });
    return ref;
  }

  async get(ref: BlobRef): Promise<Uint8Array> {
    if (!isBlobName(ref.blob)) throw new BlobMissingError(`'${ref.blob}' is not a blob name (64 hex digits)`);
    const bytes = await retryingNats(() => this.fetch(ref.blob));
    if (bytes === null) throw new BlobMissingError(`blob ${ref.blob} is not in the ${'bucket'}: it expired or was never stored`);
    if (blobName(bytes) !== ref.blob) throw new BlobMissingError(`blob ${ref.blob} came back with other bytes (SHA-256 mismatch)`);
    this.bytesGot += bytes.length;
    return bytes;
  }

  /**
   * The object's bytes, or null when it is not stored. The Object Store
   * reads through a push consumer whose idle heartbeat is 30 s: when its
   * server dies the read stalls that long. A read gets a deadline of its
   * own (2 s and 1 s per MiB); past it the read is cancelled and, being a
   * timeout, tried again (retry.ts).
   */
  private async fetch(name: string): Promise<Uint8Array | null> {
    const result = await this.bucket.get(name);
    if (result === null) return null;
    const reader = result.data.getReader();
    const chunks: Uint8Array[] = [];
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`reading blob ${name} timed out`)), 2000 + Math.ceil(result.info.size / 1048576) * 1000);
    });
    try {
      for (;;) {
        const { done, value } = await Promise.race([reader.read(), deadline]);
        if (done) break;
        chunks.push(value);
      }
    } catch (error) {
      void reader.cancel().catch(() => undefined);
      throw error;
    } finally {
      clearTimeout(timer);
    }
    return new Uint8Array(Buffer.concat(chunks));
  }

  /** Bytes for a result: inline when small. */
  async putResult(bytes: Uint8Array): Promise<WireBytes> {
    return bytes.length <= INLINE_OUTPUT_LIMIT ? { base64: Buffer.from(bytes).toString('base64') } : this.put(bytes);
  }

  async getResult(wire: WireBytes): Promise<Uint8Array> {
    return 'base64' in wire ? new Uint8Array(Buffer.from(wire.base64, 'base64')) : this.get(wire);
  }

  /** The blob as a read-only file in the cache directory (fetched once). */
  async file(ref: BlobRef): Promise<string> {
    if (this.cacheDir === undefined) throw new Error('this blob store has no cache directory');
    /* the name becomes a path: only a hash may */
    if (!isBlobName(ref.blob)) throw new BlobMissingError(`'${ref.blob}' is not a blob name (64 hex digits)`);
    const path = join(this.cacheDir, ref.blob);
    if (existsSync(path)) return path;
    const bytes = await this.get(ref);
    const partial = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.part`;
    writeFileSync(partial, bytes);
    chmodSync(partial, 0o444);
    renameSync(partial, path);
    return path;
  }
}
