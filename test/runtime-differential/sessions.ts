/**
 * Generated sessions for the runtime's differential tests: a manifest (the
 * three standard channels and up to six more, with aliases chosen to sort
 * differently under C's strcmp and under a locale, every channel type,
 * limits from none to huge, regular files of random content, new files,
 * devices, a directory; etag flags; memory sizes from too small to 4 GiB)
 * and a trap script for the conformance suite's driver program
 * (conformance/programs/driver.nexe), plus how to lay them out in a folder
 * and run them on the original ZeroVM 2015 and on our engines.
 *
 * What the generator leaves out, and why (each a documented difference,
 * spec/runtime.md "Where we differ"):
 * - TrapWrite from the trampoline [0x10000, 0x20000): its bytes are each
 *   implementation's own ("The trampoline holds no host address");
 * - TrapRead into a block TrapJail may have jailed ("A TrapRead into a
 *   jailed block"): after a Jail, reads avoid its pages;
 * - TrapJail/TrapUnjail of a block that runs past the heap ("... past the
 *   heap"), or whose size is not a whole number of 4 KiB pages ("The rest
 *   of a jailed block's last 4 KiB page");
 * - network channels, Job, -t 1/2 (not implemented, or no report to
 *   compare);
 * - TrapRead into the top page of the stack, where the driver's own return
 *   addresses are (the program would return elsewhere; when each
 *   implementation reads that address is not part of the ABI);
 * - an unknown trap function word ("An unknown trap function"): the
 *   original crashed on it in some sessions. Such a word also comes from a
 *   TrapRead of channel 0, the driver's own script, that takes part of a
 *   48-byte record: the records after it are cut, so a read of the script
 *   channel is kept only when it takes whole records.
 * The memory etag's value is compared as present, not as a value ("The
 * memory etag's value").
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import type { Engine } from '../../src/runtime/engine.js';
import { runSession } from '../../src/runtime/session.js';
import { ROOT } from '../cli.js';

export const DRIVER = join(ROOT, 'conformance', 'programs', 'driver.nexe');
const TRAP = { Read: 0x64616552n, Write: 0x74697257n, Jail: 0x6c69614an, Unjail: 0x6c6a6e55n, Exit: 0x74697845n, Fork: 0x6b726f46n } as const;
const HEAP = 0x40000;
const PAGE = 0x1000;
/** The size of one record of the driver's script (stdin, channel 0). */
const RECORD = 48;

/** Where a channel's data comes from. */
export type Source =
  | { readonly kind: 'file'; readonly content: readonly number[] }
  | { readonly kind: 'code'; readonly size: number }
  | { readonly kind: 'new' }
  | { readonly kind: 'missing-dir' }
  | { readonly kind: 'null' }
  | { readonly kind: 'zero' }
  | { readonly kind: 'directory' };

export interface ChannelGen {
  readonly alias: string;
  readonly source: Source;
  readonly type: number;
  readonly etag: boolean;
  /** gets, get_size, puts, put_size. */
  readonly limits: readonly [string, string, string, string];
}

/** One trap record: the function and up to four arguments (decimal strings, two's complement for negatives). */
export interface TrapGen {
  readonly fn: keyof typeof TRAP;
  readonly args: readonly string[];
}

export interface SessionGen {
  readonly memory: string;
  readonly memoryEtag: boolean;
  readonly noPreallocation: boolean;
  readonly stdoutEtag: boolean;
  readonly stdoutLimits: readonly [string, string];
  readonly extra: readonly ChannelGen[];
  readonly script: readonly TrapGen[];
}

/* ------------------------------------------------------------------------ */
/* Generation                                                                */
/* ------------------------------------------------------------------------ */

/** Aliases whose order differs between strcmp (bytes) and a locale or a natural sort. */
const ALIASES = [
  '/dev/a', '/dev/B', '/dev/b', '/dev/a10', '/dev/a9', '/dev/_x', '/dev/Zed', '/dev/zed', '/dev/x-1', '/dev/x.1', '/dev/X',
  '/dev/1', '/dev/10', '/dev/2', '/dev/é', '/dev/e', '/dev/f', '/dev/data', '/dev/Data', '/dev/stdin2', '/dev/std', '/dev/~',
  '/dev/a b', '/dev/ä', '/dev/z', '/dev/€',
];

