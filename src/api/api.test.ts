/**
 * The embedding API (src/api/) on real programs and real engines: the
 * validation cache, channels as buffers, streams and files, limits, both
 * engines, and the typed errors.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { buildNexe } from '../../test/nexe-builder.js';
import { createRingPipe, RingPipeReader, RingPipeWriter } from '../jobs/ring-pipe.js';
import { unicornEngine } from '../emulator/unicorn.js';
import { nativeEngine } from '../engines/native.js';
import { validate } from '../validator/validate.js';
import {
  ChannelOpenError,
  ChannelStreamError,
  EngineUnavailableError,
  InvalidOptionError,
  Program,
  ProgramCache,
  ProgramFormatError,
  ProgramReadError,
  ValidationFailedError,
  ValidatorState,
  type Validator,
} from './index.js';

const ROOT = join(import.meta.dirname, '..', '..');
const HELLO = join(ROOT, 'examples', 'hello.nexe');
const CAT = join(ROOT, 'examples', 'cat.nexe');
const UNSAFE = join(ROOT, 'examples', 'unsafe.nexe');
const NATIVE_REASON = nativeEngine.unavailableReason();
const UNICORN_REASON = unicornEngine.unavailableReason();
const ENGINES = [
  { name: 'native' as const, skip: NATIVE_REASON },
  { name: 'unicorn' as const, skip: UNICORN_REASON },
];
for (const e of ENGINES) if (e.skip !== null) console.warn(`SKIPPED: embedding API tests on the ${e.name} engine: ${e.skip}`);
const anyEngine = ENGINES.find((e) => e.skip === null)?.name;
const tmp = mkdtempSync(join(tmpdir(), 'zerovm-api-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const sha1 = (bytes: Uint8Array | string): string => createHash('sha1').update(bytes).digest('hex');

/** The real validator, counted: the cache must call it once per (program, policy, features). */
function countingValidator(): { validator: Validator; calls: () => number } {
  let calls = 0;
  return {
    validator: (text, options) => {
      calls++;
      return validate(text, options);
    },
    calls: () => calls,
  };
}

