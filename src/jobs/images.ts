/**
 * Tar images a job takes programs from: the server's system images
 * (`--sysimage NAME=APP.zapp`), a job's `image` device, or the tar POSTed as
 * the request (spec/serving.md, "Images").
 *
 * Where: compile.ts asks an image for a member (the program of
 * `exec.path: "file://NAME:bin/lua.nexe"` or a relative path) and gets a
 * host file it can hand to the executor. A system image extracts each
 * program once and keeps it for the server's life; a request's image
 * extracts into the job's own directory.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { normaliseMemberPath, readTar, TarError, type TarEntry } from '../zapp/tar.js';

export class ImageError extends Error {
  override name = 'ImageError';
}

export class TarImage {
  private entries: Map<string, TarEntry> | undefined;
  private readonly extracted = new Map<string, string>();

  /**
   * @param name  how messages name it ('system image lua', 'the request's image')
   * @param path  the tar on the host
   * @param extractDir  where members are written when asked for
   */
  constructor(
    readonly name: string,
    readonly path: string,
    private readonly extractDir: string,
  ) {}

  private members(): Map<string, TarEntry> {
    if (this.entries === undefined) {
      let list: TarEntry[];
      try {
        list = readTar(readFileSync(this.path));
      } catch (error) {
        if (error instanceof TarError) throw new ImageError(`${this.name} is not a readable tar archive: ${error.message}`);
        throw error;
      }
      this.entries = new Map(list.filter((e) => e.type === 'file').map((e) => [e.path, e]));
    }
    return this.entries;
  }

  /** A member's bytes, or undefined when the image has no such file. */
  read(member: string): Uint8Array | undefined {
    let path: string;
    try {
      path = normaliseMemberPath(member);
    } catch (error) {
      throw new ImageError(`'${member}' is not a path inside ${this.name}: ${(error as Error).message}`);
    }
    return this.members().get(path)?.data;
  }

  has(member: string): boolean {
    return this.read(member) !== undefined;
  }

  /** A host file holding the member (written once per image), or undefined when there is none. */
  extract(member: string): string | undefined {
    const known = this.extracted.get(member);
    if (known !== undefined) return known;
    const data = this.read(member);
    if (data === undefined) return undefined;
    mkdirSync(this.extractDir, { recursive: true });
    const file = join(this.extractDir, `member-${createHash('sha256').update(this.path).update('\0').update(member).digest('hex').slice(0, 24)}`);
    writeFileSync(file, data);
    this.extracted.set(member, file);
    return file;
  }
}
