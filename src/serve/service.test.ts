/**
 * The interpreter lines of scripts (service.ts parseShebang; spec/serving.md,
 * "Scripts and system images"), in every form ZeroCloud read.
 */
import { describe, expect, it } from 'vitest';
import { HttpError, parseShebang } from './service.js';

const images = ['lua', 'tools'];
const parse = (line: string): { program: string; args: string[] } => parseShebang(Buffer.from(`${line}\nprint(1)\n`), images);

describe('script interpreter lines', () => {
  it('read URLs with arguments', () => {
    expect(parse('#!file://lua:bin/lua.nexe -i')).toEqual({ program: 'file://lua:bin/lua.nexe', args: ['-i'] });
    expect(parse('#! swift://~/bin/sh.nexe')).toEqual({ program: 'swift://~/bin/sh.nexe', args: [] });
  });

  it('read #! IMAGE PATH [ARGS], with or without the blank, dropping a leading /', () => {
    expect(parse('#! lua lua.nexe')).toEqual({ program: 'file://lua:lua.nexe', args: [] });
    expect(parse('#!lua /bin/lua.nexe -e x')).toEqual({ program: 'file://lua:bin/lua.nexe', args: ['-e', 'x'] });
    expect(parse('#!  tools\twc.nexe\r')).toEqual({ program: 'file://tools:wc.nexe', args: [] });
  });

  it('read #! /CONTAINER/OBJECT as an object of the account, and #! PATH as a path in the system images', () => {
    expect(parse('#! /bin/python.nexe -u')).toEqual({ program: 'swift://~/bin/python.nexe', args: ['-u'] });
    expect(parse('#! lua.nexe')).toEqual({ program: 'lua.nexe', args: [] });
  });

  it('refuse what names no interpreter, with what to write', () => {
    const bad: [string, RegExp][] = [
      ['print(1)', /must start with a '#!' line/],
      ['#!', /names no interpreter/],
      ['#! http://x/y', /write #!file:\/\/IMAGE:PROGRAM/],
      ['#! python bin/python', /the image 'python', which is not a system image \(this server has lua, tools\)/],
      ['#! /bin', /an absolute path is an object of your account, \/CONTAINER\/OBJECT/],
    ];
    for (const [line, message] of bad) {
      expect(() => parse(line), line).toThrow(message);
      expect(() => parse(line)).toThrow(HttpError);
    }
    expect(() => parseShebang(Buffer.from('#! a b\n'), [])).toThrow(/this server has none/);
  });
});