describe.skipIf(anyEngine === undefined)('Program: validated once per content, policy and engine features', () => {
  it('loading the same nexe again (by path or by bytes) and running it many times validates it once', async () => {
    const counted = countingValidator();
    const cache = new ProgramCache({ validator: counted.validator });
    const first = Program.load(HELLO, { cache, engine: anyEngine });
    const again = Program.load(readFileSync(HELLO), { cache, engine: anyEngine });
    expect(again.hash).toBe(first.hash);
    for (let i = 0; i < 3; i++) expect((await again.run()).stdout.toString()).toBe('hello, world\n');
    first.runSync();
    expect(counted.calls()).toBe(1);
    expect(cache.validations).toBe(1);
    expect(cache.hits).toBe(5);
  });

  it('another program is validated on its own', () => {
    const counted = countingValidator();
    const cache = new ProgramCache({ validator: counted.validator });
    Program.load(HELLO, { cache, engine: anyEngine });
    Program.load(CAT, { cache, engine: anyEngine });
    expect(counted.calls()).toBe(2);
  });

  it.skipIf(NATIVE_REASON !== null || UNICORN_REASON !== null)('an engine with other CPU features is validated for once, then cached too', () => {
    const counted = countingValidator();
    const cache = new ProgramCache({ validator: counted.validator });
    const program = Program.load(HELLO, { cache, engine: 'native' });
    program.runSync({ engine: 'unicorn' });
    program.runSync({ engine: 'unicorn' });
    program.runSync({ engine: 'native' });
    /* the Unicorn engine declares a feature set of its own, the native engine all features */
    expect(unicornEngine.features).toBeDefined();
    expect(counted.calls()).toBe(2);
  });

  it('a program the validator refuses throws ValidationFailedError, and the refusal is cached too', () => {
    const counted = countingValidator();
    const cache = new ProgramCache({ validator: counted.validator });
    for (let i = 0; i < 2; i++) {
      let thrown: unknown;
      try {
        Program.load(UNSAFE, { cache, engine: anyEngine });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(ValidationFailedError);
      const error = thrown as ValidationFailedError;
      expect(error.errors.length).toBeGreaterThan(0);
      expect(error.message).toMatch(/validation failed for the .* engine .*zerovm validate PROGRAM/);
    }
    expect(counted.calls()).toBe(1);
  });

  it('the cache keeps at most maxEntries verdicts, dropping the least recently used', () => {
    const counted = countingValidator();
    const cache = new ProgramCache({ validator: counted.validator, maxEntries: 1 });
    Program.load(HELLO, { cache, engine: anyEngine });
    Program.load(CAT, { cache, engine: anyEngine });
    Program.load(HELLO, { cache, engine: anyEngine });
    expect(counted.calls()).toBe(3);
  });
});

describe.skipIf(anyEngine === undefined)('sessions: channels as buffers, streams and files', () => {
  const input = 'one\ntwo\nthree\n'.repeat(5000);

  it('buffers: stdin from bytes, stdout and stderr back as bytes, etags and accounting as data', () => {
    const program = Program.load(CAT, { engine: anyEngine });
    const outcome = program.runSync({ stdin: Buffer.from(input), etags: true });
    expect(outcome.ok).toBe(true);
    expect(outcome.exitState).toBe('ok');
    expect(outcome.validatorState).toBe(ValidatorState.Valid);
    expect(outcome.stdout.toString()).toBe(input);
    expect(outcome.stderr.length).toBe(0);
    expect(outcome.etags.slice(0, 3)).toEqual([
      { alias: '/dev/stdin', digest: sha1(input) },
      { alias: '/dev/stdout', digest: sha1(input) },
      { alias: '/dev/stderr', digest: sha1('') },
    ]);
    expect(outcome.etags[3]?.alias).toBe('/dev/memory');
    expect(outcome.accounting.local.getBytes).toBe(input.length);
    expect(outcome.accounting.local.putBytes).toBe(input.length);
    expect(outcome.report).toContain(`/dev/stdin ${sha1(input)}`);
    expect(outcome.report.trimEnd().endsWith('ok')).toBe(true);
  });

  it('the embedder\'s input buffer is not changed and each session starts from it afresh', () => {
    const program = Program.load(CAT, { engine: anyEngine });
    const bytes = Buffer.from('abc');
    expect(program.runSync({ stdin: bytes }).stdout.toString()).toBe('abc');
    expect(program.runSync({ stdin: bytes }).stdout.toString()).toBe('abc');
    expect(bytes.toString()).toBe('abc');
  });

  it('streams: a Readable feeds stdin, a Writable takes stdout as it is written', async () => {
    const program = Program.load(CAT, { engine: anyEngine });
    const chunks: Buffer[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        chunks.push(chunk);
        done();
      },
    });
    const outcome = await program.run({ stdin: Readable.from([Buffer.from(input.slice(0, 100)), Buffer.from(input.slice(100))]), stdout: sink });
    expect(outcome.ok).toBe(true);
    expect(Buffer.concat(chunks).toString()).toBe(input);
    /* nothing kept in memory for a stream output */
    expect(outcome.stdout.length).toBe(0);
  });

  it('one output stream can serve many sessions: each session removes its listeners', async () => {
    const program = Program.load(HELLO, { engine: anyEngine });
    const chunks: Buffer[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        chunks.push(chunk);
        done();
      },
    });
    const listeners = sink.listenerCount('error');
    for (let i = 0; i < 15; i++) await program.run({ stdout: sink });
    expect(sink.listenerCount('error')).toBe(listeners);
    expect(Buffer.concat(chunks).toString()).toBe('hello, world\n'.repeat(15));
  });

  it('a stream that fails is a ChannelStreamError that keeps the outcome', async () => {
    const program = Program.load(HELLO, { engine: anyEngine });
    const broken = new Writable({
      write(_chunk, _encoding, done) {
        done(new Error('disk on fire'));
      },
    });
    const failing = program.run({ stdout: broken });
    await expect(failing).rejects.toBeInstanceOf(ChannelStreamError);
    await failing.catch((error: ChannelStreamError) => {
      expect(error.alias).toBe('/dev/stdout');
      expect(error.message).toContain('disk on fire');
      expect(error.outcome).toMatchObject({ exitState: 'ok' });
    });
    const badInput = new PassThrough();
    badInput.destroy(new Error('connection reset'));
    await expect(program.run({ stdin: badInput })).rejects.toThrow(/channel \/dev\/stdin failed: connection reset/);
  });

  it('files: stdin and stdout as host files; an extra channel opens (and must exist to)', () => {
    const program = Program.load(CAT, { engine: anyEngine });
    const inPath = join(tmp, 'in.txt');
    const outPath = join(tmp, 'out.txt');
    writeFileSync(inPath, input);
    const outcome = program.runSync({ stdin: { file: inPath }, stdout: { file: outPath }, channels: [{ alias: '/dev/extra', output: 'buffer' }] });
    expect(outcome.ok).toBe(true);
    expect(readFileSync(outPath, 'utf8')).toBe(input);
    expect(outcome.outputs.get('/dev/extra')?.length).toBe(0);
    expect(() => program.runSync({ channels: [{ alias: '/dev/input', input: { file: join(tmp, 'missing', 'x') } }] })).toThrow(ChannelOpenError);
    expect(() => program.runSync({ channels: [{ alias: '/dev/input', input: { file: join(tmp, 'missing', 'x') } }] })).toThrow(/channel \/dev\/input could not be opened: cannot open/);
  });

  it('{ stream }: a blocking pipe end (src/jobs) as stdin and stdout; the wrong end is refused', () => {
    const program = Program.load(CAT, { engine: anyEngine });
    const into = createRingPipe(1024);
    const writer = new RingPipeWriter(into);
    expect(writer.write(Buffer.from(input.slice(0, 500)), Date.now() + 1000)).toBe(500);
    writer.close();
    const out = createRingPipe(1024);
    const outcome = program.runSync({ stdin: { stream: new RingPipeReader(into) }, stdout: { stream: new RingPipeWriter(out) } });
    expect(outcome.ok).toBe(true);
    const dest = new Uint8Array(1024);
    const reader = new RingPipeReader(out);
    expect(Buffer.from(dest.subarray(0, reader.read(dest, Date.now() + 1000))).toString()).toBe(input.slice(0, 500));
    /* the session closed its end: the reader sees the end of data */
    expect(reader.read(dest, Date.now() + 1000)).toBe(0);
    expect(() => program.runSync({ stdin: { stream: new RingPipeWriter(createRingPipe(16)) } })).toThrow(/the writing end of a pipe, so it can only be an output/);
  });

  it('runSync refuses streams with a message that names run()', () => {
    const program = Program.load(CAT, { engine: anyEngine });
    expect(() => program.runSync({ stdin: Readable.from(['x']) })).toThrow(/streams need run\(\)/);
  });
});

