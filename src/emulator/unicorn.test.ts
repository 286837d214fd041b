/**
 * Tests of what only the Unicorn engine has (src/emulator/unicorn.ts over
 * native/src/unicorn); the engine contract itself (registers, traps, faults,
 * watchdog, protections, leaks) is tested on both engines in
 * src/engines/native.test.ts.
 *
 * - The repairs made inside libunicorn 2.0.1 are on (the interposers,
 *   built for that version alone, are active; fast stores, precise fault
 *   addresses); test/unicorn-interposers-build.test.ts builds the addon for
 *   another version.
 * - UNICORN_FEATURES is true: an instruction of every feature it keeps
 *   gives the same registers, flags and memory emulated as on this CPU (the
 *   native engine runs the same program), and code using a feature it leaves
 *   out is refused for a Unicorn session, by the validator and by
 *   runSession. Probes observe with instructions a session accepts (both
 *   original validators: setcc, not pushf); the few probes of an
 *   instruction no session accepts (lahf, fxsave, clflush) run unvalidated,
 *   our own test code, and say why.
 * - Sessions run on a worker thread, with the process-wide watchdog.
 *
 * Probe instructions were assembled with clang-14 (the assembly is beside
 * each); the bundling (no instruction across a 32-byte boundary, the trap
 * call at a bundle's end) is done here, with the project's decoder.
 * Skipped loudly when the addon is not built; a failure under CI=true.
 */
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { buildNexe } from '../../test/nexe-builder.js';
import { nativeEngine } from '../engines/native.js';
import { Protection, type Engine, type EngineSession, type Stop } from '../runtime/engine.js';
import { runSession, SESSION_POLICY } from '../runtime/session.js';
import type { CpuFeature } from '../validator/features.js';
import { decodeInstruction, POLICIES } from '../validator/index.js';
import { validate, type ValidationPolicy } from '../validator/validate.js';
import { acceptedByBoth, describeJudged, judge, skipReferenceChecks } from '../../test/reference-validators.js';
import { describeUnicornEngine, findUnicornAddon, UNICORN_BUILD_HINT, UNICORN_FEATURES, unicornEngine, unicornRepairs } from './unicorn.js';

const ci = process.env.CI === 'true' || process.env.CI === '1';
const unavailable = unicornEngine.unavailableReason();
const nativeUnavailable = nativeEngine.unavailableReason();
if (unavailable !== null && !ci) console.warn(`\n*** unicorn engine tests SKIPPED: ${unavailable} ***\n`);

const RW = Protection.Read | Protection.Write;
const RX = Protection.Read | Protection.Execute;
const TEXT = 0x20000;
const DATA = 0x30000;
const INPUT = 0x40000;
const SIGILL = 4;

/** Every probe's starting state, read from INPUT (read-only). */
// prettier-ignore
const PROLOGUE = [
  'f3410f6f8700000400', // movdqu 0x40000(%r15),%xmm0
  'f3410f6f8f10000400', // movdqu 0x40010(%r15),%xmm1
  'f3410f6f9720000400', // movdqu 0x40020(%r15),%xmm2
  'f3410f6f9f30000400', // movdqu 0x40030(%r15),%xmm3
  '498b8740000400', // mov 0x40040(%r15),%rax
  '498b9f48000400', // mov 0x40048(%r15),%rbx
  '498b8f50000400', // mov 0x40050(%r15),%rcx
  '498b9758000400', // mov 0x40058(%r15),%rdx
  '410f6f8760000400', // movq 0x40060(%r15),%mm0
  '410f6f8f68000400', // movq 0x40068(%r15),%mm1
  '41b801000000', // mov $0x1,%r8d
  '4183f800', // cmp $0x0,%r8d (1 - 0: every arithmetic flag clear)
];
/**
 * Every probe's result, written to DATA: setb/setp/sete/sets/seto
 * 0x30070..0x30074(%r15) (CF PF ZF SF OF, as a valid program reads them);
 * movdqu %xmm0-3,0x30000..0x30030(%r15); mov %rax/%rbx/%rcx/%rdx,
 * 0x30040..0x30058(%r15); movq %mm0/%mm1,0x30060/8(%r15); emms.
 */
const EPILOGUE =
  '410f928770000300410f9a8771000300410f948772000300410f988773000300410f908774000300' +
  'f3410f7f8700000300f3410f7f8f10000300f3410f7f9720000300f3410f7f9f300003004989874000030049899f4800030049898f5000030049899758000300410f7f8760000300410f7f8f680003000f77';
