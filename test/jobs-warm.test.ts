/**
 * Warm starts through the job executor (spec/serving.md, "Warm starts"):
 * a C program built with `zerovm cc` does its set-up (a table from its
 * argument, a banner on stdout), calls zvm_fork(), then answers the
 * request on its stdin. Nodes with `warm: true` start from the thread's
 * snapshot of that set-up: their outputs equal a cold run's, each request
 * has its own channels and timeout and sees nothing of an earlier one, a
 * program that never forks (or reads its input before the fork) runs cold
 * with the verdict kept, and the snapshots per thread are bounded. Then
 * Lua 5.2 (bench/programs/lua-warm.c: it opens its libraries, compiles
 * helpers, forks, and runs each request's script from stdin): warm
 * answers equal cold ones and a request's globals are gone in the next.
 * Every case runs on both engines.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Program } from '../src/api/index.js';
import type { NodePlan, NodeResult } from '../src/jobs/executor.js';
import { WorkerPoolExecutor } from '../src/jobs/pool.js';
import { engineCases } from './engine-matrix.js';
import { ci, ROOT, warnIfSkipped, zerovmCc } from './toolchain/helpers.js';

const skip = warnIfSkipped('warm starts through the job executor');
const engines = engineCases('warm starts through the job executor');

/*
 * argv[1] is the set-up's seed; argv[2] the mode: "fork" (the usual),
 * "nofork" (never calls zvm_fork), "readfirst" (reads stdin before it),
 * "setuploop" (never ends its set-up), "file" (after the fork, prints the
 * size and bytes of /dev/input, a random-access channel), "grow" (writes
 * 10 bytes to the empty /dev/output before the fork, prints its size after).
 * A request "secret:TEXT" keeps TEXT in static memory and on the heap; a
 * request "loop" never ends; every answer shows what memory held before.
 */
const SOURCE = `#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zerovm.h>
static char secret[64];
static char *heap_secret;
static long table[4096];
int main(int argc, char **argv) {
  long seed = argc > 1 ? atol(argv[1]) : 0;
  const char *mode = argc > 2 ? argv[2] : "fork";
  char req[256];
  ssize_t n = 0;
  if (strcmp(mode, "readfirst") == 0) n = read(0, req, sizeof req - 1);
  if (strcmp(mode, "setuploop") == 0) for (;;) {}
  for (int i = 0; i < 4096; i++) table[i] = (long)i * i + seed;
  printf("set-up seed=%ld\\n", seed);
  fflush(stdout);
  FILE *grow = strcmp(mode, "grow") == 0 ? fopen("/dev/output", "r+") : 0;
  if (grow) {
    fwrite("0123456789", 1, 10, grow);
    fflush(grow);
  }
  int forked = strcmp(mode, "nofork") == 0 ? -1 : zvm_fork();
  if (grow) {
    fseek(grow, 0, SEEK_END);
    printf("grown: %ld\\n", ftell(grow));
  }
  if (strcmp(mode, "readfirst") != 0) n = read(0, req, sizeof req - 1);
  if (n < 0) n = 0;
  req[n] = 0;
  printf("forked=%d before=[%s|%s] req=[%s] table=%ld\\n", forked, secret, heap_secret ? heap_secret : "", req, table[100]);
  if (strncmp(req, "secret:", 7) == 0) {
    strcpy(secret, req + 7);
    heap_secret = strdup(req + 7);
  }
  if (strcmp(req, "loop") == 0) for (;;) {}
  if (strcmp(mode, "file") == 0) {
    FILE *f = fopen("/dev/input", "r");
    char buf[512];
    size_t got = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    buf[got] = 0;
    if (f) fseek(f, 0, SEEK_END);
    printf("input: %ld bytes, read %zu [%s]\\n", f ? ftell(f) : -1L, got, buf);
  }
  return 0;
}
`;

