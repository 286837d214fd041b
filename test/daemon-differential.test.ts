/**
 * Daemon mode, black box, ours against the original ZeroVM 2015 on the same
 * program (the conformance driver, conformance/programs/driver.S: a script
 * of trap records on stdin, each result printed on stdout) and the same
 * requests over the same socket protocol (spec/runtime.md "Daemon mode"):
 * `zerovm MANIFEST` with a `Job` whose program calls TrapFork must print
 * the same report and exit code, and each request must get the same reply
 * (a framed report, or nothing), leave the same output files and return
 * the same TrapFork result, on both engines. Scripted cases cover positions,
 * etags, faults, forks without and with a `Job`, and requests that fail;
 * a property test sends random request scripts to long-lived daemons.
 *
 * Compared as text but for: the accounting line's CPU times; the memory
 * etag's value (spec/runtime.md "The memory etag's value"); the
 * "<file> <line>: " prefix the original's logger put before some exit
 * states ("Where we differ"); and the frame's length, checked against each
 * report's own.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, ROOT } from './cli.js';
import { engineCases } from './engine-matrix.js';
import { CI, ORIGINAL_ZEROVM, originalZerovmUnavailable } from './original-zerovm.js';

const unavailable = originalZerovmUnavailable();
const skip = unavailable !== null && !CI;
if (skip) console.warn(`\n*** daemon mode against the original ZeroVM 2015 SKIPPED: ${unavailable} ***\n`);

const DRIVER = join(ROOT, 'conformance', 'programs', 'driver.nexe');
const FN = { Read: 0x64616552n, Write: 0x74697257n, Exit: 0x74697845n, Fork: 0x6b726f46n, Call: 0x6c6c6143n, Junk: 0x5151515151515151n } as const;
const HEAP = 0x40000;
const root = mkdtempSync(join(tmpdir(), 'zerovm-daemon-'));

/** Ends the processes whose command line names a path under `dir` (the daemons a case started), by pid. */
function killDaemons(dir: string): void {
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (cmdline.includes(dir) && Number(pid) !== process.pid) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        /* gone already */
      }
    }
  }
}
afterAll(() => {
  killDaemons(root);
  rmSync(root, { recursive: true, force: true });
});

function rec(fn: keyof typeof FN, ...args: (number | bigint)[]): Buffer {
  const b = Buffer.alloc(48);
  b.writeBigUInt64LE(FN[fn], 0);
  args.forEach((a, i) => b.writeBigUInt64LE(BigInt.asUintN(64, BigInt(a)), 16 + 8 * i));
  return b;
}
const junk = (records: number): Buffer => Buffer.alloc(48 * records, 0x51);

interface ManifestOptions {
  readonly stdin: string;
  readonly stdout: string;
  readonly job?: string;
  readonly stdoutEtag?: boolean;
  readonly memoryEtag?: boolean;
  readonly extra?: readonly string[];
  readonly stdinLimits?: string;
}

function manifest(o: ManifestOptions): string {
  return [
    'Version = 20130611',
    `Program = ${DRIVER}`,
    'Timeout = 10',
    `Memory = 33554432, ${o.memoryEtag === true ? 1 : 0}`,
    `Channel = ${o.stdin}, /dev/stdin, 0, 0, ${o.stdinLimits ?? '1000, 1000000'}, 0, 0`,
    `Channel = ${o.stdout}, /dev/stdout, 0, ${o.stdoutEtag === true ? 1 : 0}, 0, 0, 1000, 1000000`,
    'Channel = /dev/null, /dev/stderr, 0, 0, 0, 0, 1000, 1000000',
    ...(o.extra ?? []),
    ...(o.job === undefined ? [] : [`Job = ${o.job}`]),
    '',
  ].join('\n');
}

/** The original, and ours on each engine. */
const IMPLEMENTATIONS = [
  { name: 'reference', command: [ORIGINAL_ZEROVM], skip },
  ...engineCases('daemon mode').map((c) => ({ name: c.name, command: [process.execPath, BIN, '--engine', c.name], skip: skip || c.skip })),
];