const SMALL = fc.integer({ min: 1, max: 12 }).map(String);
const limit = fc.oneof(
  { weight: 2, arbitrary: fc.constant('0') },
  { weight: 4, arbitrary: SMALL },
  { weight: 3, arbitrary: fc.integer({ min: 13, max: 5000 }).map(String) },
  { weight: 1, arbitrary: fc.constantFrom('1000000', '4294967296', '9007199254740993') },
);
/** A put_size a regular file can be extended to (the preallocation is real). */
const fileLimit = fc.oneof(
  { weight: 2, arbitrary: fc.constant('0') },
  { weight: 4, arbitrary: SMALL },
  { weight: 3, arbitrary: fc.integer({ min: 13, max: 100000 }).map(String) },
);

const content = fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 300 }).map((bytes) => ({ kind: 'file' as const, content: bytes }));
const code = fc.constantFrom(4096, 8192, 65536).map((size) => ({ kind: 'code' as const, size }));
const fixed = (kind: 'new' | 'missing-dir' | 'null' | 'zero' | 'directory'): fc.Arbitrary<Source> => fc.constant({ kind });

/** Sources by the access the limits grant: mostly ones that open, now and then one that does not. */
const SOURCES: Readonly<Record<'read' | 'write' | 'both' | 'none', fc.Arbitrary<Source>>> = {
  read: fc.oneof({ weight: 50, arbitrary: content }, { weight: 10, arbitrary: code }, { weight: 20, arbitrary: fixed('zero') }, { weight: 10, arbitrary: fixed('null') },
    { weight: 3, arbitrary: fixed('new') }, { weight: 2, arbitrary: fixed('missing-dir') }, { weight: 2, arbitrary: fixed('directory') }),
  write: fc.oneof({ weight: 40, arbitrary: fixed('new') }, { weight: 20, arbitrary: content }, { weight: 20, arbitrary: fixed('null') }, { weight: 10, arbitrary: fixed('zero') },
    { weight: 3, arbitrary: fixed('missing-dir') }, { weight: 2, arbitrary: fixed('directory') }),
  both: fc.oneof({ weight: 40, arbitrary: content }, { weight: 30, arbitrary: fixed('new') }, { weight: 10, arbitrary: code },
    { weight: 3, arbitrary: fixed('null') }, { weight: 2, arbitrary: fixed('missing-dir') }, { weight: 2, arbitrary: fixed('directory') }),
  none: fc.oneof(content, fixed('new'), fixed('null')),
};

/** A regular file (to be), as opposed to a device or a directory. */
function isRegular(x: Source): boolean {
  return x.kind === 'file' || x.kind === 'new' || x.kind === 'code' || x.kind === 'missing-dir';
}

/** Read limits (gets, get_size) or write limits (puts, put_size) that grant the access, or ones that do not. */
const granted = (value: fc.Arbitrary<string>): fc.Arbitrary<[string, string]> => fc.tuple(value.filter((v) => v !== '0'), value.filter((v) => v !== '0'));
const denied = (value: fc.Arbitrary<string>): fc.Arbitrary<[string, string]> =>
  fc.oneof(fc.constant<[string, string]>(['0', '0']), fc.tuple(fc.constant('0'), value), fc.tuple(value, fc.constant('0')));

/**
 * One more channel: mostly one that opens (read-only, write-only, or
 * read+write with type 1 or 3 on a file), so that most sessions run; the
 * rest are refused in every way the original refused channels.
 */
