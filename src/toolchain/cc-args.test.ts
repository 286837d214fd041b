/**
 * gcc's command-line contract as zerovm cc reads it (cc-args.ts): one test
 * per flag or flag family, each checking what the flag turns into (or the
 * reason it is refused). The end-to-end behaviour of each family is in
 * test/toolchain/cc-flags.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { CcArgsError, expandResponseFiles, kindFromName, parseCcArgs, splitResponseFile } from './cc-args.js';

const parse = (line: string) => parseCcArgs(line.split(' ').filter((w) => w !== ''));
const refusal = (line: string): string => {
  try {
    parse(line);
  } catch (error) {
    if (error instanceof CcArgsError) return error.message;
    throw error;
  }
  throw new Error(`${line} was accepted`);
};

describe('link control', () => {
  it('links crt0 and every default library when nothing says otherwise', () => {
    const a = parse('main.c');
    expect(a.startFiles).toBe(true);
    expect(a.defaultLibraries).toBe('all');
    expect(a.mode).toBe('link');
  });
  it('-nostdlib drops crt0 and the default libraries', () => {
    const a = parse('-nostdlib main.c');
    expect(a.startFiles).toBe(false);
    expect(a.defaultLibraries).toBe('none');
  });
  it('-nostartfiles drops crt0 only', () => {
    const a = parse('-nostartfiles main.c');
    expect(a.startFiles).toBe(false);
    expect(a.defaultLibraries).toBe('all');
  });
  it('-nodefaultlibs drops the libraries only', () => {
    const a = parse('-nodefaultlibs main.c');
    expect(a.startFiles).toBe(true);
    expect(a.defaultLibraries).toBe('none');
  });
  it('-nolibc keeps libgcc, and does not undo -nodefaultlibs', () => {
    expect(parse('-nolibc main.c').defaultLibraries).toBe('no-libc');
    expect(parse('-nodefaultlibs -nolibc main.c').defaultLibraries).toBe('none');
  });
  it('-static and -static-libgcc are accepted without effect (every nexe is static)', () => {
    expect(parse('-static -static-libgcc main.c')).toEqual(parse('main.c'));
  });
  it('-s strips through ld', () => {
    expect(parse('-s main.c').ldFlags).toEqual(['--strip-all']);
  });
  it('-e, --entry and --entry= set the entry symbol', () => {
    expect(parse('-e begin main.c').ldFlags).toEqual(['-e', 'begin']);
    expect(parse('--entry begin main.c').ldFlags).toEqual(['-e', 'begin']);
    expect(parse('--entry=begin main.c').ldFlags).toEqual(['-e', 'begin']);
  });
  it('-T names the linker script, joined or separate; -Ttext and friends go to ld', () => {
    expect(parse('-T my.ld main.c').linkerScript).toBe('my.ld');
    expect(parse('-Tmy.ld main.c').linkerScript).toBe('my.ld');
    expect(parse('main.c').linkerScript).toBeNull();
    expect(parse('-Ttext=0x20000 main.c').ldFlags).toEqual(['-Ttext=0x20000']);
    expect(parse('-Tbss 0x50000 main.c').ldFlags).toEqual(['-Tbss=0x50000']);
  });
  it('-Wl, splits on commas and -Xlinker passes one word, in order', () => {
    expect(parse('-Wl,--defsym,a=1 -Xlinker --gc-sections -Wl,-Map=m.txt main.c').ldFlags).toEqual(['--defsym', 'a=1', '--gc-sections', '-Map=m.txt']);
  });
  it('-u, joined or separate, keeps a symbol undefined for ld', () => {
    expect(parse('-u keep -ukeep2 main.c').ldFlags).toEqual(['-u', 'keep', '-u', 'keep2']);
    expect(parse('-undef main.c').flags).toEqual(['-undef']);
  });
  it('-l and -L, joined or separate', () => {
    const a = parse('-L dir -Lother -l z -lm main.c');
    expect(a.libraryDirs).toEqual(['dir', 'other']);
    expect(a.libraries).toEqual(['z', 'm']);
  });
});

describe('code generation', () => {
  it('-ffreestanding, -fno-builtin and -fno-builtin-FUNCTION reach gcc', () => {
    expect(parse('-ffreestanding -fno-builtin -fno-builtin-memcpy -c x.c').flags).toEqual(['-ffreestanding', '-fno-builtin', '-fno-builtin-memcpy']);
  });
  it('every -g level and DWARF version reaches gcc', () => {
    const levels = ['-g', '-g0', '-g1', '-g2', '-g3', '-ggdb', '-ggdb3', '-gdwarf', '-gdwarf-2', '-gdwarf-3', '-gdwarf-4', '-gdwarf-5', '-gstrict-dwarf'];
    expect(parse(`${levels.join(' ')} -c x.c`).flags).toEqual(levels);
  });
  it('-gsplit-dwarf is refused with a reason', () => {
    expect(refusal('-gsplit-dwarf x.c')).toMatch(/split DWARF/);
  });
  it('-fPIC, -fpic, -fPIE, -fpie, -no-pie are accepted and dropped (the sandbox needs position-dependent code)', () => {
    expect(parse('-fPIC -fpic -fPIE -fpie -no-pie -c x.c').flags).toEqual([]);
  });
  it('-pie and -static-pie are refused: there is no loader to relocate them', () => {
    expect(refusal('-pie x.c')).toMatch(/static, position-dependent/);
    expect(refusal('-static-pie x.c')).toMatch(/static, position-dependent/);
    expect(refusal('-shared x.c')).toMatch(/static, position-dependent/);
  });
  it('-flto in every form is refused, naming the sandboxing pass; -fno-lto is accepted', () => {
    for (const f of ['-flto', '-flto=auto', '-flto=4', '-flto-partition=none']) expect(refusal(`${f} x.c`)).toMatch(/^-flto.*link-time optimisation is not supported.*sandboxing pass/);
    expect(parse('-fno-lto -c x.c').flags).toEqual([]);
  });
  it('-pthread and -lpthread are refused: one thread per session', () => {
    expect(refusal('-pthread x.c')).toMatch(/one thread/);
    expect(refusal('x.c -lpthread')).toMatch(/one thread/);
  });
  it('-m32 is refused, -m64 and -mx32 are the target, other -m flags reach gcc', () => {
    expect(refusal('-m32 x.c')).toMatch(/-mx32/);
    expect(parse('-m64 -mx32 -msse4.2 -mno-red-zone -c x.c').flags).toEqual(['-msse4.2', '-mno-red-zone']);
  });
  it('-nostdinc is remembered (no system headers at all)', () => {
    expect(parse('-nostdinc -c x.c').noStandardIncludes).toBe(true);
  });
  it('-Wa, and -Xassembler go to the assembler', () => {
    expect(parse('-Wa,--noexecstack,--fatal-warnings -Xassembler -W -c x.c').assemblerFlags).toEqual(['--noexecstack', '--fatal-warnings', '-W']);
  });
  it('an unknown option names itself and where the accepted ones are listed', () => {
    expect(refusal('--frobnicate x.c')).toBe('--frobnicate: not a gcc option zerovm cc knows (toolchain/README.md lists what it accepts)');
  });
});

describe('inputs and languages', () => {
  it('takes the language from the name: C, assembly, archives, and anything else for the linker', () => {
    expect(['a.c', 'a.i', 'a.S', 'a.sx', 'a.s', 'a.a', 'a.o', 'a.out', 'lib.so'].map(kindFromName)).toEqual(['c', 'c', 'S', 'S', 's', 'a', 'o', 'o', 'o']);
  });
  it('refuses sources of other languages instead of handing them to ld', () => {
    expect(() => kindFromName('a.cpp')).toThrow(/C and assembly only/);
    expect(() => kindFromName('a.f90')).toThrow(/C and assembly only/);
  });
  it('-x LANG applies to the inputs after it until -x none', () => {
    const a = parse('a.txt -x c b.txt -xassembler c.txt -x assembler-with-cpp d.txt -x none e.c');
    expect(a.inputs.map((i) => [i.path, i.kind, i.explicit])).toEqual([
      ['a.txt', 'o', false],
      ['b.txt', 'c', true],
      ['c.txt', 's', true],
      ['d.txt', 'S', true],
      ['e.c', 'c', false],
    ]);
  });
  it('-x with another language is refused', () => {
    expect(refusal('-x c++ a.cc')).toMatch(/^-x c\+\+: zerovm cc compiles C and assembly only/);
  });
  it('- reads standard input, and needs -x as in gcc', () => {
    expect(parse('-x c -').inputs).toEqual([{ path: '-', kind: 'c', explicit: true }]);
    expect(refusal('-c -')).toMatch(/needs -x c/);
  });
  it('-c, -S, -E: the earliest stop wins, in any order', () => {
    expect(parse('-c x.c').mode).toBe('compile');
    expect(parse('-c -S x.c').mode).toBe('assemble');
    expect(parse('-E -c x.c').mode).toBe('preprocess');
  });
  it('-o joined or separate', () => {
    expect(parse('-o out x.c').output).toBe('out');
    expect(parse('-oout x.c').output).toBe('out');
  });
});

describe('dependency output', () => {
  it('-M and -MM imply -E and reach gcc', () => {
    expect(parse('-M x.c').mode).toBe('preprocess');
    expect(parse('-MM x.c').flags).toEqual(['-MM']);
  });
  it('-MD, -MMD, -MP, -MF, -MT, -MQ reach gcc with their values', () => {
    expect(parse('-MD -MMD -MP -MF x.d -MT x.o -MQ $x -c x.c').flags).toEqual(['-MD', '-MMD', '-MP', '-MF', 'x.d', '-MT', 'x.o', '-MQ', '$x']);
    expect(parse('-MD -c x.c').mode).toBe('compile');
  });
});

describe('queries', () => {
  it.each([
    ['-dumpversion', { name: 'dumpversion' }],
    ['-dumpfullversion', { name: 'dumpfullversion' }],
    ['-dumpmachine', { name: 'dumpmachine' }],
    ['--version', { name: 'version' }],
    ['-print-libgcc-file-name', { name: 'print-libgcc-file-name' }],
    ['-print-search-dirs', { name: 'print-search-dirs' }],
    ['--print-search-dirs', { name: 'print-search-dirs' }],
    ['-print-multi-os-directory', { name: 'print-multi-os-directory' }],
    ['-print-multi-directory', { name: 'print-multi-directory' }],
    ['-print-multi-lib', { name: 'print-multi-lib' }],
    ['-print-multiarch', { name: 'print-multiarch' }],
    ['-print-sysroot', { name: 'print-sysroot' }],
    ['-print-file-name=libc.a', { name: 'print-file-name', value: 'libc.a' }],
    ['-print-prog-name=ld', { name: 'print-prog-name', value: 'ld' }],
    ['--print-libc', { name: 'print-libc' }],
  ])('%s', (flag, query) => {
    expect(parse(`-O2 ${flag}`).query).toEqual(query);
  });
  it('-print-sysroot-headers-suffix is refused as gcc refuses it without one', () => {
    expect(refusal('-print-sysroot-headers-suffix')).toMatch(/not configured/);
  });
  it('-v is remembered, not a query', () => {
    const a = parse('-v x.c');
    expect(a.verbose).toBe(true);
    expect(a.query).toBeNull();
  });
});

describe('response files', () => {
  it('splits words on whitespace, with quotes and backslashes as libiberty does', () => {
    expect(splitResponseFile(`-O2  "a b.c"\n'it''s' x\\ y -D"Q=\\"1\\""\n`)).toEqual(['-O2', 'a b.c', 'its', 'x y', '-DQ="1"']);
    expect(splitResponseFile('""')).toEqual(['']);
  });
  it('expands @file in place, recursively, and leaves an unreadable @word alone', () => {
    const files: Record<string, string> = { args: '-O2 @more -c', more: 'x.c "y z.c"' };
    const read = (p: string): string | null => files[p] ?? null;
    expect(expandResponseFiles(['-g', '@args', '@missing', '@'], read)).toEqual(['-g', '-O2', 'x.c', 'y z.c', '-c', '@missing', '@']);
  });
  it('refuses a response file that includes itself', () => {
    expect(() => expandResponseFiles(['@self'], () => '@self')).toThrow(/nest more than 32/);
  });
});