/** Starts a daemon: `zerovm MANIFEST` with a Job, its stdin script given. */
function startDaemon(command: readonly string[], dir: string, script: Buffer, options: Omit<ManifestOptions, 'stdin' | 'stdout' | 'job'> = {}): { status: number | null; report: string; out: Buffer; job: string } {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'script'), script);
  const job = join(dir, 'job.sock');
  writeFileSync(join(dir, 'manifest'), manifest({ ...options, stdin: join(dir, 'script'), stdout: join(dir, 'out'), job }));
  const r = spawnSync(command[0]!, [...command.slice(1), join(dir, 'manifest')], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, report: r.stdout, out: readFileSync(join(dir, 'out')), job };
}

/** Sends one request (header, manifest) and collects the reply until the daemon closes the connection. */
async function request(job: string, text: string, header?: Buffer): Promise<Buffer> {
  /* the original's daemon binds its socket after its parent has exited: its file may be there before it listens */
  for (let i = 0; i < 100 && !existsSync(job); i++) await new Promise((r) => setTimeout(r, 20));
  for (let attempt = 0; ; attempt++) {
    try {
      return await requestOnce(job, text, header);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ECONNREFUSED' || attempt >= 50) throw error;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

function requestOnce(job: string, text: string, header?: Buffer): Promise<Buffer> {
  return new Promise((resolveReply, rejectReply) => {
    const socket = connect(job);
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => resolveReply(Buffer.concat(chunks)));
    socket.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' ? resolveReply(Buffer.concat(chunks)) : rejectReply(e)));
    const body = Buffer.from(text);
    socket.write(Buffer.concat([header ?? Buffer.from(String(body.length).padEnd(8)), body]));
  });
}

/** A reply as compared: CPU times, the memory etag's value and logger prefixes masked; the frame checked against the report. */
function normalize(reply: Buffer): string {
  const text = reply.toString('latin1');
  if (text === '') return '(no reply)';
  const framed = /^0x([0-9a-f]{6})([\s\S]*)$/.exec(text);
  if (framed === null) return `(not a framed report) ${text}`;
  if (parseInt(framed[1]!, 16) !== Buffer.byteLength(framed[2]!, 'latin1')) return `(frame length ${framed[1]} for ${Buffer.byteLength(framed[2]!)} bytes) ${framed[2]}`;
  return normalizeReport(framed[2]!);
}

function normalizeReport(report: string): string {
  return report
    .replace(/^\d+\.\d\d \d+\.\d\d /m, 'T T ')
    .replace(/\/dev\/memory [0-9a-f]{40}/, '/dev/memory <sha1>')
    .replace(/^\S+\.c \d+: /m, '');
}

/** A request: its stdin script, and how its manifest differs. */
interface Request {
  readonly stdin: Buffer;
  readonly manifest?: Omit<ManifestOptions, 'stdin' | 'stdout'>;
  readonly header?: Buffer;
  /** A missing stdin file. */
  readonly noStdin?: boolean;
}

interface Scenario {
  readonly title: string;
  readonly setup: Buffer;
  /** A sequential read-only channel /dev/x (channel 3): its bytes in the daemon's session, then in each request's. */
  readonly readX?: { readonly setup: Buffer; readonly requests: readonly Buffer[] };
  readonly options?: Omit<ManifestOptions, 'stdin' | 'stdout' | 'job'>;
  readonly requests: readonly Request[];
}

const X = (dir: string, etag = 0, limits = '0, 0, 100, 100'): string => `Channel = ${join(dir, 'x')}, /dev/x, 0, ${etag}, ${limits}`;

const SCENARIOS: readonly Scenario[] = [
  {
    title: 'writes before the fork; requests go on at the old positions, report their own etags after the daemon\'s, fork again without a Job (0)',
    setup: Buffer.concat([rec('Write', 1, 0x20000, 5, 0), rec('Fork')]),
    options: { stdoutEtag: true },
    requests: [
      { stdin: Buffer.concat([junk(2), rec('Exit', 5)]) },
      { stdin: Buffer.concat([junk(3), rec('Write', 1, 0x20000, 3, 0), rec('Exit', 1)]) },
      { stdin: Buffer.concat([junk(2), rec('Fork'), rec('Exit', 2)]), manifest: { stdoutEtag: true } },
      { stdin: Buffer.concat([junk(2), rec('Read', 0, HEAP, 11, 0), rec('Write', 1, HEAP, 11, 0)]) },
    ],
  },
  {
    title: 'the memory etag and faults of requests',
    setup: rec('Fork'),
    options: { memoryEtag: true },
    requests: [
      { stdin: Buffer.concat([junk(1), rec('Call', 0x10020)]) },
      { stdin: Buffer.concat([junk(1), rec('Call', 0)]) },
      { stdin: Buffer.concat([junk(1), rec('Exit', 1)]) },
      { stdin: Buffer.concat([junk(1), rec('Write', 1, HEAP, 8, 0), rec('Exit', 0)]), manifest: { memoryEtag: true, stdoutEtag: true } },
    ],
  },
  {
    title: 'a sequential channel read to its end before the fork stays at its end in every request',
    setup: Buffer.concat([rec('Read', 3, HEAP, 100, 0), rec('Fork')]),
    readX: { setup: Buffer.from('0123456789'), requests: [Buffer.from('abcdefghijklmnopqrstuvwxyz0123'), Buffer.alloc(0)] },
    requests: [
      { stdin: Buffer.concat([junk(2), rec('Read', 3, HEAP + 0x100, 100, 0), rec('Write', 1, HEAP + 0x100, 20, 0)]) },
      { stdin: Buffer.concat([junk(2), rec('Read', 3, HEAP + 0x100, 100, 0), rec('Write', 1, HEAP, 12, 0)]) },
    ],
  },
  {
    title: 'requests that fail before the program resumes get no reply',
    setup: rec('Fork'),
    requests: [
      { stdin: Buffer.concat([junk(1), rec('Exit', 3)]), manifest: { stdinLimits: '1000, 1000001' } },
      { stdin: Buffer.concat([junk(1), rec('Exit', 3)]), manifest: { extra: ['Channel = /dev/null, /dev/extra, 0, 0, 0, 0, 10, 10'] } },
      { stdin: Buffer.concat([junk(1), rec('Exit', 3)]), noStdin: true },
      { stdin: Buffer.concat([junk(1), rec('Exit', 3)]), header: Buffer.from('0x00000a') },
      { stdin: Buffer.concat([junk(1), rec('Exit', 3)]), header: Buffer.alloc(8, 0) },
      { stdin: Buffer.concat([junk(1), rec('Exit', 4)]), header: Buffer.from('     abc') },
      { stdin: Buffer.concat([junk(1), rec('Exit', 6)]) },
    ],
  },
];

for (const [n, scenario] of SCENARIOS.entries()) {
  describe.skipIf(skip)(`daemon mode: ${scenario.title}`, () => {
    it('ours on each engine gives the original\'s reports, replies and output files', async () => {
      expect(unavailable, 'CI installs libglib2.0-0 and libzmq5 for the original').toBeNull();
      const seen = new Map<string, unknown>();
      for (const impl of IMPLEMENTATIONS.filter((i) => !i.skip)) {
        const dir = join(root, `s${n}-${impl.name}`);
        mkdirSync(dir, { recursive: true });
        const readX = (file: string): string => `Channel = ${file}, /dev/x, 0, 0, 100, 1000, 0, 0`;
        if (scenario.readX !== undefined) writeFileSync(join(dir, 'x'), scenario.readX.setup);
        const extra = scenario.readX !== undefined ? [readX(join(dir, 'x'))] : scenario.requests.some((r) => r.manifest?.extra !== undefined) ? [X(dir)] : [];
        const started = startDaemon(impl.command, dir, scenario.setup, { ...scenario.options, ...(extra.length > 0 ? { extra } : {}) });
        const replies: string[] = [];
        const outputs: string[] = [];
        for (const [i, r] of scenario.requests.entries()) {
          const stdin = join(dir, `in${i}`);
          if (r.noStdin !== true) writeFileSync(stdin, r.stdin);
          const stdout = join(dir, `out${i}`);
          let own = extra;
          if (scenario.readX !== undefined) {
            writeFileSync(join(dir, `x${i}`), scenario.readX.requests[i] ?? Buffer.alloc(0));
            own = [readX(join(dir, `x${i}`))];
          }
          const text = manifest({ stdin, stdout, ...r.manifest, extra: [...own, ...(r.manifest?.extra ?? [])] });
          replies.push(normalize(await request(started.job, text, r.header)));
          outputs.push(existsSync(stdout) ? readFileSync(stdout).toString('latin1') : '(none)');
        }
        killDaemons(dir);
        const result = { status: started.status, report: normalizeReport(started.report), out: started.out.toString('latin1'), replies, outputs };
        if (impl.name === 'reference') seen.set('reference', result);
        else expect(result, `${impl.name} against the original`).toEqual(seen.get('reference'));
      }
    }, 120_000);
  });
}

/** Random request scripts, sent to one daemon of each implementation. */
const requestScript = fc.array(
  fc.oneof(
    fc.integer({ min: 0, max: 40 }).map((k) => rec('Write', 1, 0x20000, k, 0)),
    fc.integer({ min: 0, max: 16 }).map((k) => Buffer.concat([rec('Read', 0, HEAP + 0x100, k, 0), rec('Write', 1, HEAP + 0x100, k, 0)])),
    fc.constant(rec('Fork')),
    fc.constant(rec('Junk')),
    fc.integer({ min: -3, max: 300 }).map((c) => rec('Exit', c)),
  ),
  { maxLength: 6 },
);

describe.skipIf(skip)('daemon mode: random requests to long-lived daemons', () => {
  it('every reply and output file is the original\'s (fast-check)', async () => {
    const live = IMPLEMENTATIONS.filter((i) => !i.skip).map((impl) => {
      const dir = join(root, `prop-${impl.name}`);
      return { impl, dir, daemon: startDaemon(impl.command, dir, Buffer.concat([rec('Write', 1, 0x20000, 3, 0), rec('Fork')]), { stdoutEtag: true }) };
    });
    let counter = 0;
    await fc.assert(
      fc.asyncProperty(requestScript, fc.boolean(), async (records, etag) => {
        const id = counter++;
        const results: unknown[] = [];
        for (const { dir, daemon } of live) {
          const stdin = join(dir, `p${id}.in`);
          const stdout = join(dir, `p${id}.out`);
          writeFileSync(stdin, Buffer.concat([junk(2), ...records]));
          const reply = normalize(await request(daemon.job, manifest({ stdin, stdout, stdoutEtag: etag })));
          results.push({ reply, out: existsSync(stdout) ? readFileSync(stdout).toString('latin1') : '(none)' });
        }
        for (const r of results.slice(1)) expect(r).toEqual(results[0]);
      }),
      { numRuns: 15 },
    );
    for (const { dir } of live) killDaemons(dir);
  }, 300_000);
});

/*
 * A request whose own manifest has a Job and whose program calls TrapFork
 * again: the original's request process became a daemon too, but its new
 * daemon kept the client's connection open (the client waited forever) and
 * did not take requests on its socket (spec/runtime.md "Daemon mode",
 * "Where we differ"). Ours answers with the request's report (daemon
 * state 1) once the new daemon listens, and the new daemon serves requests
 * from where that request stood.
 */
for (const impl of IMPLEMENTATIONS.filter((i) => i.name !== 'reference')) {
  describe.skipIf(impl.skip)(`daemon mode, ${impl.name} engine: a request with its own Job forks again`, () => {
    it('its report says daemon state 1, and the new daemon serves its socket from that request\'s fork', async () => {
      const dir = join(root, `nested-${impl.name}`);
      const started = startDaemon(impl.command, dir, rec('Fork'));
      expect(started.status).toBe(0);
      writeFileSync(join(dir, 'r1'), Buffer.concat([junk(1), rec('Write', 1, 0x20000, 2, 0), rec('Fork'), rec('Exit', 6)]));
      const job2 = join(dir, 'second.sock');
      const first = normalize(await request(started.job, manifest({ stdin: join(dir, 'r1'), stdout: join(dir, 'r1.out'), job: job2 })));
      expect(first).toBe('0\n1\n0\ndisable\nT T 2 96 3 6 0 0 0 0\nok\n\n');
      writeFileSync(join(dir, 'r2'), Buffer.concat([junk(3), rec('Exit', 8)]));
      const second = normalize(await request(job2, manifest({ stdin: join(dir, 'r2'), stdout: join(dir, 'r2.out') })));
      expect(second).toBe('0\n0\n8\ndisable\nT T 1 48 1 2 0 0 0 0\nok\n\n');
      expect(readFileSync(join(dir, 'r2.out')).toString('latin1')).toBe(`${'\0'.repeat(6)}0\n`);
      killDaemons(dir);
    }, 120_000);
  });
}

/*
 * Several clients at once. The original forked a process per request, so
 * its requests overlapped; ours hands each to one of the daemon's worker
 * processes (src/cli/daemon-workers.ts). A slow request (its stdin a FIFO
 * nobody writes yet: it waits in the channel's open) must not hold up the
 * others, and every reply must be the one the same request gets alone,
 * whichever worker served it: ours compared with the memory etag's value
 * too (each worker runs its session at ZeroVM's base).
 */
describe.skipIf(skip)('daemon mode: several clients at once', () => {
  it('a slow request does not hold up fast ones, and every reply is the one the request gets alone', async () => {
    const results = new Map<string, unknown>();
    for (const impl of IMPLEMENTATIONS.filter((i) => !i.skip)) {
      const dir = join(root, `concurrent-${impl.name}`);
      const started = startDaemon(impl.command, dir, Buffer.concat([rec('Write', 1, 0x20000, 3, 0), rec('Fork')]), { stdoutEtag: true, memoryEtag: true });
      expect(started.status, `${impl.name}: the daemon starts`).toBe(0);
      const fifo = join(dir, 'slow.in');
      expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
      const scripts = Array.from({ length: 5 }, (_, k) => Buffer.concat([junk(k % 3), rec('Write', 1, 0x20000, k + 1, 0), rec('Read', 0, HEAP + 0x100, 16, 0), rec('Exit', k)]));
      const fastManifest = (k: number, tag: string): string => {
        writeFileSync(join(dir, `${tag}${k}.in`), scripts[k]!);
        return manifest({ stdin: join(dir, `${tag}${k}.in`), stdout: join(dir, `${tag}${k}.out`), stdoutEtag: true });
      };
      let slowDone = false;
      const slow = request(started.job, manifest({ stdin: fifo, stdout: join(dir, 'slow.out'), stdoutEtag: true })).then((reply) => {
        slowDone = true;
        return reply;
      });
      /* the slow request reaches the daemon first */
      await new Promise((r) => setTimeout(r, 300));
      const held = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${impl.name}: the fast requests waited for the slow one`)), 30_000).unref());
      const fast = await Promise.race([Promise.all(scripts.map((_, k) => request(started.job, fastManifest(k, 'c')))), held]);
      expect(slowDone, `${impl.name}: the fast requests were answered while the slow one waited`).toBe(false);
      await writeFile(fifo, Buffer.concat([junk(1), rec('Exit', 9)]));
      const slowReply = await slow;
      /* the same requests alone, one after another */
      const alone: Buffer[] = [];
      for (const k of scripts.keys()) alone.push(await request(started.job, fastManifest(k, 'a')));
      killDaemons(dir);
      const cpuMasked = (reply: Buffer): string => reply.toString('latin1').replace(/^(0x[0-9a-f]{6}[\s\S]*?\n[\s\S]*?\n[\s\S]*?\n[\s\S]*?\n)\d+\.\d\d \d+\.\d\d /, '$1T T ').replace(/^0x[0-9a-f]{6}/, '');
      if (impl.name !== 'reference') expect(fast.map(cpuMasked), `${impl.name}: the same replies, memory etag included`).toEqual(alone.map(cpuMasked));
      const outputs = scripts.map((_, k) => [readFileSync(join(dir, `c${k}.out`)).toString('latin1'), readFileSync(join(dir, `a${k}.out`)).toString('latin1')]);
      for (const [concurrent, single] of outputs) expect(concurrent).toBe(single);
      /* the slow request is answered in the end; what it read from the FIFO is not compared: the original's read of it ended at once with 0 bytes, ours waits for the data */
      expect(normalize(slowReply), `${impl.name}: the slow request's report`).toMatch(/^0\n0\n(0|9)\n/);
      results.set(impl.name, { fast: fast.map(normalize), alone: alone.map(normalize), outputs });
    }
    const reference = results.get('reference');
    for (const [name, result] of results) {
      if (name !== 'reference') expect(result, `${name} against the original`).toEqual(reference);
    }
  }, 180_000);
});