const channel = (alias: string): fc.Arbitrary<ChannelGen> =>
  fc.oneof(
    { weight: 10, arbitrary: fc.constant('read' as const) },
    { weight: 7, arbitrary: fc.constant('write' as const) },
    { weight: 5, arbitrary: fc.constant('both' as const) },
    { weight: 1, arbitrary: fc.constant('none' as const) },
  ).chain((access) =>
    fc.record({ alias: fc.constant(alias), source: SOURCES[access], etag: fc.boolean() }).chain((c) => {
      const put = isRegular(c.source) ? fileLimit : limit;
      const invalid = { weight: 1, arbitrary: fc.constantFrom(4, -1) };
      const types = access === 'both'
        ? fc.oneof({ weight: 16, arbitrary: fc.constantFrom(1, 3) }, { weight: 2, arbitrary: fc.constantFrom(0, 2) }, invalid)
        : fc.oneof({ weight: 30, arbitrary: fc.integer({ min: 0, max: 3 }) }, invalid);
      const reads = access === 'read' || access === 'both' ? granted(limit) : denied(limit);
      const writes = access === 'write' || access === 'both' ? granted(put) : denied(put);
      return fc.tuple(types, reads, writes).map(([type, [gets, getSize], [puts, putSize]]) => ({ ...c, type, limits: [gets, getSize, puts, putSize] as const }));
    }),
  );

/** A heap address the driver's 32 MiB or larger session has (the heap ends at 0x1000000 or above). */
const heapAddress = fc.integer({ min: 0, max: (0x1000000 - HEAP) / 16 - 1 }).map((k) => HEAP + k * 16);
/** Buffers, readable or not, writable or not: everything but the trampoline and the top stack page. */
const bufferAddress = fc.oneof(
  { weight: 8, arbitrary: heapAddress },
  { weight: 1, arbitrary: fc.constantFrom(0, 0xfff, 0x20000, 0x2ffff, 0x30000, 0x3ffff, 0xfffff0, 0x1000000, 0x80000000, 0xfefeffff, 0xfeff0000, 0xfefffff0, 0xff000000, 0xfffe0000, 0x100000000) },
);
const size = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 600 }) },
  { weight: 1, arbitrary: fc.constantFrom(-1, 65536, 70000, 0x10000000) },
);
const offset = fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 0, max: 400 }) }, { weight: 1, arbitrary: fc.constantFrom(-1, 4294967296) });

/** Raw trap records; `sessionGen` then drops those that would meet a documented difference. */
const record = (channels: number): fc.Arbitrary<TrapGen> =>
  fc.oneof(
    { weight: 8, arbitrary: fc.tuple(fc.constantFrom('Read', 'Write') as fc.Arbitrary<'Read' | 'Write'>, fc.integer({ min: -1, max: channels }), bufferAddress, size, offset).map(([fn, ch, b, s, o]) => ({ fn, args: [String(ch), String(b), String(s), String(o)] })) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom('Jail', 'Unjail') as fc.Arbitrary<'Jail' | 'Unjail'>, fc.integer({ min: 0, max: 0xf0 }), fc.integer({ min: 0, max: 16 })).map(([fn, block, pages]) => ({ fn, args: [String(HEAP + block * 0x10000), String(pages * PAGE)] })) },
    { weight: 1, arbitrary: fc.constant<TrapGen>({ fn: 'Fork', args: [] }) },
  );

/** Keeps the records that meet no documented difference (see the header). */
export function withoutDeviations(script: readonly TrapGen[]): TrapGen[] {
  const jailed: [number, number][] = [];
  const kept: TrapGen[] = [];
  for (const r of script) {
    const [a0, a1, a2] = r.args.map((v) => Number(v));
    if (r.fn === 'Jail' || r.fn === 'Unjail') {
      const start = a0 as number;
      const length = a1 as number;
      if (length % PAGE !== 0 || start + length > 0x1000000) continue;
      if (r.fn === 'Jail' && length > 0) jailed.push([start, start + length]);
    }
    if (r.fn === 'Write' && (a1 as number) < 0x20000 && (a1 as number) + Math.max(a2 as number, 1) > 0x10000) continue;
    if (r.fn === 'Read') {
      if (a0 === 0 && (a2 as number) > 0 && (a2 as number) % RECORD !== 0) continue;
      const from = a1 as number;
      const to = from + Math.max(a2 as number, 1);
      if (to > 0xffff0000) continue;
      if (jailed.some(([s, e]) => from < e && to > s)) continue;
    }
    kept.push(r);
  }
  return kept;
}

