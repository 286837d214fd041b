/**
 * After a job: its outputs become objects, and its results become the HTTP
 * response ZeroCloud gave (spec/serving.md, "Responses").
 *
 * - Each writable device with a path was written to a file of the job's
 *   directory; once its node has ended with exit code 0 (the session ran to
 *   TrapExit), and if it holds at least `min_size` bytes, the file becomes
 *   the object, atomically (the store renames it in). A node that failed
 *   writes no object: a half-done output must not replace good data.
 * - The writable devices without a path, in node order, make the body; the
 *   first one's `content_type` is the response's Content-Type, its `meta`
 *   the X-Object-Meta-* headers.
 * - `message/http` (a CGI NPH response: status line, headers, body) and
 *   `message/cgi` (headers, blank line, body) outputs are parsed: their
 *   Content-Type and X-Object-Meta-* headers go to the object or the
 *   response, the rest is the body.
 * - X-Nexe-* headers aggregate every node's report, comma-separated in
 *   node order (ZeroCloud doc/Response.md): System (node names), Status
 *   (exit state), Retcode (the program's exit code), Etag (the etag line,
 *   or "disabled"), Validation (validator state), Cdr-Line ("<total
 *   seconds>, <node seconds>, <node accounting>, ..."; node seconds are its
 *   session's wall time when the executor measured it, else the job's), and X-Nexe-Error when something failed (a node
 *   that could not run; what a node waited on when its timeout ended it).
 *
 * Messages never carry host paths: `Scrubber` rewrites them to the names a
 * user knows (swift://..., file://IMAGE:PATH).
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import type { CompiledJob, ObjectPath, OutputParsing } from './compile.js';
import type { JobResult, NodeResult } from './executor.js';

/** Where outputs are committed (src/serve/store.ts). */
export interface JobSink {
  commitFile(account: string, container: string, object: string, file: string, options: { readonly contentType?: string; readonly meta?: Readonly<Record<string, string>> }): unknown;
  /** An output's bytes when the executor handed them to the sink instead of writing `file` (a cluster's store); undefined: read the file. */
  readOutput?(file: string): Buffer | undefined;
}

export interface JobResponse {
  readonly status: number;
  /** In order; names as sent. */
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Buffer;
}

/** Rewrites host paths in messages to what the user named (and hides any other path under the given roots). */
export class Scrubber {
  /* sorted at the first message: most jobs have none to scrub */
  private pairs: [string, string][] | undefined;
  constructor(
    private readonly known: ReadonlyMap<string, string>,
    private readonly roots: readonly string[],
  ) {}

  scrub(text: string): string {
    let out = text;
    this.pairs ??= [...this.known.entries()].sort((a, b) => b[0].length - a[0].length);
    for (const [host, shown] of this.pairs) out = out.split(host).join(shown);
    for (const root of this.roots) {
      if (root.length < 2) continue;
      const escaped = root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      out = out.replace(new RegExp(`${escaped}[^\\s'",;)]*`, 'g'), '<server file>');
    }
    return out;
  }
}

/** Visible ASCII without commas: headerValue changes nothing but the blanks at the ends. */
const PLAIN_HEADER_VALUE = /^[\x20-\x2b\x2d-\x7e]*$/;

/** Header values are one line of visible Latin-1; commas separate nodes, so a value's own commas become ';'. */
function headerValue(text: string): string {
  /* the usual value (a node name, an exit state) is already one: then only the trim is left */
  if (PLAIN_HEADER_VALUE.test(text)) return text.trim();
  return text.replace(/[\r\n]+/g, ' ').replace(/[^\x20-\x7e]/g, '?').replace(/,/g, ';').trim();
}

export interface ParsedOutput {
  readonly contentType?: string;
  readonly meta: Record<string, string>;
  readonly body: Buffer;
}