describe.skipIf(skip)('warm starts through the job executor', () => {
  let dir = '';
  let nexe = '';
  let pool: WorkerPoolExecutor;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'zerovm-jobs-warm-'));
    writeFileSync(join(dir, 'warm.c'), SOURCE);
    nexe = join(dir, 'warm.nexe');
    zerovmCc(['-O2', '-o', nexe, join(dir, 'warm.c')]);
    /* one thread: every node meets the snapshots of the ones before */
    pool = new WorkerPoolExecutor({ workers: 1 });
  }, 300_000);
  afterAll(async () => {
    await pool?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const out = (n: NodeResult, alias = '/dev/stdout'): string => Buffer.from(n.outputs[alias] ?? new Uint8Array(0)).toString();
  const one = async (node: Omit<NodePlan, 'name' | 'program'>): Promise<NodeResult> => (await pool.run({ nodes: [{ name: 'n', program: nexe, ...node }] })).nodes[0]!;

  for (const { name: engine, skip: engineSkip } of engines) {
    it.skipIf(engineSkip)(`[${engine}] the first node takes the snapshot, later ones start from it; outputs equal a cold run's`, async () => {
      const node = { engine, args: ['7', 'fork'], stdin: { bytes: Buffer.from('hello') } };
      const cold = await one(node);
      const first = await one({ ...node, warm: true });
      const second = await one({ ...node, warm: true, stdin: { bytes: Buffer.from('again') } });
      expect(cold.warm).toBeUndefined();
      expect(out(cold)).toBe('set-up seed=7\nforked=0 before=[|] req=[hello] table=10007\n');
      expect(first.warm).toEqual({ fromSnapshot: true, setUp: true });
      expect(second.warm).toEqual({ fromSnapshot: true, setUp: false });
      for (const warm of [first, second]) expect([warm.exitState, warm.userReturnCode, warm.daemonState, warm.engine]).toEqual(['ok', 0, 0, engine]);
      expect(out(first)).toBe(out(cold));
      expect(out(second)).toBe('set-up seed=7\nforked=0 before=[|] req=[again] table=10007\n');
    });

    it.skipIf(engineSkip)(`[${engine}] property: for any request, the warm node's outputs and exit equal a cold run's`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: 99 }), async (request, seed) => {
          const node = { engine, args: [String(seed), 'fork'], stdin: { bytes: request } };
          const cold = await one(node);
          const warm = await one({ ...node, warm: true });
          expect(warm.warm?.fromSnapshot).toBe(true);
          expect([warm.exitState, warm.userReturnCode, out(warm), out(warm, '/dev/stderr')]).toEqual([cold.exitState, cold.userReturnCode, out(cold), out(cold, '/dev/stderr')]);
        }),
        { numRuns: 20 },
      );
    });

    it.skipIf(engineSkip)(`[${engine}] property: a random-access input of any size reads as in a cold run (the request's user manifest holds its size, and the C library takes it after the fork)`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(fc.string({ maxLength: 200 }), { minLength: 1, maxLength: 3 }), async (inputs) => {
          for (const input of inputs) {
            const node = { engine, args: ['4', 'file'], stdin: { bytes: Buffer.from('r') }, channels: [{ alias: '/dev/input', input: { bytes: Buffer.from(input) } }] };
            const cold = await one(node);
            const warm = await one({ ...node, warm: true });
            expect(warm.warm?.fromSnapshot).toBe(true);
            expect(out(cold)).toContain(`input: ${Buffer.byteLength(input)} bytes`);
            expect([warm.exitState, out(warm)]).toEqual([cold.exitState, out(cold)]);
          }
        }),
        { numRuns: 10 },
      );
    });

    it.skipIf(engineSkip)(`[${engine}] a session that does not fork keeps the size its writes gave a random channel across zvm_fork() (the C library takes only sizes the manifest changed)`, async () => {
      const file = join(dir, `grow-${engine}`);
      writeFileSync(file, '');
      const node = { engine, args: ['1', 'grow'], stdin: { bytes: Buffer.from('x') }, channels: [{ alias: '/dev/output', file, access: 'read-write' as const }] };
      expect(out(await one(node))).toContain('grown: 10\n');
    });

    it.skipIf(engineSkip)(`[${engine}] a request never sees an earlier request's data (static memory, heap)`, async () => {
      const node = { engine, args: ['3', 'fork'], warm: true };
      const writer = await one({ ...node, stdin: { bytes: Buffer.from('secret:hunter2') } });
      const reader = await one({ ...node, stdin: { bytes: Buffer.from('peek') } });
      expect(out(writer)).toContain('before=[|] req=[secret:hunter2]');
      expect(reader.warm?.fromSnapshot).toBe(true);
      expect(out(reader)).toBe('set-up seed=3\nforked=0 before=[|] req=[peek] table=10003\n');
      expect(out(reader)).not.toContain('hunter2');
    });

    it.skipIf(engineSkip)(`[${engine}] each request has its own timeout and channels: an endless one times out, the next answers`, async () => {
      const node = { engine, args: ['5', 'fork'], warm: true };
      await one({ ...node, stdin: { bytes: Buffer.from('warm-up') } });
      const started = Date.now();
      const endless = await one({ ...node, timeout: 1, stdin: { bytes: Buffer.from('loop') } });
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(endless.exitState).toBe('session timeout');
      expect(endless.warm?.fromSnapshot).toBe(true);
      const next = await one({ ...node, stdin: { bytes: Buffer.from('fine') }, stderr: 'discard' });
      expect(next.exitState).toBe('ok');
      expect(out(next)).toBe('set-up seed=5\nforked=0 before=[|] req=[fine] table=10005\n');
      /* stderr 'discard' instead of 'buffer' is another channel shape: another set-up */
      expect(next.warm).toEqual({ fromSnapshot: true, setUp: true });
    });

    it.skipIf(engineSkip)(`[${engine}] a warm node reads its stdin from a pipe of the job (the set-up saw an empty pipe)`, async () => {
      const result = await pool.run({
        nodes: [
          { name: 'writer', program: nexe, engine, args: ['1', 'nofork'], stdin: { bytes: Buffer.from('x') }, stdout: { pipe: 'p' } },
          { name: 'reader', program: nexe, engine, args: ['4', 'fork'], warm: true, stdin: { pipe: 'p' } },
        ],
        pipes: [{ id: 'p', from: 'writer', to: 'reader' }],
      });
      const reader = result.nodes[1]!;
      expect(reader.warm?.fromSnapshot).toBe(true);
      /* one read: the writer's first line at least (what else arrived by then depends on timing) */
      expect(out(reader)).toMatch(/^set-up seed=4\nforked=0 before=\[\|\] req=\[set-up seed=1\n/);
    });

    it.skipIf(engineSkip)(`[${engine}] a program that never calls TrapFork runs cold, and the verdict is kept`, async () => {
      const node = { engine, args: ['9', 'nofork'], warm: true, stdin: { bytes: Buffer.from('x') } };
      const first = await one(node);
      const second = await one(node);
      expect(first.warm).toMatchObject({ fromSnapshot: false, setUp: true, reason: 'the program did not call TrapFork in its set-up (it ended with "ok")' });
      expect(second.warm).toMatchObject({ fromSnapshot: false, setUp: false });
      expect(out(second)).toBe('set-up seed=9\nforked=-1 before=[|] req=[x] table=10009\n');
    });

    it.skipIf(engineSkip)(`[${engine}] a set-up that runs out of time is not kept as a verdict: the next node tries again`, async () => {
      const node = { engine, args: ['6', 'setuploop'], warm: true, timeout: 1 };
      for (let i = 0; i < 2; i++) {
        const result = await one(node);
        expect(result.exitState).toBe('session timeout');
        expect(result.warm).toMatchObject({ fromSnapshot: false, setUp: true, reason: expect.stringMatching(/ran out of time/) });
      }
    });

    it.skipIf(engineSkip)(`[${engine}] a set-up that reads the request's input runs cold (its answer would differ)`, async () => {
      const node = { engine, args: ['2', 'readfirst'], warm: true, stdin: { bytes: Buffer.from('early') } };
      const first = await one(node);
      const second = await one(node);
      expect(first.warm).toMatchObject({ fromSnapshot: false, setUp: true, reason: expect.stringMatching(/read \/dev\/stdin before TrapFork/) });
      expect(second.warm).toMatchObject({ fromSnapshot: false, setUp: false });
      expect(out(second)).toBe('set-up seed=2\nforked=0 before=[|] req=[early] table=10002\n');
    });

    it.skipIf(engineSkip)(`[${engine}] a pool's threads share the snapshot: one set-up, and a request on the other thread (another sandbox base) answers as a cold run`, async () => {
      const two = new WorkerPoolExecutor({ workers: 2 });
      try {
        await two.warm();
        const run = async (node: Omit<NodePlan, 'name' | 'program'>): Promise<NodeResult> => (await two.run({ nodes: [{ name: 'n', program: nexe, engine, args: ['8', 'fork'], etags: true, ...node }] })).nodes[0]!;
        const cold = await run({ stdin: { bytes: Buffer.from('cold') } });
        const first = await run({ warm: true, stdin: { bytes: Buffer.from('cold') } });
        expect(first.warm).toEqual({ fromSnapshot: true, setUp: true });
        for (let round = 0; round < 2; round++) {
          /* both threads are idle: the endless request holds one of them for its second, the other takes the next node at once */
          const [endless, answer] = await Promise.all([run({ warm: true, timeout: 1, stdin: { bytes: Buffer.from('loop') } }), run({ warm: true, stdin: { bytes: Buffer.from('cold') } })]);
          expect(endless.exitState).toBe('session timeout');
          /* whichever thread each ran on, neither ran the set-up again */
          expect([endless.warm, answer.warm]).toEqual([
            { fromSnapshot: true, setUp: false },
            { fromSnapshot: true, setUp: false },
          ]);
          expect([answer.exitState, answer.userReturnCode, out(answer), out(answer, '/dev/stderr')]).toEqual([cold.exitState, cold.userReturnCode, out(cold), out(cold, '/dev/stderr')]);
          /* the same etags (the set-up's at the fork, then the request's own) as the request on the thread that took the snapshot */
          expect(answer.etags).toEqual(first.etags);
        }
      } finally {
        await two.close();
      }
    });

    it.skipIf(engineSkip)(`[${engine}] arguments are part of the set-up: other arguments, another snapshot; the oldest dropped past the bound`, async () => {
      const small = new WorkerPoolExecutor({ workers: 1, warmSnapshots: 2 });
      try {
        const run = async (seed: string): Promise<NodeResult> => (await small.run({ nodes: [{ name: 'n', program: nexe, engine, args: [seed, 'fork'], warm: true, stdin: { bytes: Buffer.from('q') } }] })).nodes[0]!;
        const setUps: boolean[] = [];
        for (const seed of ['1', '2', '1', '2', '3', '1']) {
          const result = await run(seed);
          expect(out(result)).toBe(`set-up seed=${seed}\nforked=0 before=[|] req=[q] table=${10000 + Number(seed)}\n`);
          setUps.push(result.warm!.setUp);
        }
        /* 1 and 2 kept; 3 drops 1 (least recently used), so 1 is set up again */
        expect(setUps).toEqual([true, true, false, false, true, true]);
      } finally {
        await small.close();
      }
    });
  }
});