export const sessionGen: fc.Arbitrary<SessionGen> = fc
  .record({
    memory: fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom('33554432', '33554433', '50000000', '134217728') },
      { weight: 1, arbitrary: fc.constantFrom('4294967296', '25165824', '16777216', '0', '4294967297') },
    ),
    memoryEtag: fc.boolean(),
    noPreallocation: fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    stdoutEtag: fc.boolean(),
    stdoutLimits: fc.tuple(fc.constantFrom('1000', '5', '2'), fc.constantFrom('100000', '20', '3')),
    aliases: fc.uniqueArray(fc.constantFrom(...ALIASES), { maxLength: 6 }),
  })
  .chain((s) =>
    fc.record({
      memory: fc.constant(s.memory),
      /* hashing 4 GiB takes seconds: the original's own timeout alarm could kill it mid-hash, with no report */
      memoryEtag: fc.constant(s.memoryEtag && Number(s.memory) <= 134217728),
      noPreallocation: fc.constant(s.noPreallocation),
      stdoutEtag: fc.constant(s.stdoutEtag),
      stdoutLimits: fc.constant(s.stdoutLimits),
      extra: fc.tuple(...s.aliases.map(channel)),
      script: fc
        .tuple(fc.array(record(s.aliases.length + 3), { maxLength: 14 }), fc.option(fc.integer({ min: -3, max: 300 })))
        .map(([records, exit]) => [...withoutDeviations(records), ...(exit === null ? [] : [{ fn: 'Exit' as const, args: [String(exit)] }])]),
    }),
  );

/* ------------------------------------------------------------------------ */
/* Materializing and running                                                 */
/* ------------------------------------------------------------------------ */

/** The 48-byte records of the driver's script. */
export function scriptBytes(script: readonly TrapGen[]): Uint8Array {
  const bytes = new Uint8Array(RECORD * script.length);
  const view = new DataView(bytes.buffer);
  script.forEach((r, i) => {
    const fn = TRAP[r.fn];
    view.setBigUint64(i * RECORD, fn, true);
    r.args.forEach((a, k) => view.setBigUint64(i * RECORD + 16 + k * 8, BigInt.asUintN(64, BigInt(a)), true));
  });
  return bytes;
}

function channelPath(dir: string, c: ChannelGen, index: number): string {
  switch (c.source.kind) {
    case 'null':
      return '/dev/null';
    case 'zero':
      return '/dev/zero';
    case 'missing-dir':
      return join(dir, 'none', `c${index}`);
    default:
      return join(dir, `c${index}`);
  }
}

/** The manifest text and its input files, laid out in `dir`. */
export function materialize(gen: SessionGen, dir: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'script'), scriptBytes(gen.script));
  const lines = [
    'Version = 20130611',
    `Program = ${DRIVER}`,
    'Timeout = 10',
    `Memory = ${gen.memory}, ${gen.memoryEtag ? 1 : 0}`,
    `Channel = ${join(dir, 'script')}, /dev/stdin, 0, 0, 1000, 1000000, 0, 0`,
    `Channel = ${join(dir, 'out')}, /dev/stdout, 0, ${gen.stdoutEtag ? 1 : 0}, 0, 0, ${gen.stdoutLimits[0]}, ${gen.stdoutLimits[1]}`,
    'Channel = /dev/null, /dev/stderr, 0, 0, 0, 0, 1000, 1000',
  ];
  gen.extra.forEach((c, i) => {
    const path = channelPath(dir, c, i);
    if (c.source.kind === 'file') writeFileSync(path, Uint8Array.from(c.source.content));
    if (c.source.kind === 'code') writeFileSync(path, new Uint8Array(c.source.size).fill(0xf4));
    if (c.source.kind === 'directory') mkdirSync(path);
    lines.push(`Channel = ${path}, ${c.alias}, ${c.type}, ${c.etag ? 1 : 0}, ${c.limits.join(', ')}`);
  });
  writeFileSync(join(dir, 'zerovm.manifest'), `${lines.join('\n')}\n`);
  return join(dir, 'zerovm.manifest');
}

/** What a session left: exit code, report, every regular file of its folder (the manifest aside). */
export interface Outcome {
  readonly exitCode: number;
  readonly report: string;
  readonly files: ReadonlyMap<string, Buffer>;
}

