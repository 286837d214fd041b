import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createObserver, formatTrapLine, TraceFileError, Verbosity } from './trace.js';
import { TrapFunction, type TrapArgs } from './trap-io.js';

const args = (fn: number | bigint, ...rest: bigint[]): TrapArgs => {
  const words = [BigInt(fn), 0n, ...rest, 0n, 0n, 0n, 0n].slice(0, 6);
  return words as unknown as TrapArgs;
};

describe('formatTrapLine', () => {
  it('names the function and shows each argument as the trap reads it', () => {
    expect(formatTrapLine(args(TrapFunction.Write, 1n, 0x20040n, 13n, 0n), 13)).toBe('TrapWrite(1, 0x00020040, 13, 0) = 13');
    /* size is int32, offset int64, buffer a full 64-bit address */
    expect(formatTrapLine(args(TrapFunction.Read, 0n, 0x1_0000_0000n, 0xffffffffn, (1n << 64n) - 2n), -14)).toBe(
      'TrapRead(0, 0x100000000, -1, -2) = -14 (EFAULT)',
    );
    expect(formatTrapLine(args(TrapFunction.Jail, 0x50000n, 0x10000n), -22)).toBe('TrapJail(0x00050000, 65536) = -22 (EINVAL)');
  });

  it('shows TrapExit without a result and unknown functions by number', () => {
    expect(formatTrapLine(args(TrapFunction.Exit, 3n), undefined)).toBe('TrapExit(3)');
    expect(formatTrapLine(args(0x1234n), -1)).toBe('Trap#4660() = -1 (EPERM)');
  });
});

describe('createObserver', () => {
  it('is null when neither -v nor -T is given, so the session skips it', () => {
    expect(createObserver({})).toBeNull();
    expect(createObserver({ verbosity: 0 })).toBeNull();
  });

  it('logs only the levels -v asks for, and traps only at level 3', () => {
    const lines: string[] = [];
    const observer = createObserver({ verbosity: 2, writeLog: (line) => lines.push(line) })!;
    expect(observer.wantsTraps).toBe(false);
    observer.log(Verbosity.Stages, 'stage');
    observer.log(Verbosity.Details, 'detail');
    observer.log(Verbosity.Traps, 'too verbose');
    expect(lines).toEqual(['zerovm: stage\n', 'zerovm: detail\n']);
    const all: string[] = [];
    const loud = createObserver({ verbosity: 3, writeLog: (line) => all.push(line) })!;
    expect(loud.wantsTraps).toBe(true);
    loud.trap(args(TrapFunction.Exit, 0n), undefined);
    expect(all).toEqual(['zerovm: TrapExit(0)\n']);
  });

  it('writes every trap line to the trace file, in order, by close()', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'zerovm-trace-')), 'trace');
    const observer = createObserver({ traceFile: file })!;
    expect(observer.wantsTraps).toBe(true);
    for (let i = 0; i < 5000; i++) observer.trap(args(TrapFunction.Write, 1n, 0x30000n, 1n, 0n), 1);
    observer.trap(args(TrapFunction.Exit, 0n), undefined);
    observer.close();
    const lines = readFileSync(file, 'utf8').split('\n');
    expect(lines.length).toBe(5002);
    expect(lines[4999]).toBe('TrapWrite(1, 0x00030000, 1, 0) = 1');
    expect(lines[5000]).toBe('TrapExit(0)');
    expect(lines[5001]).toBe('');
  });

  it('refuses a trace file it cannot create with a message naming it', () => {
    expect(() => createObserver({ traceFile: '/nonexistent/dir/trace' })).toThrow(TraceFileError);
    expect(() => createObserver({ traceFile: '/nonexistent/dir/trace' })).toThrow(/cannot create the trace file \/nonexistent\/dir\/trace/);
  });
});