/** Where the epilogue's setcc bytes go (DATA + 0x70 + k), and each flag's bit in rflags. */
const FLAG_BYTES: readonly (readonly [number, number])[] = [[0, 0x1], [1, 0x4], [2, 0x40], [3, 0x80], [4, 0x800]]; // prettier-ignore

interface Probe {
  readonly feature: CpuFeature;
  readonly asm: string;
  readonly hex: string;
  /** Flags the instructions define (others are undefined and may differ between CPUs), as rflags bits. */
  readonly flags: number;
  /** Bytes of DATA + 0x300.. the probe writes, and which of them to compare. */
  readonly memory?: readonly (readonly [number, number])[];
  /**
   * Why the probe runs unvalidated: its instruction is one no session
   * accepts (an original validator refuses it), yet the engine keeps the
   * feature, so what it claims is still checked. Absent: the probe passes
   * the session's validation with UNICORN_FEATURES.
   */
  readonly unvalidated?: string;
}

/** OF SF ZF PF CF: every status flag a valid program can read (AF only pushf and lahf can, which no session accepts). */
const ALL_FLAGS = 0x8c5;
// prettier-ignore
const PROBES: readonly Probe[] = [
  // emms first: the prologue's MMX loads leave every x87 register in use.
  { feature: 'x87', asm: 'emms; fldpi; fld1; faddp; fstpt 0x30300(%r15)', hex: '0f77d9ebd9e8dec141dbbf00030300', flags: ALL_FLAGS, memory: [[0, 10]] },
  { feature: 'CMOV', asm: 'cmp %rax,%rbx; cmovb %rcx,%rdx', hex: '4839c3480f42d1', flags: ALL_FLAGS },
  { feature: 'LAHF', asm: 'lahf', hex: '9f', flags: ALL_FLAGS, unvalidated: 'ZeroVM 2015\'s validator refuses lahf and sahf' },
  { feature: 'MMX', asm: 'paddb %mm0,%mm1', hex: '0ffcc8', flags: ALL_FLAGS },
  { feature: 'EMMX', asm: 'pminub %mm0,%mm1; pavgb %mm0,%mm1', hex: '0fdac80fe0c8', flags: ALL_FLAGS },
  { feature: 'PREFETCHW', asm: 'prefetchw 0x30000(%r15)', hex: '410f0d8f00000300', flags: ALL_FLAGS },
  { feature: 'SSE', asm: 'addps %xmm0,%xmm1; sqrtps %xmm1,%xmm2', hex: '0f58c80f51d1', flags: ALL_FLAGS },
  { feature: 'SSE2', asm: 'paddq %xmm0,%xmm1; divpd %xmm0,%xmm3', hex: '660fd4c8660f5ed8', flags: ALL_FLAGS },
  { feature: 'SSE3', asm: 'haddps %xmm0,%xmm1; addsubpd %xmm0,%xmm2', hex: 'f20f7cc8660fd0d0', flags: ALL_FLAGS },
  { feature: 'SSSE3', asm: 'pshufb %xmm0,%xmm1; phaddw %xmm2,%xmm3', hex: '660f3800c8660f3801da', flags: ALL_FLAGS },
  { feature: 'SSE41', asm: 'pblendw $0x5a,%xmm0,%xmm1; pmulld %xmm2,%xmm3; roundps $1,%xmm0,%xmm2', hex: '660f3a0ec85a660f3840da660f3a08d001', flags: ALL_FLAGS },
  { feature: 'SSE42', asm: 'pcmpgtq %xmm0,%xmm1; crc32q %rax,%rbx; pcmpistri $0xc,%xmm3,%xmm2', hex: '660f3837c8f2480f38f1d8660f3a63d30c', flags: ALL_FLAGS },
  { feature: 'LZCNT', asm: 'lzcnt %rax,%rbx; lzcnt %rdx,%rcx', hex: 'f3480fbdd8f3480fbdca', flags: 0x41 /* CF ZF */ },
  // BMI1's VEX forms (andn, bextr, blsi, blsr) are refused by both original validators: tzcnt is what a session can use.
  { feature: 'BMI1', asm: 'tzcnt %rdx,%rax; tzcnt %rbx,%rcx', hex: 'f3480fbcc2f3480fbccb', flags: 0x41 /* CF ZF */ },
  // fxsave: the header (FCW FSW FTW FOP FIP FDP MXCSR) and xmm0-15. Not MXCSR_MASK, which
  // is the CPU's own (0xFFFF on Intel, 0x2FFFF on AMD, 0xFFFF emulated), nor the x87
  // registers, whose contents after fninit are whatever the host left natively.
  { feature: 'FXSR', asm: 'fxsave 0x30300(%r15)', hex: '410fae8700030300', flags: ALL_FLAGS, memory: [[0, 28], [160, 416]], unvalidated: 'neither original validator accepts fxsave' },
  { feature: 'CLFLUSH', asm: 'clflush 0x30000(%r15)', hex: '410faebf00000300', flags: ALL_FLAGS, unvalidated: 'NaCl\'s validator refuses clflush' },
];