function collect(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const walk = (sub: string): void => {
    for (const name of readdirSync(join(dir, sub)).sort()) {
      const rel = sub === '' ? name : `${sub}/${name}`;
      const stat = statSync(join(dir, rel));
      if (stat.isDirectory()) walk(rel);
      else if (rel !== 'zerovm.manifest') files.set(rel, readFileSync(join(dir, rel)));
    }
  };
  walk('');
  return files;
}

/** Runs the session on the original ZeroVM 2015. */
export function runOriginal(binary: string, gen: SessionGen, dir: string): Outcome {
  const manifest = materialize(gen, dir);
  const r = spawnSync(binary, [...(gen.noPreallocation ? ['-P'] : []), manifest], { encoding: 'utf8', timeout: 60_000 });
  return { exitCode: r.status ?? -1, report: r.stdout, files: collect(dir) };
}

/** Runs the session in this process on one of our engines. */
export function runOurs(engine: Engine, gen: SessionGen, dir: string): Outcome {
  const manifest = materialize(gen, dir);
  const r = runSession({ manifestPath: manifest, engine, preallocate: !gen.noPreallocation });
  return { exitCode: r.exitCode, report: r.report, files: collect(dir) };
}

/* ------------------------------------------------------------------------ */
/* Comparing                                                                 */
/* ------------------------------------------------------------------------ */

const LOGGER_PREFIX = /^\S+ \d+: /;

/**
 * The report with what may differ legitimately masked: the CPU times, the
 * memory etag's value, the session's folder in paths, the original's
 * logger prefix, a host address of trusted code.
 */
export function normalizeReport(report: string, dir: string): string {
  const fields = report.split('\n');
  if (fields.length < 7) return report.replaceAll(dir, '{tmp}');
  const [validator, daemon, user, etags, accounting, state, ...rest] = fields;
  return [
    validator,
    daemon,
    user,
    (etags ?? '').replace(/(\/dev\/memory) [0-9a-f]{40}$/, '$1 <memory etag>'),
    (accounting ?? '').split(' ').slice(2).join(' '),
    (state ?? '').replace(LOGGER_PREFIX, '').replaceAll(dir, '{tmp}').replace(/(from trusted code: Halting at) 0x[0-9A-F]+/, '$1 <host address>'),
    ...rest,
  ].join('\n');
}

/** Differences between the original's outcome and ours, as readable lines (none: equal). */
export function differences(original: Outcome, originalDir: string, ours: Outcome, oursDir: string): string[] {
  const lines: string[] = [];
  if (original.exitCode !== ours.exitCode) lines.push(`exit code: original ${original.exitCode}, ours ${ours.exitCode}`);
  const a = normalizeReport(original.report, originalDir);
  const b = normalizeReport(ours.report, oursDir);
  if (a !== b) lines.push(`report:\n--- original\n${a}\n--- ours\n${b}`);
  const names = new Set([...original.files.keys(), ...ours.files.keys()]);
  for (const name of [...names].sort()) {
    const x = original.files.get(name);
    const y = ours.files.get(name);
    if (x === undefined || y === undefined) lines.push(`file ${name}: ${x === undefined ? 'only ours has it' : 'only the original has it'}`);
    else if (Buffer.compare(x, y) !== 0) lines.push(`file ${name}: original ${x.length} bytes ${x.subarray(0, 48).toString('hex')}, ours ${y.length} bytes ${y.subarray(0, 48).toString('hex')}`);
  }
  return lines;
}

/** Everything a person needs to reproduce a difference. */
export function describeSession(gen: SessionGen, dir: string, outcomes: Readonly<Record<string, Outcome>>): string {
  const manifest = readFileSync(join(dir, 'zerovm.manifest'), 'utf8');
  const script = gen.script.map((r) => `  ${r.fn}(${r.args.join(', ')})`).join('\n');
  const outputs = Object.entries(outcomes)
    .map(([name, o]) => `== ${name}: exit ${o.exitCode}\n${o.report}${[...o.files].map(([f, b]) => `  ${f}: ${b.length} bytes ${b.subarray(0, 64).toString('hex')}`).join('\n')}`)
    .join('\n');
  return `options: ${gen.noPreallocation ? '-P' : '(none)'}\nmanifest:\n${manifest}script:\n${script}\n${outputs}\nspec: ${JSON.stringify(gen)}`;
}