describe.skipIf(anyEngine === undefined)('limits', () => {
  it('a channel limit cuts the program\'s output where the limit says', () => {
    const program = Program.load(CAT, { engine: anyEngine });
    const outcome = program.runSync({ stdin: Buffer.alloc(100_000, 0x61), channelLimits: { '/dev/stdout': { putSize: 1000 } } });
    expect(outcome.stdout.length).toBe(1000);
    expect(outcome.accounting.local.putBytes).toBe(1000);
  });

  it('the timeout ends an endless loop with "session timeout"', () => {
    const program = Program.load(buildNexe('ebfe'), { engine: anyEngine }); /* jmp . */
    const started = Date.now();
    const outcome = program.runSync({ timeout: 1 });
    expect(outcome.exitState).toBe('session timeout');
    expect(outcome.ok).toBe(false);
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('memory, timeout and limits out of range are InvalidOptionErrors naming the option', () => {
    const program = Program.load(HELLO, { engine: anyEngine });
    expect(() => program.runSync({ memory: 0 })).toThrow(/^memory: must be a whole number of bytes from 1 to 4294967296, not 0$/);
    expect(() => program.runSync({ memory: 2 ** 32 + 1 })).toThrow(InvalidOptionError);
    expect(() => program.runSync({ timeout: 0.5 })).toThrow(/^timeout: /);
    expect(() => program.runSync({ channelLimits: { '/dev/stdout': { getSize: 5 } } })).toThrow(/write-only, so getSize must be 0/);
    expect(() => program.runSync({ channels: [{ alias: '/dev/stdout', input: Buffer.alloc(0) }] })).toThrow(/given by the session itself/);
    expect(() => program.runSync({ channelModes: { '/dev/input': 'file' } })).toThrow(/^channelModes\['\/dev\/input'\]: the session has no channel \/dev\/input$/);
    expect(() => program.runSync({ channelModes: { '/dev/stdout': 'socket' as 'file' } })).toThrow(/'socket' is not one of pipe, char, file/);
  });

  it('memory too small for the program ends the session with the runtime\'s ENOMEM state, not an exception', () => {
    const outcome = Program.load(HELLO, { engine: anyEngine }).runSync({ memory: 4096 });
    expect(outcome.ok).toBe(false);
    expect(outcome.exitCode).toBe(12);
  });
});

describe('both engines give the same outcome', () => {
  for (const engine of ENGINES) {
    it.skipIf(engine.skip !== null)(`${engine.name}: cat's output, etags and accounting`, () => {
      const program = Program.load(CAT, { engine: engine.name });
      const outcome = program.runSync({ stdin: Buffer.from('same on both\n'), etags: true });
      expect(outcome.engine).toBe(engine.name);
      expect(outcome.stdout.toString()).toBe('same on both\n');
      expect(outcome.etags.filter((e) => e.alias !== '/dev/memory')).toEqual([
        { alias: '/dev/stdin', digest: sha1('same on both\n') },
        { alias: '/dev/stdout', digest: sha1('same on both\n') },
        { alias: '/dev/stderr', digest: sha1('') },
      ]);
    });
  }

  it.skipIf(NATIVE_REASON !== null)('a program\'s later sessions, which map its memory image instead of copying it (spec/runtime.md "Loading the program"), see the same memory as its first', () => {
    for (const path of [HELLO, CAT]) {
      const program = Program.load(path, { engine: 'native' });
      const runs = [1, 2, 3].map(() => program.runSync({ engine: 'native', etags: true, stdin: Buffer.from('x\n') }));
      for (const run of runs) expect(run.ok).toBe(true);
      expect(runs[1]!.etags).toEqual(runs[0]!.etags);
      expect(runs[2]!.etags).toEqual(runs[0]!.etags);
      expect(runs[2]!.stdout).toEqual(runs[0]!.stdout);
    }
  });

  it.skipIf(NATIVE_REASON !== null || UNICORN_REASON !== null)('the memory etag agrees between engines', () => {
    const program = Program.load(HELLO, { engine: 'native' });
    const native = program.runSync({ engine: 'native', etags: true });
    const unicorn = program.runSync({ engine: 'unicorn', etags: true });
    expect(unicorn.etags).toEqual(native.etags);
    expect(unicorn.userReturnCode).toBe(native.userReturnCode);
  });
});

describe('typed errors for what stops a session from starting', () => {
  it('a missing program: ProgramReadError naming the path', () => {
    const path = join(tmp, 'nope.nexe');
    expect(() => Program.load(path)).toThrow(ProgramReadError);
    expect(() => Program.load(path)).toThrow(`cannot read the program ${path}: no such file`);
    expect(() => Program.load(tmp)).toThrow(/it is a directory/);
  });

  it('bytes that are no nexe: ProgramFormatError with the loader\'s reason', () => {
    let thrown: unknown;
    try {
      Program.load(Buffer.from('#!/bin/sh\necho hi\n'));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ProgramFormatError);
    expect((thrown as ProgramFormatError).errno).toBe(5);
    expect((thrown as Error).message).toMatch(/^not a ZeroVM program: .*zerovm cc/);
  });

  it('an unknown engine name is an InvalidOptionError listing the names', () => {
    expect(() => Program.load(HELLO, { engine: 'qemu' as 'native' })).toThrow(/^engine: unknown engine 'qemu' \(native, unicorn, auto\)$/);
  });

  it('an engine that cannot run here is an EngineUnavailableError with its reason', () => {
    const unavailable = { ...nativeEngine, name: 'native' as const, unavailableReason: () => 'the addon is not built: run npm run build:native', createSession: nativeEngine.createSession };
    expect(() => Program.load(HELLO, { engine: unavailable })).toThrow(EngineUnavailableError);
    expect(() => Program.load(HELLO, { engine: unavailable })).toThrow('the native engine cannot run here: the addon is not built: run npm run build:native');
  });

  it.skipIf(NATIVE_REASON !== null)('skipValidation on the native engine needs unsafe', () => {
    expect(() => Program.load(HELLO, { engine: 'native', skipValidation: true }).runSync()).toThrow(/skipValidation refused on the native engine.*unsafe: true/);
    const outcome = Program.load(HELLO, { engine: 'native', skipValidation: true, unsafe: true }).runSync();
    expect(outcome.validatorState).toBe(ValidatorState.NotValidated);
    expect(outcome.stdout.toString()).toBe('hello, world\n');
  });
});