const LUA_SRC = process.env.ZEROVM_LUA52_SRC ?? '/usr/share/cargo/registry/lua52-sys-0.1.2/lua/src';
let skipLua = skip;
if (!skipLua && !existsSync(LUA_SRC)) {
  const reason = `Lua 5.2 sources missing at ${LUA_SRC} (Debian: librust-lua52-sys-dev)`;
  if (ci) throw new Error(reason);
  console.warn(`\n*** warm Lua jobs SKIPPED: ${reason} ***\n`);
  skipLua = true;
}

describe.skipIf(skipLua)('warm Lua script jobs', () => {
  let dir = '';
  let lua = '';
  let pool: WorkerPoolExecutor;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'zerovm-jobs-warm-lua-'));
    lua = join(dir, 'lua-warm.nexe');
    const sources = readdirSync(LUA_SRC)
      .filter((f) => f.endsWith('.c') && f !== 'lua.c' && f !== 'luac.c')
      .map((f) => join(LUA_SRC, f));
    zerovmCc(['-O2', '-DLUA_COMPAT_ALL', '-I', LUA_SRC, '-o', lua, join(ROOT, 'bench', 'programs', 'lua-warm.c'), ...sources, '-lm']);
    pool = new WorkerPoolExecutor({ workers: 1 });
  }, 600_000);
  afterAll(async () => {
    await pool?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const run = async (engine: 'native' | 'unicorn', script: string, warm: boolean): Promise<NodeResult> =>
    (await pool.run({ nodes: [{ name: 'lua', program: lua, engine, warm, stdin: { bytes: Buffer.from(script) } }] })).nodes[0]!;
  const out = (n: NodeResult): string => Buffer.from(n.outputs['/dev/stdout'] ?? new Uint8Array(0)).toString();

  for (const { name: engine, skip: engineSkip } of engines) {
    it.skipIf(engineSkip)(`[${engine}] a program loaded from its memory image: the snapshot has the pages of it the set-up never touched`, () => {
      /* the second session of a Program maps its memory image (loader.ts): here the fork's set-up */
      const program = Program.load(lua, { engine });
      const script = Buffer.from('local co = coroutine.wrap(function(a) coroutine.yield(a * 2) end) print(co(21), string.format("%q %5.2f %x", "a", math.sin(1), 255), os.time{year=2000,month=1,day=1,hour=0}, table.concat({1, 2, 3}, "-"), bit32.band(12, 10), math.huge, string.gsub("hello", "l", "L"))');
      const expected = '42\t"a"  0.84 ff\t946684800\t1-2-3\t8\tinf\theLLo\t2\n';
      expect(program.runSync({ stdin: script }).stdout.toString()).toBe(expected);
      const warm = program.forkSync({});
      const outcome = warm.runSync({ stdin: script });
      expect([outcome.exitState, outcome.stdout.toString()]).toEqual(['ok', expected]);
    });

    it.skipIf(engineSkip)(`[${engine}] scripts answer as cold runs do, and a request's globals are gone in the next`, async () => {
      const scripts = [
        'print(helpers[7](35), string.rep("ab", 3))',
        'secret = "hunter2"; helpers[2000] = nil; print(#helpers, secret)',
        'print(tostring(secret), helpers[2000] ~= nil, #helpers)',
      ];
      const cold: string[] = [];
      for (const script of scripts) cold.push(out(await run(engine, script, false)));
      expect(cold).toEqual(['42\tababab\n', '1999\thunter2\n', 'nil\ttrue\t2000\n']);
      for (const [i, script] of scripts.entries()) {
        const warm = await run(engine, script, true);
        expect(warm.warm).toEqual({ fromSnapshot: true, setUp: i === 0 });
        expect([warm.exitState, warm.userReturnCode]).toEqual(['ok', 0]);
        expect(out(warm)).toBe(cold[i]);
      }
    });
  }
});
