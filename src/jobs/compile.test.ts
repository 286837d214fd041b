/**
 * The job description rules (spec/serving.md, "Job descriptions"), each
 * checked on the JobPlan it compiles to, with a real object store.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ObjectStore } from '../serve/store.js';
import { writeTar } from '../zapp/tar.js';
import { compileJob, JobResolveError, parseSwiftPath, type CompileContext, type CompiledJob } from './compile.js';
import { JobDescriptionError, parseJobDescription } from './description.js';
import { TarImage } from './images.js';
import type { NodeChannel } from './executor.js';

let root = '';
let store: ObjectStore;
let dir = '';
const NEXE = Buffer.from('not run here: the compiler only links it');

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'zerovm-compile-'));
  store = ObjectStore.open(root);
  dir = store.makeTempDir('job');
  store.putContainer('acct', 'bin');
  store.putBytes('acct', 'bin', 'prog.nexe', NEXE);
  store.putContainer('acct', 'data');
  for (const n of ['log_1.txt', 'log_22.txt', 'other.txt', 'log_3.dat']) store.putBytes('acct', 'data', n, Buffer.from(`contents of ${n}`));
  store.putContainer('acct', 'out');
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function compile(job: unknown, extra: Partial<CompileContext> = {}): CompiledJob {
  const sysimages = extra.sysimages ?? new Map();
  const description = parseJobDescription(JSON.stringify(job), [...sysimages.keys()], { maxNodes: extra.maxNodes ?? 100 });
  /* a job's directory is its own: each compile gets a fresh one */
  return compileJob(description, { account: 'acct', storage: store, dir: store.makeTempDir('job'), sysimages, maxNodes: 100, ...extra });
}

const prog = { path: 'swift://~/bin/prog.nexe' };

function channel(job: CompiledJob, node: string, alias: string): NodeChannel | undefined {
  return job.plan.nodes.find((n) => n.name === node)?.channels?.find((c) => c.alias === alias);
}