/** Splits a message/http or message/cgi output into headers and body; an output with no header block is all body. */
export function parseMessage(bytes: Buffer, kind: Exclude<OutputParsing, undefined>): ParsedOutput {
  const limit = Math.min(bytes.length, 64 * 1024);
  const head = bytes.subarray(0, limit).toString('latin1');
  const end = /\r?\n\r?\n/.exec(head);
  if (end === null) return { meta: {}, body: bytes };
  const lines = head.slice(0, end.index).split(/\r?\n/);
  if (kind === 'http') {
    if (!/^HTTP\/\d\.\d \d{3}/.test(lines[0] ?? '')) return { meta: {}, body: bytes };
    lines.shift();
  }
  let contentType: string | undefined;
  const meta: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) return { meta: {}, body: bytes };
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'content-type') contentType = value;
    else if (name.startsWith('x-object-meta-') && name.length > 'x-object-meta-'.length) meta[name.slice('x-object-meta-'.length)] = value;
  }
  return { ...(contentType === undefined ? {} : { contentType }), meta, body: bytes.subarray(end.index + end[0].length) };
}

function metaHeaders(meta: Readonly<Record<string, string>>): [string, string][] {
  return Object.entries(meta).map(([k, v]) => [`X-Object-Meta-${k}`, headerValue(v)]);
}

function etagLine(node: NodeResult): string {
  return node.etags.length === 0 ? 'disabled' : node.etags.map((e) => `${e.alias} ${e.digest}`).join(' ');
}

function accounting(node: NodeResult): string {
  const a = node.accounting;
  return [a.sysSeconds.toFixed(2), a.userSeconds.toFixed(2), a.local.gets, a.local.getBytes, a.local.puts, a.local.putBytes, a.network.gets, a.network.getBytes, a.network.puts, a.network.putBytes].join(' ');
}

function show(p: ObjectPath): string {
  return `swift://${p.account}/${p.container}/${p.object}`;
}

/**
 * Bytes of the per-node X-Nexe-* headers together, and of X-Nexe-Error. HTTP
 * clients refuse responses whose headers pass 16 KiB (Node's default), and a
 * job of a thousand nodes makes about 60 KiB: past the budget, the headers
 * list the first nodes that fit, end in ',...', and X-Nexe-Nodes gives the
 * count (a deviation from ZeroCloud, spec/serving.md "Responses").
 */
const NEXE_HEADER_BUDGET = 10 * 1024;
const MAX_ERROR_HEADER = 2 * 1024;

/** How many nodes' values the per-node headers can carry within NEXE_HEADER_BUDGET. */
function nodesThatFit(perNode: readonly (readonly [string, readonly string[]])[]): number {
  const count = perNode[0]?.[1].length ?? 0;
  let total = 0;
  for (let i = 0; i < count; i++) {
    for (const [, values] of perNode) total += values[i]!.length + 2;
    if (total > NEXE_HEADER_BUDGET) return i;
  }
  return count;
}

/**
 * Commits the outputs of `job` and builds the response. `seconds` is the
 * job's wall time. Never throws for what a node did; a failed commit is
 * reported in X-Nexe-Error.
 */