/**
 * One instruction of each feature the engine leaves out, and the policy
 * that accepts it when every feature is there: the session's, where both
 * original validators accept it (then the Unicorn engine's features are
 * all that keeps it out of a Unicorn session); NaCl's, for the VEX
 * instructions ZeroVM 2015's validator refuses (no session runs them on
 * any engine, so the mechanism is shown under `nacl`); none, for what NaCl
 * refuses too (vcvtph2ps, pclmulqdq: no policy accepts them, so Unicorn's
 * lack of F16C and CLMUL never matters). The last tests check each claim
 * against the original validators.
 */
interface LeftOut {
  readonly feature: CpuFeature;
  readonly asm: string;
  readonly hex: string;
  readonly acceptedBy: ValidationPolicy | null;
}
// prettier-ignore
const LEFT_OUT: readonly LeftOut[] = [
  { feature: 'AVX', asm: 'vaddps %xmm0,%xmm1,%xmm2', hex: 'c5f058d0', acceptedBy: 'nacl' },
  { feature: 'AVX2', asm: 'vpaddd %ymm0,%ymm1,%ymm2', hex: 'c5f5fed0', acceptedBy: 'nacl' },
  { feature: 'F16C', asm: 'vcvtph2ps %xmm0,%xmm1', hex: 'c4e27913c8', acceptedBy: null },
  { feature: 'FMA', asm: 'vfmadd132ps %xmm0,%xmm1,%xmm2', hex: 'c4e27198d0', acceptedBy: 'nacl' },
  { feature: 'POPCNT', asm: 'popcnt %rax,%rbx', hex: 'f3480fb8d8', acceptedBy: SESSION_POLICY },
  { feature: 'MOVBE', asm: 'movbe 0x40000(%r15),%rax', hex: '490f38f08700000400', acceptedBy: SESSION_POLICY },
  { feature: 'CLMUL', asm: 'pclmulqdq $0x11,%xmm0,%xmm1', hex: '660f3a44c811', acceptedBy: null },
  { feature: 'CX8', asm: 'cmpxchg8b 0x30000(%r15)', hex: '410fc78f00000300', acceptedBy: SESSION_POLICY },
  { feature: 'CX16', asm: 'cmpxchg16b 0x30000(%r15)', hex: '490fc78f00000300', acceptedBy: SESSION_POLICY },
  { feature: '3DNOW', asm: 'pfadd %mm0,%mm1', hex: '0f0fc89e', acceptedBy: SESSION_POLICY },
  { feature: 'E3DNOW', asm: 'pswapd %mm0,%mm1', hex: '0f0fc8bb', acceptedBy: SESSION_POLICY },
];

/** xmm0 holds floats, the rest varied bytes; rax..rdx, mm0, mm1 varied integers. */
function probeInput(): Uint8Array {
  const input = new Uint8Array(0x70);
  for (let i = 0; i < input.length; i++) input[i] = (i * 37 + 11 + (i >> 3)) & 0xff;
  new Float32Array(input.buffer, 0, 8).set([1.5, -2.25, 3.0e10, 0.1, 7.0, 2.0, -0.0, 1e-3]);
  new BigUint64Array(input.buffer, 0x40, 4).set([0x1234567890n, 0x00ff00ff12345678n, 0x9876543210fedcban, 0x100n]);
  return input;
}