describe('job descriptions: parsing', () => {
  const bad: [string, unknown, RegExp][] = [
    ['not JSON', '{', /not JSON/],
    ['an empty array', [], /non-empty array/],
    ['no name', [{ exec: prog }], /node 1: has no "name"/],
    ['a bad name', [{ name: 'a-b', exec: prog }], /'a-b' must be 1 to 64 letters/],
    ['no exec', [{ name: 'a' }], /node 'a'.exec: is required/],
    ['an unknown device', [{ name: 'a', exec: prog, devices: [{ name: 'printer' }] }], /'printer' is not a device/],
    ['the debug device', [{ name: 'a', exec: prog, devices: [{ name: 'debug', path: 'tcp://h:1' }] }], /network devices are not supported/],
    ['a device twice', [{ name: 'a', exec: prog, devices: [{ name: 'stdout' }, { name: 'stdout' }] }], /listed twice/],
    ['an image without path', [{ name: 'a', exec: prog, devices: [{ name: 'image' }] }], /needs a path/],
    ['a bad mode', [{ name: 'a', exec: prog, devices: [{ name: 'stdout', mode: 'socket' }] }], /not one of file, char, pipe, block/],
    ['a negative min_size', [{ name: 'a', exec: prog, devices: [{ name: 'stdout', min_size: -1 }] }], /min_size/],
    ['a bad content type', [{ name: 'a', exec: prog, devices: [{ name: 'stdout', content_type: 'text' }] }], /not a MIME type/],
    ['a bad env name', [{ name: 'a', exec: { ...prog, env: { 'A B': 'x' } } }], /not a valid name/],
    ['bad args', [{ name: 'a', exec: { ...prog, args: 5 } }], /command line string/],
    ['a zero count', [{ name: 'a', exec: prog, count: 0 }], /count: must be a whole number/],
    ['replication', [{ name: 'a', exec: prog, replicate: 2 }], /replication is not supported/],
    ['spread on one host', [{ name: 'a', exec: prog, spread: 2 }], /splitting a connected group over workers needs a cluster/],
    ['a spread of 0', [{ name: 'a', exec: prog, spread: 0 }], /spread: must be a whole number, at least 1/],
    ['a spread that is not a number', [{ name: 'a', exec: prog, spread: '2' }], /spread: must be a whole number/],
    ['a node twice', [{ name: 'a', exec: prog }, { name: 'a', exec: prog }], /described twice/],
    ['attach to a device the node lacks', [{ name: 'a', exec: prog, attach: 'input' }], /'input' is not one of the node's devices/],
  ];
  for (const [what, job, message] of bad) {
    it(`refuses ${what}`, () => {
      expect(() => parseJobDescription(typeof job === 'string' ? job : JSON.stringify(job), [], { maxNodes: 10 })).toThrow(JobDescriptionError);
      expect(() => parseJobDescription(typeof job === 'string' ? job : JSON.stringify(job), [], { maxNodes: 10 })).toThrow(message);
    });
  }

  it('refuses more groups than the node limit', () => {
    const job = Array.from({ length: 11 }, (_, i) => ({ name: `n${i}`, exec: prog }));
    expect(() => parseJobDescription(JSON.stringify(job), [], { maxNodes: 10 })).toThrow(/at most 10 per job/);
  });

  it('passes replicate, attach and location to the plan when the executor replicates (a cluster)', () => {
    const job = [{ name: 'a', exec: prog, replicate: 3, attach: 'input', location: 'near', devices: [{ name: 'input', path: 'swift://~/data/other.txt' }, { name: 'stdout' }] }];
    expect(() => parseJobDescription(JSON.stringify(job), [], { maxNodes: 10, maxReplicate: 2 })).toThrow(/at most 2 copies/);
    expect(() => parseJobDescription(JSON.stringify([{ ...job[0], replicate: 4 }]), [], { maxNodes: 10, maxReplicate: 3 })).toThrow(/must be 1, 2 or 3/);
    const description = parseJobDescription(JSON.stringify(job), [], { maxNodes: 10, maxReplicate: 3 });
    const plan = compileJob(description, { account: 'acct', storage: store, dir: store.makeTempDir('job'), sysimages: new Map(), maxNodes: 100 }).plan;
    expect(plan.nodes[0]).toMatchObject({ replicate: 3, attach: '/dev/input', location: 'near' });
    /* 'default' is ZeroCloud's own choice: the first readable object */
    const plain = parseJobDescription(JSON.stringify([{ name: 'a', exec: prog, attach: 'default' }]), [], { maxNodes: 10 });
    expect(plain[0]!.attach).toBeUndefined();
  });

  it('passes spread (our extension) to the plan when the executor splits groups (a cluster), up to its limit', () => {
    const job = [{ name: 'a', exec: prog, spread: 3 }];
    expect(() => parseJobDescription(JSON.stringify(job), [], { maxNodes: 10, maxSpread: 2 })).toThrow(/at most 2 parts/);
    expect(() => parseJobDescription(JSON.stringify([{ ...job[0], spread: 2.5 }]), [], { maxNodes: 10, maxSpread: 8 })).toThrow(/spread: must be a whole number/);
    const description = parseJobDescription(JSON.stringify(job), [], { maxNodes: 10, maxSpread: 8 });
    const plan = compileJob(description, { account: 'acct', storage: store, dir: store.makeTempDir('job'), sysimages: new Map(), maxNodes: 100 }).plan;
    expect(plan.nodes[0]).toMatchObject({ spread: 3 });
    expect(parseJobDescription(JSON.stringify([{ name: 'a', exec: prog, spread: 1 }]), [], { maxNodes: 10 })[0]!.spread).toBeUndefined();
  });

  it("reads ZeroCloud's deprecated spellings and a single node object", () => {
    const [node] = parseJobDescription(JSON.stringify({ name: 'a', exec: { ...prog, args: 'x  y' }, file_list: [{ device: 'stdout' }] }), [], { maxNodes: 10 });
    expect(node!.devices.map((d) => d.name)).toEqual(['stdout']);
    expect(node!.exec.args).toEqual(['x', 'y']);
  });
});

describe('job descriptions: paths', () => {
  it('resolves swift://~ to the requester and decodes %-escapes', () => {
    expect(parseSwiftPath('swift://~/c/a%20b/c', 'me', 'x')).toEqual({ account: 'me', container: 'c', object: 'a b/c' });
    expect(parseSwiftPath('swift://other/c/o', 'me', 'x')).toEqual({ account: 'other', container: 'c', object: 'o' });
    for (const bad of ['/c/o', 'swift://~/c', 'swift://~/c/', 'swift:///c/o', 'swift://~/c/%zz']) expect(() => parseSwiftPath(bad, 'me', 'x')).toThrow(JobDescriptionError);
  });

  it('links readable objects into the job and maps each device to its channel type', () => {
    const job = compile([
      {
        name: 'n',
        exec: { ...prog, args: 'a b', env: { K: 'v' }, name: 'argv0' },
        devices: [
          { name: 'stdin', path: 'swift://~/data/other.txt' },
          { name: 'input', path: 'swift://acct/data/log_1.txt' },
          { name: 'stdout', path: 'swift://~/out/result', content_type: 'text/x-result', meta: { k: 'v' } },
          { name: 'output', path: 'swift://~/out/random' },
          { name: 'stderr' },
        ],
      },
    ]);
    const node = job.plan.nodes[0]!;
    expect(node).toMatchObject({ name: 'n', argv0: 'argv0', args: ['a', 'b'], env: { K: 'v' }, stderr: 'buffer' });
    expect(readFileSync((node.stdin as { file: string }).file, 'utf8')).toBe('contents of other.txt');
    expect(readFileSync((channel(job, 'n', '/dev/input') as { input: { file: string } }).input.file, 'utf8')).toBe('contents of log_1.txt');
    expect(readFileSync(node.program)).toEqual(NEXE);
    expect(channel(job, 'n', '/dev/output')).toMatchObject({ access: 'read-write' });
    expect(job.outputs.map((o) => [o.alias, o.target.object, o.contentType])).toEqual([
      ['/dev/stdout', 'result', 'text/x-result'],
      ['/dev/output', 'random', undefined],
    ]);
    expect(job.response).toEqual([{ node: 'n', alias: '/dev/stderr', contentType: undefined, meta: {}, minSize: 0, parse: undefined }]);
    expect([...job.shownAs.values()]).toContain('swift://acct/data/other.txt');
  });

  it('limits every writable device to maxOutput bytes', () => {
    const job = compile([{ name: 'n', exec: prog, devices: [{ name: 'stdout' }, { name: 'output', path: 'swift://~/out/o' }] }], { maxOutput: 1000 });
    expect(job.plan.nodes[0]!.channelLimits).toEqual({ '/dev/stdout': { putSize: 1000 } });
    expect(channel(job, 'n', '/dev/output')).toMatchObject({ limits: { putSize: 1000 } });
  });

  it('discards standard outputs a node does not list', () => {
    const node = compile([{ name: 'n', exec: prog }]).plan.nodes[0]!;
    expect(node.stdout).toBe('discard');
    expect(node.stderr).toBe('discard');
    expect(node.stdin).toBeUndefined();
  });

  it('answers 404 for missing objects and containers, 400 for two writers of one object', () => {
    expect(() => compile([{ name: 'n', exec: { path: 'swift://~/bin/nope' } }])).toThrow(JobResolveError);
    expect(() => compile([{ name: 'n', exec: prog, devices: [{ name: 'stdin', path: 'swift://~/data/nope' }] }])).toThrow(/does not exist/);
    expect(() => compile([{ name: 'n', exec: prog, devices: [{ name: 'stdout', path: 'swift://~/nocontainer/x' }] }])).toThrow(/create it first/);
    expect(() =>
      compile([
        { name: 'a', exec: prog, devices: [{ name: 'stdout', path: 'swift://~/out/same' }] },
        { name: 'b', exec: prog, devices: [{ name: 'stdout', path: 'swift://~/out/same' }] },
      ]),
    ).toThrow(/also written by node 'a'/);
  });

  it('reads the request body on the one readable device without a path, and refuses a second', () => {
    const body = join(dir, 'body');
    const job = compile([{ name: 'n', exec: prog, devices: [{ name: 'stdin' }] }], { body });
    expect(job.plan.nodes[0]!.stdin).toEqual({ file: body });
    expect(() => compile([{ name: 'n', exec: prog, devices: [{ name: 'stdin' }] }])).toThrow(/X-Zerovm-Source/);
    expect(() => compile([{ name: 'n', exec: prog, devices: [{ name: 'stdin' }, { name: 'input' }] }], { body })).toThrow(/already reads the request body/);
  });

  it('marks message/http and message/cgi outputs for parsing and gives those nodes the CGI variables', () => {
    const job = compile([{ name: 'n', exec: { ...prog, env: { QUERY_STRING: 'own' } }, devices: [{ name: 'stdout', content_type: 'message/cgi' }] }], { cgi: { REQUEST_METHOD: 'POST', QUERY_STRING: 'q=1' } });
    expect(job.response[0]!.parse).toBe('cgi');
    expect(job.plan.nodes[0]!.env).toMatchObject({ REQUEST_METHOD: 'POST', SCRIPT_NAME: 'n', QUERY_STRING: 'own' });
    const plain = compile([{ name: 'n', exec: prog, devices: [{ name: 'stdout' }] }], { cgi: { REQUEST_METHOD: 'POST' } });
    expect(plain.plan.nodes[0]!.env).toEqual({});
  });
});

describe('job descriptions: wildcards, counts and names', () => {
  it('makes one node per matching object and puts the matched text into output paths', () => {
    const job = compile([{ name: 'map', exec: prog, devices: [{ name: 'stdin', path: 'swift://~/data/log_*.txt' }, { name: 'stdout', path: 'swift://~/out/result_*.txt' }] }]);
    expect(job.plan.nodes.map((n) => n.name)).toEqual(['map-1', 'map-2']);
    expect(job.plan.nodes.map((n) => readFileSync((n.stdin as { file: string }).file, 'utf8'))).toEqual(['contents of log_1.txt', 'contents of log_22.txt']);
    expect(job.outputs.map((o) => o.target.object)).toEqual(['result_1.txt', 'result_22.txt']);
  });

  it('substitutes several wildcards in order', () => {
    const job = compile([{ name: 'm', exec: prog, devices: [{ name: 'input', path: 'swift://~/data/*_*.txt' }, { name: 'output', path: 'swift://~/out/*-*' }] }]);
    expect(job.outputs.map((o) => o.target.object)).toEqual(['log-1', 'log-22']);
  });

  it('names nodes name-1..N for a count, and numbers their writable wildcards', () => {
    const job = compile([{ name: 'w', exec: prog, count: 3, devices: [{ name: 'stdout', path: 'swift://~/out/part-*' }] }]);
    expect(job.plan.nodes.map((n) => n.name)).toEqual(['w-1', 'w-2', 'w-3']);
    expect(job.outputs.map((o) => o.target.object)).toEqual(['part-1', 'part-2', 'part-3']);
    expect(compile([{ name: 'w', exec: prog, count: 1 }]).plan.nodes.map((n) => n.name)).toEqual(['w']);
  });

  it('refuses wildcards that cannot be expanded', () => {
    expect(() => compile([{ name: 'm', exec: prog, devices: [{ name: 'stdin', path: 'swift://~/data/none_*' }] }])).toThrow(/no object matches/);
    expect(() => compile([{ name: 'm', exec: prog, devices: [{ name: 'stdin', path: 'swift://~/d*/x' }] }])).toThrow(/object names only/);
    expect(() => compile([{ name: 'm', exec: prog, devices: [{ name: 'stdin', path: 'swift://~/data/log_*.txt' }, { name: 'stdout', path: 'swift://~/out/fixed' }] }])).toThrow(/needs one too/);
    expect(() => compile([{ name: 'm', exec: prog, devices: [{ name: 'stdin', path: 'swift://~/data/log_*.txt' }, { name: 'input', path: 'swift://~/data/*' }] }])).toThrow(/only one readable device/);
    expect(() => compile([{ name: 'm', exec: prog, devices: [{ name: 'stdout', path: 'swift://~/out/x*' }] }])).toThrow(/count above 1/);
    expect(() => compile([{ name: 'm', exec: prog, devices: [{ name: 'stdin', path: 'swift://~/data/log_*.txt' }, { name: 'stdout', path: 'swift://~/out/*/*' }] }])).toThrow(/has 2 '\*'/);
  });

  it('refuses a job that expands past the node limit', () => {
    expect(() => compile([{ name: 'w', exec: prog, count: 51 }, { name: 'v', exec: prog, count: 50 }])).toThrow(/expands to 101 nodes/);
    /* one count past the limit is refused before any node is made (a count of a billion costs nothing) */
    expect(() => compile([{ name: 'w', exec: prog, count: 1e12 }])).toThrow(/count 1000000000000: this server runs at most 100 per job \(--max-nodes\)/);
  });
});

describe('job descriptions: connect', () => {
  it('gives sources /dev/out/<dest> and destinations /dev/in/<source>, one pipe each', () => {
    const job = compile([
      { name: 'map', exec: prog, devices: [{ name: 'stdin', path: 'swift://~/data/log_*.txt' }], connect: ['reduce'] },
      { name: 'reduce', exec: prog, devices: [{ name: 'stdout' }] },
    ]);
    expect(job.plan.pipes).toEqual([
      { id: 'map-1>reduce', from: 'map-1', to: 'reduce' },
      { id: 'map-2>reduce', from: 'map-2', to: 'reduce' },
    ]);
    expect(channel(job, 'map-1', '/dev/out/reduce')).toEqual({ alias: '/dev/out/reduce', output: { pipe: 'map-1>reduce' } });
    expect(channel(job, 'reduce', '/dev/in/map-2')).toEqual({ alias: '/dev/in/map-2', input: { pipe: 'map-2>reduce' } });
  });

  it('connects a group to its own other nodes and to a single node by name', () => {
    const job = compile([{ name: 'p', exec: prog, count: 3, connect: ['p'] }]);
    expect(job.plan.pipes!.map((p) => p.id)).toEqual(['p-1>p-2', 'p-1>p-3', 'p-2>p-1', 'p-2>p-3', 'p-3>p-1', 'p-3>p-2']);
    const one = compile([
      { name: 's', exec: prog, connect: ['q-2'] },
      { name: 'q', exec: prog, count: 2 },
    ]);
    expect(one.plan.pipes).toEqual([{ id: 's>q-2', from: 's', to: 'q-2' }]);
  });

  it('refuses unknown destinations and a single node connected to itself', () => {
    expect(() => compile([{ name: 'a', exec: prog, connect: ['b'] }])).toThrow(/'b' is not a node of this job/);
    expect(() => compile([{ name: 'a', exec: prog, connect: ['a'] }])).toThrow(/cannot connect to itself/);
  });
});

describe('job descriptions: programs and images', () => {
  function tarWith(files: Record<string, string>): string {
    const path = join(dir, `image-${Object.keys(files).join('-').replace(/\W/g, '')}.tar`);
    writeFileSync(path, writeTar(Object.entries(files).map(([p, d]) => ({ path: p, type: 'file' as const, data: Buffer.from(d) }))));
    return path;
  }

  it('takes file://IMAGE:PATH from a system image, which becomes the mounted image; a system image device is a channel', () => {
    const lua = new TarImage('system image lua', tarWith({ 'bin/lua.nexe': 'LUA' }), join(dir, 'x'));
    const job = compile([{ name: 's', exec: { path: 'file://lua:bin/lua.nexe' }, devices: [{ name: 'lua' }] }], { sysimages: new Map([['lua', lua]]) });
    const node = job.plan.nodes[0]!;
    expect(readFileSync(node.program, 'utf8')).toBe('LUA');
    expect(node.image).toBe(lua.path);
    expect(channel(job, 's', '/dev/lua')).toEqual({ alias: '/dev/lua', input: { file: lua.path } });
    expect(() => compile([{ name: 's', exec: { path: 'file://py:bin/python' } }], { sysimages: new Map([['lua', lua]]) })).toThrow(/not a system image/);
    expect(() => compile([{ name: 's', exec: { path: 'file://lua:bin/none' } }], { sysimages: new Map([['lua', lua]]) })).toThrow(/has no file 'bin\/none'/);
  });

  it("finds a relative program in the node's image device first, then the system images", () => {
    store.putBytes('acct', 'data', 'app.tar', readFileSync(tarWith({ 'run.nexe': 'FROM-IMAGE' })));
    const sys = new TarImage('system image sys', tarWith({ 'run.nexe': 'FROM-SYS', 'only.nexe': 'ONLY' }), join(dir, 'y'));
    const withImage = compile([{ name: 'n', exec: { path: 'run.nexe' }, devices: [{ name: 'image', path: 'swift://~/data/app.tar' }] }], { sysimages: new Map([['sys', sys]]) });
    expect(readFileSync(withImage.plan.nodes[0]!.program, 'utf8')).toBe('FROM-IMAGE');
    const fallback = compile([{ name: 'n', exec: { path: 'file://only.nexe' }, devices: [{ name: 'image', path: 'swift://~/data/app.tar' }] }], { sysimages: new Map([['sys', sys]]) });
    expect(readFileSync(fallback.plan.nodes[0]!.program, 'utf8')).toBe('ONLY');
    expect(() => compile([{ name: 'n', exec: { path: 'missing.nexe' } }])).toThrow(/no image of this node has 'missing.nexe'/);
  });

  it("uses the request's image for every node that names none", () => {
    const image = new TarImage("the request's image", tarWith({ 'p.nexe': 'P' }), join(dir, 'z'));
    const job = compile([{ name: 'n', exec: { path: 'p.nexe' } }], { image });
    expect(job.plan.nodes[0]!.image).toBe(image.path);
    expect(readFileSync(job.plan.nodes[0]!.program, 'utf8')).toBe('P');
  });
});


describe('job descriptions: device modes (Servlets.md rule 16)', () => {
  it("gives each device's mode to its channel's stat() type; 'block' keeps the default", () => {
    const job = compile([{ name: 'a', exec: prog, devices: [{ name: 'stdin', path: 'swift://~/data/other.txt', mode: 'char' }, { name: 'stdout', mode: 'file' }, { name: 'input', path: 'swift://~/data/log_1.txt', mode: 'pipe' }, { name: 'output', path: 'swift://~/out/o', mode: 'block' }] }]);
    expect(job.plan.nodes[0]!.channelModes).toEqual({ '/dev/stdin': 'char', '/dev/stdout': 'file', '/dev/input': 'pipe' });
    expect(compile([{ name: 'a', exec: prog, devices: [{ name: 'stdout' }] }]).plan.nodes[0]!.channelModes).toBeUndefined();
  });

  it('refuses a mode on the image, which is mounted and never stat()ed as a channel', () => {
    expect(() => compile([{ name: 'a', exec: prog, devices: [{ name: 'image', path: 'swift://~/data/other.txt', mode: 'file' }] }])).toThrow(/devices \(image\)\.mode: the image is mounted/);
  });
});

describe('job descriptions: LOCAL_* variables (CGIEnvironment.md)', () => {
  const env = (job: CompiledJob, node = 'a'): Readonly<Record<string, string>> => job.plan.nodes.find((n) => n.name === node)!.env ?? {};
  const local = (e: Readonly<Record<string, string>>): Record<string, string> => Object.fromEntries(Object.entries(e).filter(([k]) => k.startsWith('LOCAL_')));

  it('describe the object a node reads, and win over exec.env', () => {
    store.putBytes('acct', 'data', 'doc', Buffer.from('twelve bytes'), { contentType: 'text/x-doc', meta: { Color: 'blue', 'a.b': 'dotted' } });
    const info = store.stat('acct', 'data', 'doc')!;
    const e = env(compile([{ name: 'a', exec: { ...prog, env: { LOCAL_OBJECT: 'off', MINE: '1' } }, devices: [{ name: 'stdin', path: 'swift://~/data/doc' }, { name: 'stdout' }] }]));
    expect(local(e)).toEqual({
      LOCAL_CONTENT_LENGTH: '12',
      LOCAL_CONTENT_TYPE: 'text/x-doc',
      LOCAL_HTTP_ETAG: info.etag,
      LOCAL_HTTP_X_TIMESTAMP: (info.timestamp / 1000).toFixed(5),
      LOCAL_HTTP_X_OBJECT_META_COLOR: 'blue',
      LOCAL_HTTP_X_OBJECT_META_A_B: 'dotted',
      LOCAL_DOCUMENT_ROOT: '/dev/stdin',
      LOCAL_OBJECT: 'on',
      LOCAL_PATH_INFO: '/acct/data/doc',
    });
    expect(e.MINE).toBe('1');
  });

  it("describe the object a node writes by its device's type and meta", () => {
    const e = env(compile([{ name: 'a', exec: prog, devices: [{ name: 'stdout', path: 'swift://~/out/result', content_type: 'text/x-out', meta: { Stage: 'map' } }] }]));
    expect(local(e)).toEqual({ LOCAL_CONTENT_TYPE: 'text/x-out', LOCAL_HTTP_X_OBJECT_META_STAGE: 'map', LOCAL_DOCUMENT_ROOT: '/dev/stdout', LOCAL_OBJECT: 'on', LOCAL_PATH_INFO: '/acct/out/result' });
  });

  it('take a readable device before the image and writable ones, skip the script, follow attach, and are absent without an object', () => {
    const job = [{ name: 'a', exec: prog, devices: [{ name: 'output', path: 'swift://~/out/x' }, { name: 'script', path: 'swift://~/data/other.txt' }, { name: 'input', path: 'swift://~/data/log_1.txt' }] }];
    expect(env(compile(job)).LOCAL_DOCUMENT_ROOT).toBe('/dev/input');
    expect(env(compile([{ ...job[0], attach: 'output' }])).LOCAL_DOCUMENT_ROOT).toBe('/dev/output');
    expect(env(compile([{ name: 'a', exec: prog, devices: [{ name: 'script', path: 'swift://~/data/other.txt' }] }])).LOCAL_DOCUMENT_ROOT).toBe('/dev/script');
    expect(local(env(compile([{ name: 'a', exec: prog, devices: [{ name: 'stdout' }] }])))).toEqual({});
    expect(() => compile([{ ...job[0], attach: 'stdin' }])).toThrow(/attach: 'stdin' is not one of the node's devices/);
  });

  it('give each node of a wildcard its own object', () => {
    const job = compile([{ name: 'a', exec: prog, devices: [{ name: 'stdin', path: 'swift://~/data/log_*.txt' }, { name: 'stdout' }] }]);
    expect(job.plan.nodes.map((n) => n.env?.LOCAL_PATH_INFO)).toEqual(['/acct/data/log_1.txt', '/acct/data/log_22.txt']);
    expect(job.plan.nodes.map((n) => n.env?.LOCAL_CONTENT_LENGTH)).toEqual(['21', '22']);
  });
});

describe('job descriptions: paths of the first format', () => {
  it('take /CONTAINER/OBJECT as an object of the account, for devices and programs', () => {
    const job = compile([{ name: 'a', exec: { path: '/bin/prog.nexe' }, devices: [{ name: 'stdin', path: '/data/other.txt' }, { name: 'stdout', path: '/out/x' }] }]);
    const node = job.plan.nodes[0]!;
    expect(readFileSync(node.program, 'utf8')).toBe(NEXE.toString());
    expect(readFileSync((node.stdin as { file: string }).file, 'utf8')).toBe('contents of other.txt');
    expect(job.outputs[0]!.target).toEqual({ account: 'acct', container: 'out', object: 'x' });
    expect(() => compile([{ name: 'a', exec: prog, devices: [{ name: 'stdin', path: '/nothere/x' }] }])).toThrow(/swift:\/\/acct\/nothere\/x does not exist/);
  });
});