export function finishJob(job: CompiledJob, result: JobResult, sink: JobSink, seconds: number, scrubber: Scrubber): JobResponse {
  const byName = new Map(result.nodes.map((n) => [n.name, n]));
  const errors: string[] = [];
  for (const node of result.nodes) {
    if (node.error !== undefined) errors.push(`${node.name}: ${node.error.message}`);
    /* e.g. which pipe a node of a deadlocked job was waiting on when its timeout ended it */
    else if (node.detail !== undefined) errors.push(`${node.name}: ${node.detail}`);
  }
  for (const out of job.outputs) {
    const node = byName.get(out.node);
    if (node === undefined || node.error !== undefined || node.exitCode !== 0) continue;
    let bytes: Buffer;
    try {
      bytes = sink.readOutput?.(out.file) ?? readFileSync(out.file);
    } catch {
      errors.push(`${out.node}: ${out.alias} was not written`);
      continue;
    }
    let contentType = out.contentType;
    let meta: Record<string, string> = { ...out.meta };
    let file = out.file;
    if (out.parse !== undefined) {
      const parsed = parseMessage(bytes, out.parse);
      contentType = parsed.contentType ?? (out.contentType?.toLowerCase().startsWith('message/') ? undefined : out.contentType);
      meta = { ...meta, ...parsed.meta };
      bytes = parsed.body;
      file = `${out.file}.body`;
      writeFileSync(file, bytes);
    }
    if (bytes.length < out.minSize) continue;
    try {
      sink.commitFile(out.target.account, out.target.container, out.target.object, file, { ...(contentType === undefined ? {} : { contentType }), meta });
    } catch (error) {
      errors.push(`${out.node}: ${show(out.target)} could not be written: ${(error as Error).message}`);
    }
  }
  const parts: Buffer[] = [];
  let contentType: string | undefined;
  const responseMeta: Record<string, string> = {};
  for (const part of job.response) {
    const node = byName.get(part.node);
    let bytes: Buffer = Buffer.from(node?.outputs[part.alias] ?? new Uint8Array(0));
    if (bytes.length < part.minSize) continue;
    let type = part.contentType;
    Object.assign(responseMeta, part.meta);
    if (part.parse !== undefined) {
      const parsed = parseMessage(bytes, part.parse);
      type = parsed.contentType;
      Object.assign(responseMeta, parsed.meta);
      bytes = parsed.body;
    }
    contentType ??= type;
    parts.push(bytes);
  }
  const body = Buffer.concat(parts);
  const perNode: [string, string[]][] = [
    ['X-Nexe-System', result.nodes.map((n) => headerValue(n.name))],
    ['X-Nexe-Status', result.nodes.map((n) => headerValue(n.error !== undefined ? 'ZeroVM did not run' : n.exitState))],
    ['X-Nexe-Retcode', result.nodes.map((n) => String(n.userReturnCode))],
    ['X-Nexe-Etag', result.nodes.map((n) => headerValue(etagLine(n)))],
    ['X-Nexe-Validation', result.nodes.map((n) => String(n.validatorState))],
    ['X-Nexe-Cdr-Line', result.nodes.map((n) => `${(n.seconds ?? seconds).toFixed(3)}, ${accounting(n)}`)],
  ];
  /* our extension (spec/serving.md "Warm starts in zerovm serve"): how each node started, when any could start warm */
  if (result.nodes.some((n) => n.warm !== undefined)) perNode.push(['X-Zerovm-Warm', result.nodes.map(warmStartOf)]);
  const shown = nodesThatFit(perNode);
  const cut = shown < result.nodes.length ? ',...' : '';
  const headers: [string, string][] = [
    ['Content-Type', contentType ?? 'text/plain'],
    ['ETag', createHash('md5').update(body).digest('hex')],
    ...metaHeaders(responseMeta),
    ...perNode.map(([name, values]): [string, string] => [name, (name === 'X-Nexe-Cdr-Line' ? [seconds.toFixed(3), ...values.slice(0, shown)].join(', ') : values.slice(0, shown).join(',')) + cut]),
  ];
  if (cut !== '') headers.push(['X-Nexe-Nodes', String(result.nodes.length)]);
  if (errors.length > 0) {
    const error = headerValue(scrubber.scrub(errors.join('; ')));
    headers.push(['X-Nexe-Error', error.length > MAX_ERROR_HEADER ? `${error.slice(0, MAX_ERROR_HEADER)}...` : error]);
  }
  return { status: 200, headers, body };
}

/** A node's X-Zerovm-Warm value: from a snapshot (set up for it first, or not), cold, or not a warm-start candidate (-). */
function warmStartOf(node: NodeResult): string {
  if (node.warm === undefined) return '-';
  if (!node.warm.fromSnapshot) return 'cold';
  return node.warm.setUp ? 'set-up' : 'snapshot';
}