/** Lays instructions out in 32-byte bundles (nop padding), then `mov $0x30100,%edi` and the trap call. */
function bundled(hexes: readonly string[]): Uint8Array {
  const out: number[] = [];
  const place = (bytes: Uint8Array): void => {
    if ((out.length % 32) + bytes.length > 32) while (out.length % 32 !== 0) out.push(0x90);
    out.push(...bytes);
  };
  for (const hex of hexes) {
    const code = Buffer.from(hex, 'hex');
    for (let at = 0; at < code.length; ) {
      const insn = decodeInstruction(code, at);
      if (!insn.ok) throw new Error(`cannot decode ${hex} at ${at}`);
      place(code.subarray(at, at + insn.length));
      at += insn.length;
    }
  }
  place(Buffer.from('bf00010300', 'hex')); // mov $0x30100,%edi
  place(Buffer.from('bb00000100', 'hex')); // mov $0x10000,%ebx
  while (out.length % 32 !== 24) out.push(0x90);
  out.push(0x83, 0xe3, 0xe0, 0x4c, 0x01, 0xfb, 0xff, 0xd3); // and $-32,%ebx; add %r15,%rbx; call *%rbx
  out.push(0xf4);
  return new Uint8Array(out);
}

const open: EngineSession[] = [];
afterEach(() => {
  for (const session of open.splice(0)) session.dispose();
});

/** Runs `code` (at TEXT) with INPUT filled in; returns the stop and DATA's first 0x500 bytes. */
function run(engine: Engine, code: Uint8Array): { stop: Stop; data: Uint8Array } {
  const session = engine.createSession([
    { address: 0x10000, size: 0x10000, protection: RX },
    { address: TEXT, size: 0x10000, protection: RW },
    { address: DATA, size: 0x10000, protection: RW },
    { address: INPUT, size: 0x10000, protection: RW },
    { address: 0xff000000, size: 0x1000000, protection: RW },
  ]);
  open.push(session);
  session.writableView(TEXT, 0x10000).fill(0xf4);
  session.writableView(TEXT, code.length).set(code);
  session.writableView(INPUT, 0x70).set(probeInput());
  session.protect(TEXT, 0x10000, RX);
  session.protect(INPUT, 0x10000, Protection.Read);
  const stop = session.start(TEXT, 5000);
  return { stop, data: session.view(DATA, 0x500).slice() };
}

/** The parts of a probe's result that must agree. */
function observed(probe: Probe, data: Uint8Array): Record<string, string> {
  const flags = FLAG_BYTES.reduce((sum, [at, bit]) => sum | (data[0x70 + at] === 1 ? bit : 0), 0) & probe.flags;
  const result: Record<string, string> = { registers: Buffer.from(data.subarray(0, 0x70)).toString('hex'), flags: flags.toString(16) };
  for (const [from, to] of probe.memory ?? []) result[`memory ${from}-${to}`] = Buffer.from(data.subarray(0x300 + from, 0x300 + to)).toString('hex');
  return result;
}

describe.runIf(ci && unavailable !== null)('unicorn engine availability (CI)', () => {
  it('is built', () => {
    expect(unavailable).toBeNull();
  });
});

describe('unicorn engine without its addon', () => {
  it('says what to install, and finds no addon outside a checkout', () => {
    expect(UNICORN_BUILD_HINT).toMatch(/apt-get install libunicorn-dev/);
    expect(UNICORN_BUILD_HINT).toMatch(/brew install unicorn/);
    expect(UNICORN_BUILD_HINT).toMatch(/npm run build:native/);
    expect(findUnicornAddon('/')).toBeNull();
  });

  it('offers every feature it keeps to the validator, and none it leaves out', () => {
    expect(unicornEngine.name).toBe('unicorn');
    expect(unicornEngine.features).toEqual(UNICORN_FEATURES);
    for (const probe of PROBES) expect(UNICORN_FEATURES).toContain(probe.feature);
    for (const { feature } of LEFT_OUT) expect(UNICORN_FEATURES).not.toContain(feature);
    for (const feature of ['FMA4', 'TBM', 'SSE4A', 'BMI2', 'XSAVE'] as const) expect(UNICORN_FEATURES).not.toContain(feature);
  });

  it('has the validator refuse, for a unicorn session, code that uses a feature left out (under the session\'s policy where it accepts the code, else NaCl\'s)', () => {
    expect(LEFT_OUT.filter((l) => l.acceptedBy === SESSION_POLICY).length).toBeGreaterThanOrEqual(4);
    for (const { feature, asm, hex, acceptedBy } of LEFT_OUT) {
      const code = Buffer.from(hex, 'hex');
      if (acceptedBy === null) {
        for (const policy of POLICIES) expect(validate(code, { base: TEXT, policy }).valid, `${asm} under ${policy}`).toBe(false);
        continue;
      }
      expect(validate(code, { base: TEXT, policy: acceptedBy }).errors, asm).toEqual([]);
      const refused = validate(code, { base: TEXT, policy: acceptedBy, features: UNICORN_FEATURES });
      expect(refused.errors.map((e) => [e.rule, e.message]), asm).toEqual([['cpu-feature-missing', expect.stringContaining(`needs ${feature}`)]]);
    }
  });
});

