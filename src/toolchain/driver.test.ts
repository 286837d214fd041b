/**
 * forIntegratedAssembler (driver.ts): gcc's DWARF directives in the form
 * clang-14's assembler takes. The end-to-end check (gcc -g assembly through
 * `zerovm cc -c`, then addr2line) is in test/toolchain/cc-flags.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { forIntegratedAssembler } from './driver.js';

describe('forIntegratedAssembler', () => {
  it('drops the DWARF 5 root file and hands its directory to the assembler', () => {
    const r = forIntegratedAssembler('\t.file\t"a.c"\n\t.file 0 "/src/dir" "/src/dir/a.c"\n\t.file 1 "/src/dir/a.c"\n\t.loc 1 2 3\n');
    expect(r.text).toBe('\t.file\t"a.c"\n\n\t.file 1 "/src/dir/a.c"\n\t.loc 1 2 3\n');
    expect(r.compilationDir).toBe('/src/dir');
    expect(r.lineTable).toBe(true);
  });
  it('keeps an md5 form out and unescapes the directory', () => {
    const r = forIntegratedAssembler('\t.file 0 "/a \\"b\\"" "x.c" md5 0x0123456789abcdef0123456789abcdef\n');
    expect(r.text).toBe('\n');
    expect(r.compilationDir).toBe('/a "b"');
    expect(r.lineTable).toBe(false);
  });
  it('drops .loc views and defines each view symbol as view 0', () => {
    const r = forIntegratedAssembler('\t.loc 1 1 18 view -0\n\t.loc 1 1 20 view .LVU1\n\t.loc 1 1 29 is_stmt 0 view .LVU2\n\t.uleb128 .LVU2\n');
    expect(r.text).toBe('\t.loc 1 1 18\n\t.loc 1 1 20\n\t.loc 1 1 29 is_stmt 0\n\t.uleb128 .LVU2\n\n\t.set .LVU1, 0\n\t.set .LVU2, 0\n');
    expect(r.compilationDir).toBeNull();
    expect(r.lineTable).toBe(true);
  });
  it('leaves assembly without them alone', () => {
    const text = '\t.text\nf:\n\tret\n\t.file 1 "a.c"\n';
    expect(forIntegratedAssembler(text)).toEqual({ text, compilationDir: null, lineTable: false });
  });
});