describe.skipIf(unavailable !== null)('unicorn engine', () => {
  it('repairs libunicorn 2.0.1 through its interposers: stores stay on the fast path, faults report their instruction', () => {
    const repairs = unicornRepairs();
    expect(repairs).not.toBeNull();
    /* the interposers are built and active for exactly 2.0.1 (native/CMakeLists.txt), which Debian 12 ships */
    const libunicorn = /^libunicorn (\S+),/.exec(describeUnicornEngine() ?? '')?.[1];
    expect(libunicorn).toMatch(/^2\.\d+\.\d+$/);
    if (libunicorn !== '2.0.1') {
      expect(repairs).toMatchObject({ interposers: false, fastStores: false, preciseFaults: false });
      expect(repairs!.detail).toMatch(/for libunicorn 2\.0\.1 only|not the 2\.0\.1/);
      return;
    }
    expect(repairs!.interposers).toBe(true);
    if (process.env.ZEROVM_UNICORN_SLOW_STORES === undefined) {
      expect(repairs).toEqual({ interposers: true, fastStores: true, preciseFaults: true, detail: '' });
      expect(describeUnicornEngine()).toBe('libunicorn 2.0.1, interposers active (fast stores, precise fault addresses)');
    }
  });

  it('runs the probe programs to their trap, each validated as a Unicorn session would (but those marked unvalidated)', () => {
    for (const probe of PROBES) {
      const code = bundled([...PROLOGUE, probe.hex, EPILOGUE]);
      if (probe.unvalidated === undefined) {
        expect(validate(code, { base: TEXT, policy: SESSION_POLICY, features: UNICORN_FEATURES }).errors, probe.asm).toEqual([]);
      }
      expect(run(unicornEngine, code).stop, probe.asm).toMatchObject({ kind: 'trap', args: 0x30100 });
    }
  });

  it('does not advertise what it cannot run (cpuid, run unvalidated): no AVX, AVX2, OSXSAVE', () => {
    // mov $1,%eax; cpuid; mov %ecx,0x30000(%r15); mov $7,%eax; xor %ecx,%ecx; cpuid; mov %ebx,0x30004(%r15)
    const code = bundled(['b801000000', '0fa2', '41898f00000300', 'b807000000', '31c9', '0fa2', '41899f04000300']);
    expect(validate(code, { base: TEXT, policy: 'deterministic' }).errors.map((e) => e.rule)).toContain('nondeterministic-instruction');
    const { stop, data } = run(unicornEngine, code);
    expect(stop).toMatchObject({ kind: 'trap' });
    const leaf1Ecx = new DataView(data.buffer).getUint32(0, true);
    const leaf7Ebx = new DataView(data.buffer).getUint32(4, true);
    expect(leaf1Ecx & (1 << 28)).toBe(0); // AVX
    expect(leaf1Ecx & (1 << 27)).toBe(0); // OSXSAVE
    expect(leaf7Ebx & (1 << 5)).toBe(0); // AVX2
  });

  describe.skipIf(nativeUnavailable !== null)('each feature it keeps, against this CPU (the native engine)', () => {
    for (const probe of PROBES) {
      it(`${probe.unvalidated === undefined ? '' : 'unvalidated: '}${probe.feature}: ${probe.asm}`, (context) => {
        const code = bundled([...PROLOGUE, probe.hex, EPILOGUE]);
        const native = run(nativeEngine, code);
        if (native.stop.kind === 'fault' && native.stop.signal === SIGILL) {
          context.skip(`this CPU lacks ${probe.feature}`);
        }
        expect(native.stop.kind).toBe('trap');
        const emulated = run(unicornEngine, code);
        expect(emulated.stop).toEqual(native.stop);
        expect(observed(probe, emulated.data)).toEqual(observed(probe, native.data));
      });
    }
  });

  it('refuses a program using popcnt (validation failed), which the native engine accepts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'zerovm-unicorn-'));
    const program = join(dir, 'popcnt.nexe');
    // popcnt %rax,%rbx; hlt
    writeFileSync(program, buildNexe('f3480fb8d8f4'));
    const manifest = join(dir, 'popcnt.manifest');
    writeFileSync(
      manifest,
      [
        'Version = 20130611',
        `Program = ${program}`,
        'Timeout = 10',
        'Memory = 33554432, 0',
        'Channel = /dev/null, /dev/stdin, 0, 0, 999, 999, 0, 0',
        'Channel = /dev/null, /dev/stdout, 0, 0, 0, 0, 999, 999',
        'Channel = /dev/null, /dev/stderr, 0, 0, 0, 0, 999, 999',
        '',
      ].join('\n'),
    );
    const emulated = runSession({ manifestPath: manifest, engine: unicornEngine });
    expect([emulated.exitCode, emulated.exitState, emulated.validatorState]).toEqual([8, 'validation failed', 1]);
    if (nativeUnavailable === null) {
      // Natively the program validates and runs into its hlt.
      expect(runSession({ manifestPath: manifest, engine: nativeEngine }).validatorState).toBe(0);
    }
  });

  it('runs sessions on a worker thread (traps, the watchdog, faults)', async () => {
    const source = `
      const { workerData, parentPort } = require('node:worker_threads');
      const addon = require(workerData.addon);
      const info = new Uint32Array(4);
      function run(code, budget) {
        const s = new addon.Session(info);
        s.protect(0x10000, 0x10000, 5);
        s.protect(0x20000, 0x10000, 3);
        s.protect(0x30000, 0x10000, 3);
        s.protect(0xff000000, 0x1000000, 3);
        new Uint8Array(s.memory(0x20000, 0x10000)).fill(0xf4).set(code);
        s.protect(0x20000, 0x10000, 5);
        const stops = [[s.start(0x20000, budget), ...info]];
        if (stops[0][0] === addon.STOP_TRAP) stops.push([s.resume(3, budget), ...info]);
        s.dispose();
        return stops;
      }
      parentPort.postMessage({
        trap: run(workerData.trap, 5000), loop: run(workerData.loop, 100), fault: run(workerData.fault, 5000),
      });`;
    const trap = bundled([]); // mov $0x30100,%edi; trap; hlt at 0x20020, where the resume lands
    const worker = new Worker(source, {
      eval: true,
      workerData: { addon: findUnicornAddon(), trap, loop: new Uint8Array([0xeb, 0xfe]), fault: new Uint8Array([0x31, 0xc9, 0xf7, 0xf1]) },
    });
    const [result] = (await once(worker, 'message')) as [{ trap: number[][]; loop: number[][]; fault: number[][] }];
    await once(worker, 'exit');
    expect(result.trap.map((stop) => stop.slice(0, 3))).toEqual([[1, 0x30100, 0x20020], [2, 0x30100, 0x20020]]);
    expect(result.trap[1]!.slice(3)).toEqual([11, 0x20020]); // hlt: SIGSEGV at the hlt
    expect(result.loop.map((stop) => stop[0])).toEqual([3]);
    expect(result.fault.map((stop) => [stop[0], stop[3], stop[4]])).toEqual([[2, 8, 0x20002]]);
  });
});

describe.skipIf(skipReferenceChecks('unicorn engine tests'))('the probes and left-out instructions, against the original validators', () => {
  it('each probe validated passes NaCl\'s and ZeroVM 2015\'s validators; each one marked unvalidated is refused by one', async () => {
    const judged = await judge(PROBES.map((p) => ({ name: `${p.feature}: ${p.asm}`, code: bundled([...PROLOGUE, p.hex, EPILOGUE]) })));
    const wrong = judged.filter((j, i) => acceptedByBoth(j) !== (PROBES[i]!.unvalidated === undefined)).map(describeJudged);
    expect(wrong).toEqual([]);
  });

  it('each left-out instruction is accepted by what its acceptedBy says: both originals (the session), ncval alone (nacl), or neither', async () => {
    const judged = await judge(LEFT_OUT.map((l) => ({ name: `${l.feature}: ${l.asm}`, code: Buffer.from(l.hex, 'hex') })));
    const verdict = (j: (typeof judged)[number]): ValidationPolicy | null => (acceptedByBoth(j) ? SESSION_POLICY : j.ncval.valid ? 'nacl' : null);
    const wrong = judged.filter((j, i) => verdict(j) !== LEFT_OUT[i]!.acceptedBy).map(describeJudged);
    expect(wrong).toEqual([]);
  });
});
