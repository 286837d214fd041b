/**
 * Tests of the system manifest reader, checker and writer (manifest.ts).
 *
 * Negative cases are one table, one row per rule: the manifest (as edits
 * of a valid base), the failure kind, the line, the exact message and the
 * exit code the original ZeroVM used. Positive cases check the value read.
 * Properties: formatManifest -> parseManifest is the identity on generated
 * valid manifests; on arbitrary text the reader only ever returns or throws
 * ManifestError (and terminates).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkManifest, exitCodeOf, formatManifest, INT32_MAX, MANIFEST_FAILURES, MANIFEST_LINES_LIMIT, MAX_CHANNELS, ManifestError,
  parseChannelUri, parseManifest, parseManifestInteger, readManifest, STANDARD_CHANNELS,
  type ChannelSource, type Manifest, type ManifestChannel, type ManifestFailureKind,
} from './manifest.js';

const BASE = [
  'Version = 20130611', // 1
  'Program = /bin/prog.nexe', // 2
  'Timeout = 10', // 3
  'Memory = 33554432, 0', // 4
  'Channel = /dev/null, /dev/stdin, 0, 0, 100, 1000, 0, 0', // 5
  'Channel = /tmp/out, /dev/stdout, 0, 0, 0, 0, 100, 1000', // 6
  'Channel = /tmp/err, /dev/stderr, 0, 0, 0, 0, 100, 1000', // 7
];
const text = (lines: readonly string[]): string => `${lines.join('\n')}\n`;
/** BASE with line `n` (1-based) replaced. */
const withLine = (n: number, line: string): string => text(BASE.map((l, i) => (i === n - 1 ? line : l)));
const without = (n: number): string => text(BASE.filter((_, i) => i !== n - 1));
const plus = (...lines: string[]): string => text([...BASE, ...lines]);

function failure(run: () => unknown): ManifestError {
  try {
    run();
  } catch (e) {
    if (e instanceof ManifestError) return e;
    throw e;
  }
  throw new Error('expected a ManifestError');
}

const limits = (gets: bigint, getSize: bigint, puts: bigint, putSize: bigint) => ({ gets, getSize, puts, putSize });
const file = (path: string) => [{ kind: 'file' as const, path }];

describe('exit codes', () => {
  it('maps every failure kind to the errno the original exited with', () => {
    const expected: Record<ManifestFailureKind, number> = {
      'manifest-open': 2, 'manifest-read': 5, 'manifest-too-large': 27, 'invalid-number': 14, 'invalid-version': 14,
      'invalid-memory-token': 14, 'invalid-memory-etag': 14, 'job-path-too-long': 14, 'invalid-channel-tokens': 14,
      'invalid-channel-name': 14, 'relative-channel-path': 14, 'invalid-channel-url': 14, 'malformed-ip': 14,
      'invalid-channel-etag': 14, 'negative-limit': 14, 'keyword-missing': 14, 'keyword-duplicate': 14,
      'program-missing': 2, 'program-malformed': 8, 'validation-failed': 8, 'too-many-channels': 23,
      'not-enough-channels': 14, 'duplicate-alias': 14, 'invalid-channel-type': 14, 'name-server-protocol': 14, 'missing-standard-channels': 14,
      'invalid-memory-size': 12, 'heap-too-small': 12, 'invalid-timeout': 14, 'unwritable': 22,
    };
    for (const kind of Object.keys(MANIFEST_FAILURES) as ManifestFailureKind[]) expect([kind, exitCodeOf(kind)]).toEqual([kind, expected[kind]]);
  });
});

describe('readManifest / parseManifest: values', () => {
  it('reads the base manifest', () => {
    expect(parseManifest(text(BASE))).toEqual({
      version: '20130611',
      program: '/bin/prog.nexe',
      timeout: 10,
      memory: 33554432,
      memoryEtag: false,
      channels: [
        { uri: '/dev/null', sources: file('/dev/null'), alias: '/dev/stdin', type: 0, etag: false, limits: limits(100n, 1000n, 0n, 0n) },
        { uri: '/tmp/out', sources: file('/tmp/out'), alias: '/dev/stdout', type: 0, etag: false, limits: limits(0n, 0n, 100n, 1000n) },
        { uri: '/tmp/err', sources: file('/tmp/err'), alias: '/dev/stderr', type: 0, etag: false, limits: limits(0n, 0n, 100n, 1000n) },
      ],
    });
  });

  it('ignores spaces and tabs around keys and values, and CR before the line end', () => {
    const m = parseManifest(BASE.map((l) => `  ${l.replace(' = ', '\t=\t')}  \r`).join('\n'));
    expect(m.program).toBe('/bin/prog.nexe');
    expect(m.channels[1]?.alias).toBe('/dev/stdout');
  });

  it('ignores unknown keys, lines without "=", blank lines and comments-looking lines', () => {
    const m = parseManifest(text(['# a comment', '', 'Nexe = /old', 'just words', ...BASE, 'SyscallsMax = 13333', '#Channel = /x, /dev/x, 0, 0, 1, 1, 1, 1']));
    expect(m.channels).toHaveLength(3);
  });

  it('keys are case sensitive: "timeout" is an unknown key', () => {
    expect(failure(() => parseManifest(withLine(3, 'timeout = 10'))).message).toBe('Timeout not specified');
  });

  it('ignores a line with two "=" (so the key counts as absent)', () => {
    expect(failure(() => parseManifest(withLine(2, 'Program = /a=b'))).message).toBe('Program not specified');
  });

  it('reads integers in decimal, 0-octal, 0x-hex, with a sign, and an empty number as 0', () => {
    expect(parseManifest(withLine(3, 'Timeout = 010')).timeout).toBe(8);
    expect(parseManifest(withLine(3, 'Timeout = 0x1F')).timeout).toBe(31);
    expect(parseManifest(withLine(3, 'Timeout = 0X1f')).timeout).toBe(31);
    expect(parseManifest(withLine(3, 'Timeout = +7')).timeout).toBe(7);
    expect(parseManifest(withLine(4, 'Memory = 0x2000000, 1')).memory).toBe(0x2000000);
    expect(readManifest(withLine(3, 'Timeout =')).timeout).toBe(0);
    expect(parseManifest(withLine(5, 'Channel = /dev/null, /dev/stdin, , , 1, 1, , ')).channels[0]).toMatchObject({ type: 0, etag: false, limits: limits(1n, 1n, 0n, 0n) });
  });

  it('integer rules match strtoll base 0 within int64', () => {
    expect(parseManifestInteger(' -0x10 ')).toEqual({ ok: true, value: -16n });
    expect(parseManifestInteger('9223372036854775807')).toEqual({ ok: true, value: 9223372036854775807n });
    expect(parseManifestInteger('-9223372036854775808')).toEqual({ ok: true, value: -9223372036854775808n });
    expect(parseManifestInteger('9223372036854775808')).toEqual({ ok: false, rest: '' });
    expect(parseManifestInteger('0777')).toEqual({ ok: true, value: 511n });
    expect(parseManifestInteger('078')).toEqual({ ok: false, rest: '8' });
    expect(parseManifestInteger('0x')).toEqual({ ok: false, rest: 'x' });
    expect(parseManifestInteger('- 5')).toEqual({ ok: false, rest: '- 5' });
    expect(parseManifestInteger('1 2')).toEqual({ ok: false, rest: ' 2' });
    expect(parseManifestInteger('1.5')).toEqual({ ok: false, rest: '.5' });
  });

  it('keeps int64 channel limits exactly', () => {
    const m = parseManifest(withLine(5, 'Channel = /dev/null, /dev/stdin, 3, 1, 9223372036854775807, 0x7fffffffffffffff, 1, 2'));
    expect(m.channels[0]).toMatchObject({ type: 3, etag: true, limits: limits(2n ** 63n - 1n, 2n ** 63n - 1n, 1n, 2n) });
  });

  it('reads the memory etag flag', () => {
    expect(parseManifest(withLine(4, 'Memory = 4294967296, 1'))).toMatchObject({ memory: 4294967296, memoryEtag: true });
  });

  it('keeps channels in manifest order; the standard channels may be anywhere', () => {
    const m = parseManifest(text(['Channel = /a, /dev/a, 3, 0, 1, 1, 1, 1', ...BASE.slice(0, 6), 'Channel = /b, /dev/b, 1, 0, 1, 1, 1, 1', BASE[6] as string]));
    expect(m.channels.map((c) => c.alias)).toEqual(['/dev/a', '/dev/stdin', '/dev/stdout', '/dev/b', '/dev/stderr']);
  });

  it('reads network and multi-source channel uris', () => {
    const m = parseManifest(plus('Channel = tcp:2:, /dev/in, 0, 0, 1, 1, 0, 0', 'Channel = TCP:10.0.0.1:5000, /dev/out, 0, 0, 0, 0, 1, 1', 'Channel = /a ; /b, /dev/ab, 0, 0, 1, 1, 0, 0'));
    expect(m.channels[3]?.sources).toEqual([{ kind: 'network', protocol: 'tcp', host: { kind: 'node', node: 2 }, port: 0 }]);
    expect(m.channels[4]?.sources).toEqual([{ kind: 'network', protocol: 'tcp', host: { kind: 'ipv4', address: '10.0.0.1' }, port: 5000 }]);
    expect(m.channels[4]?.uri).toBe('TCP:10.0.0.1:5000');
    expect(m.channels[5]).toMatchObject({ uri: '/a ; /b', sources: [...file('/a'), ...file('/b')] });
  });

  it('reads Node, NameServer and Job', () => {
    const m = parseManifest(plus('Node = 3', 'NameServer = udp:127.0.0.1:54321', 'Job = /tmp/daemon.sock', 'Channel = tcp:1:0, /dev/net, 0, 0, 1, 1, 0, 0'));
    expect(m.node).toBe(3);
    expect(m.nameServer).toEqual({ uri: 'udp:127.0.0.1:54321', source: { kind: 'network', protocol: 'udp', host: { kind: 'ipv4', address: '127.0.0.1' }, port: 54321 } });
    expect(m.job).toBe('/tmp/daemon.sock');
  });

  it('accepts any Node, and NameServer without Node (the original checked neither)', () => {
    expect(parseManifest(plus('Node = 1')).node).toBe(1);
    expect(parseManifest(plus(`Node = ${INT32_MAX}`)).node).toBe(INT32_MAX);
    expect(parseManifest(plus('Node = 0')).node).toBe(0);
    expect(parseManifest(plus('NameServer = udp:127.0.0.1:54321')).node).toBeUndefined();
  });

  it('reads Timeout, Node, the channel type and the etag flags as C ints: the low 32 bits, signed', () => {
    expect(parseManifest(withLine(3, 'Timeout = 4294967297')).timeout).toBe(1);
    expect(parseManifest(plus('Node = 2147483648')).node).toBe(-2147483648);
    expect(parseManifest(plus('Channel = /x, /dev/x, 4294967297, 4294967297, 1, 1, 0, 0')).channels[3]).toMatchObject({ type: 1, etag: true });
    expect(parseManifest(plus('Channel = /x, /dev/x, 0, 4294967296, 1, 1, 0, 0')).channels[3]).toMatchObject({ etag: false });
    expect(failure(() => parseManifest(withLine(3, 'Timeout = 4294967296'))).message).toBe('invalid timeout 0');
    expect(readManifest(withLine(4, 'Memory = 8589934592, 0')).memory).toBe(8589934592);
  });

  it('accepts Timeout 1 and 2147483647, Memory 1 and 4 GiB', () => {
    expect(parseManifest(withLine(3, 'Timeout = 1')).timeout).toBe(1);
    expect(parseManifest(withLine(3, 'Timeout = 2147483647')).timeout).toBe(2147483647);
    expect(parseManifest(withLine(4, 'Memory = 1, 0')).memory).toBe(1);
    expect(parseManifest(withLine(4, 'Memory = 4294967296, 0')).memory).toBe(4294967296);
  });

  it('accepts a Job value of exactly 108 bytes (raw, blanks included)', () => {
    expect(parseManifest(plus(`Job =${'/'.repeat(108)}`)).job).toBe('/'.repeat(108));
  });

  it('ignores the text after a NUL byte', () => {
    expect(parseManifest(`${text(BASE)}\0Timeout = oops\n`).timeout).toBe(10);
  });

  it('reads only the first 8191 lines; the rest of the file is one more "line"', () => {
    const filler = Array.from({ length: MANIFEST_LINES_LIMIT }, () => 'x');
    const m = parseManifest(text([...BASE, ...filler, 'Channel = /late, /dev/late, 0, 0, 1, 1, 1, 1']));
    expect(m.channels).toHaveLength(3);
    // the 8192nd piece (the rest of the file) still counts when it is a single line
    const lines = [...BASE, ...Array.from({ length: MANIFEST_LINES_LIMIT - 1 - BASE.length }, () => 'x'), 'Channel = /late, /dev/late, 0, 0, 1, 1, 1, 1'];
    expect(parseManifest(text(lines)).channels.map((c) => c.alias)).toContain('/dev/late');
    // ... and swallows the line breaks of what follows it
    const e = failure(() => parseManifest(text([...lines, 'x'])));
    expect(e.message).toBe(`MANIFEST ${MANIFEST_LINES_LIMIT}: invalid numeric value '\nx'`);
  });

  it('readManifest defers the checks that the original made after loading the program', () => {
    const m = readManifest(text(['Version = 20130611', 'Program = /p', 'Timeout = 0', 'Memory = 0, 0', 'Channel = /a, /dev/a, 9, 0, 1, 1, 1, 1', 'Channel = /a, /dev/a, 0, 0, 1, 1, 1, 1', 'Channel = /b, /dev/b, 0, 0, 1, 1, 1, 1']));
    expect(m).toMatchObject({ timeout: 0, memory: 0 });
    expect(failure(() => checkManifest(m)).message).toBe('/dev/a has invalid type 9');
  });
});

interface NegativeCase {
  readonly rule: string;
  readonly text: string;
  readonly kind: ManifestFailureKind;
  readonly line?: number;
  readonly message: string;
}

const NEGATIVE: readonly NegativeCase[] = [
  { rule: 'an empty file', text: '', kind: 'manifest-read', message: 'manifest read error' },
  { rule: 'a file over 512 KiB', text: plus(`# ${'x'.repeat(0x80000)}`), kind: 'manifest-too-large', message: 'manifest file exceeded the limit' },
  { rule: 'another version', text: withLine(1, 'Version = 20140320'), kind: 'invalid-version', line: 1, message: 'MANIFEST 1: invalid manifest version' },
  { rule: 'Version missing', text: without(1), kind: 'keyword-missing', message: 'Version not specified' },
  { rule: 'Program missing', text: without(2), kind: 'keyword-missing', message: 'Program not specified' },
  { rule: 'Timeout missing', text: without(3), kind: 'keyword-missing', message: 'Timeout not specified' },
  { rule: 'Memory missing', text: without(4), kind: 'keyword-missing', message: 'Memory not specified' },
  { rule: 'missing keys reported last keyword first', text: text(BASE.slice(4)), kind: 'keyword-missing', message: 'Timeout not specified' },
  { rule: 'Version twice', text: plus('Version = 20130611'), kind: 'keyword-duplicate', message: 'duplicate Version keyword' },
  { rule: 'Program twice', text: plus('Program = /x'), kind: 'keyword-duplicate', message: 'duplicate Program keyword' },
  { rule: 'Timeout twice', text: plus('Timeout = 5'), kind: 'keyword-duplicate', message: 'duplicate Timeout keyword' },
  { rule: 'Memory twice', text: plus('Memory = 5, 0'), kind: 'keyword-duplicate', message: 'duplicate Memory keyword' },
  { rule: 'Node twice', text: plus('Node = 1', 'Node = 2'), kind: 'keyword-duplicate', message: 'duplicate Node keyword' },
  { rule: 'Job twice', text: plus('Job = /a', 'Job = /b'), kind: 'keyword-duplicate', message: 'duplicate Job keyword' },
  { rule: 'NameServer twice', text: plus('Node = 1', 'NameServer = udp:1.1.1.1:1', 'NameServer = udp:1.1.1.1:2'), kind: 'keyword-duplicate', message: 'duplicate NameServer keyword' },
  { rule: 'a bad value on a repeated key fails on its line first', text: plus('Timeout = x'), kind: 'invalid-number', line: 8, message: "MANIFEST 8: invalid numeric value 'x'" },
  { rule: 'a word for a number', text: withLine(3, 'Timeout = abc'), kind: 'invalid-number', line: 3, message: "MANIFEST 3: invalid numeric value 'abc'" },
  { rule: 'trailing junk after a number', text: withLine(3, 'Timeout = 12abc'), kind: 'invalid-number', line: 3, message: "MANIFEST 3: invalid numeric value 'abc'" },
  { rule: 'an 8 in an octal number', text: withLine(3, 'Timeout = 08'), kind: 'invalid-number', line: 3, message: "MANIFEST 3: invalid numeric value '8'" },
  { rule: 'a bare 0x', text: withLine(3, 'Timeout = 0x'), kind: 'invalid-number', line: 3, message: "MANIFEST 3: invalid numeric value 'x'" },
  { rule: 'a number beyond int64', text: withLine(3, 'Timeout = 99999999999999999999'), kind: 'invalid-number', line: 3, message: "MANIFEST 3: invalid numeric value ''" },
  { rule: 'a lone sign', text: withLine(3, 'Timeout = -'), kind: 'invalid-number', line: 3, message: "MANIFEST 3: invalid numeric value '-'" },
  { rule: 'Timeout 0', text: withLine(3, 'Timeout = 0'), kind: 'invalid-timeout', message: 'invalid timeout 0' },
  { rule: 'Timeout negative', text: withLine(3, 'Timeout = -1'), kind: 'invalid-timeout', message: 'invalid timeout -1' },
  { rule: 'Timeout above int32 (read as a C int: negative)', text: withLine(3, 'Timeout = 2147483648'), kind: 'invalid-timeout', message: 'invalid timeout -2147483648' },
  { rule: 'Memory without its etag', text: withLine(4, 'Memory = 33554432'), kind: 'invalid-memory-token', line: 4, message: 'MANIFEST 4: invalid memory token' },
  { rule: 'Memory etag 2', text: withLine(4, 'Memory = 33554432, 2'), kind: 'invalid-memory-etag', line: 4, message: 'MANIFEST 4: invalid memory etag token' },
  { rule: 'Memory with three fields', text: withLine(4, 'Memory = 33554432, 0, 0'), kind: 'invalid-number', line: 4, message: "MANIFEST 4: invalid numeric value ', 0'" },
  { rule: 'Memory not a number', text: withLine(4, 'Memory = lots, 0'), kind: 'invalid-number', line: 4, message: "MANIFEST 4: invalid numeric value 'lots'" },
  { rule: 'Memory 0', text: withLine(4, 'Memory = 0, 0'), kind: 'invalid-memory-size', message: 'invalid memory size' },
  { rule: 'Memory above 4 GiB', text: withLine(4, 'Memory = 4294967297, 0'), kind: 'invalid-memory-size', message: 'invalid memory size' },
  { rule: 'Channel with 7 fields', text: withLine(5, 'Channel = /dev/null, /dev/stdin, 0, 0, 1, 1, 0'), kind: 'invalid-channel-tokens', line: 5, message: 'MANIFEST 5: invalid channel tokens number' },
  { rule: 'Channel with 9 fields', text: withLine(5, 'Channel = /dev/null, /dev/stdin, 0, 0, 1, 1, 0, 0, 0'), kind: 'invalid-number', line: 5, message: "MANIFEST 5: invalid numeric value ', 0'" },
  { rule: 'a relative channel path', text: withLine(5, 'Channel = dev/null, /dev/stdin, 0, 0, 1, 1, 0, 0'), kind: 'relative-channel-path', line: 5, message: 'MANIFEST 5: only absolute path channels are allowed' },
  { rule: 'an empty channel uri', text: withLine(5, 'Channel = , /dev/stdin, 0, 0, 1, 1, 0, 0'), kind: 'relative-channel-path', line: 5, message: 'MANIFEST 5: only absolute path channels are allowed' },
  { rule: 'an empty source in a multi-source uri', text: withLine(5, 'Channel = /a;, /dev/stdin, 0, 0, 1, 1, 0, 0'), kind: 'relative-channel-path', line: 5, message: 'MANIFEST 5: only absolute path channels are allowed' },
  { rule: "a path with ':'", text: withLine(5, 'Channel = /a:b, /dev/stdin, 0, 0, 1, 1, 0, 0'), kind: 'invalid-channel-name', line: 5, message: 'MANIFEST 5: invalid channel name' },
  { rule: 'an unknown protocol', text: withLine(5, 'Channel = http://x, /dev/stdin, 0, 0, 1, 1, 0, 0'), kind: 'invalid-channel-name', line: 5, message: 'MANIFEST 5: invalid channel name' },
  { rule: 'a network uri without port', text: withLine(5, 'Channel = tcp:1, /dev/stdin, 0, 0, 1, 1, 0, 0'), kind: 'invalid-channel-url', line: 5, message: 'MANIFEST 5: invalid channel url' },
  { rule: 'a port above 65535', text: withLine(5, 'Channel = tcp:1:65536, /dev/stdin, 0, 0, 1, 1, 0, 0'), kind: 'invalid-channel-url', line: 5, message: 'MANIFEST 5: invalid channel url' },
  { rule: 'a node host above 32 bits', text: withLine(5, 'Channel = tcp:4294967296:1, /dev/stdin, 0, 0, 1, 1, 0, 0'), kind: 'invalid-channel-url', line: 5, message: 'MANIFEST 5: invalid channel url' },
  { rule: 'a port that is not a number', text: withLine(5, 'Channel = tcp:1:http, /dev/stdin, 0, 0, 1, 1, 0, 0'), kind: 'invalid-number', line: 5, message: "MANIFEST 5: invalid numeric value 'http'" },
  { rule: 'a malformed IPv4 address', text: withLine(5, 'Channel = tcp:10.0.0:80, /dev/stdin, 0, 0, 1, 1, 0, 0'), kind: 'malformed-ip', line: 5, message: 'MANIFEST 5: malformed ip token' },
  { rule: 'an IPv4 part above 255', text: withLine(5, 'Channel = tcp:10.0.0.256:80, /dev/stdin, 0, 0, 1, 1, 0, 0'), kind: 'malformed-ip', line: 5, message: 'MANIFEST 5: malformed ip token' },
  { rule: 'a channel type that is not a number', text: withLine(5, 'Channel = /dev/null, /dev/stdin, seq, 0, 1, 1, 0, 0'), kind: 'invalid-number', line: 5, message: "MANIFEST 5: invalid numeric value 'seq'" },
  { rule: 'channel etag 2', text: withLine(5, 'Channel = /dev/null, /dev/stdin, 0, 2, 1, 1, 0, 0'), kind: 'invalid-channel-etag', line: 5, message: 'MANIFEST 5: invalid channel numeric token' },
  { rule: 'a negative gets limit', text: withLine(5, 'Channel = /dev/null, /dev/stdin, 0, 0, -1, 1, 0, 0'), kind: 'negative-limit', line: 5, message: 'MANIFEST 5: negative limits for /dev/stdin' },
  { rule: 'a negative put_size limit', text: withLine(6, 'Channel = /tmp/out, /dev/stdout, 0, 0, 0, 0, 1, -0x1'), kind: 'negative-limit', line: 6, message: 'MANIFEST 6: negative limits for /dev/stdout' },
  { rule: 'channel type 4', text: plus('Channel = /x, /dev/x, 4, 0, 1, 1, 1, 1'), kind: 'invalid-channel-type', message: '/dev/x has invalid type 4' },
  { rule: 'channel type -1', text: plus('Channel = /x, /dev/x, -1, 0, 1, 1, 1, 1'), kind: 'invalid-channel-type', message: '/dev/x has invalid type -1' },
  { rule: 'a duplicate alias', text: plus('Channel = /x, /dev/stdin, 0, 0, 1, 1, 0, 0'), kind: 'duplicate-alias', message: '/dev/stdin is already allocated' },
  { rule: '/dev/stdin missing', text: plus('Channel = /x, /dev/x, 0, 0, 1, 1, 0, 0').split('\n').filter((_, i) => i !== 4).join('\n'), kind: 'missing-standard-channels', message: 'missing standard channels in manifest' },
  { rule: '/dev/stderr missing', text: plus('Channel = /x, /dev/x, 0, 0, 1, 1, 0, 0').split('\n').filter((_, i) => i !== 6).join('\n'), kind: 'missing-standard-channels', message: 'missing standard channels in manifest' },
  { rule: 'only two channels', text: without(7), kind: 'not-enough-channels', message: 'not enough channels: 2' },
  { rule: 'no channels at all', text: text(BASE.slice(0, 4)), kind: 'not-enough-channels', message: 'not enough channels: 0' },
  { rule: 'a standard alias in another case', text: withLine(7, 'Channel = /tmp/err, /dev/STDERR, 0, 0, 0, 0, 1, 1'), kind: 'missing-standard-channels', message: 'missing standard channels in manifest' },
  { rule: 'a NameServer that is not a uri', text: plus('Node = 1', 'NameServer = server'), kind: 'relative-channel-path', line: 9, message: 'MANIFEST 9: only absolute path channels are allowed' },
  { rule: 'a tcp NameServer with network channels', text: plus('Node = 1', 'NameServer = tcp:127.0.0.1:1', 'Channel = tcp:2:0, /dev/in, 0, 0, 1, 1, 0, 0'), kind: 'name-server-protocol', message: 'name server only support udp protocol' },
  { rule: 'Node not a number', text: plus('Node = one'), kind: 'invalid-number', line: 8, message: "MANIFEST 8: invalid numeric value 'one'" },
  { rule: 'a Job value over 108 bytes', text: plus(`Job = /${'s'.repeat(107)}`), kind: 'job-path-too-long', line: 8, message: 'MANIFEST 8: too long Job name' },
];

describe('parseManifest: one case per rule', () => {
  it.each(NEGATIVE)('rejects $rule', (c) => {
    const e = failure(() => parseManifest(c.text));
    expect({ kind: e.kind, line: e.line, message: e.message, exitCode: e.exitCode }).toEqual({
      kind: c.kind, line: c.line, message: c.message, exitCode: exitCodeOf(c.kind),
    });
    expect(e.hint.length).toBeGreaterThan(0);
  });

  it('accepts a tcp NameServer when no channel is networked (the original only checked it then)', () => {
    expect(parseManifest(plus('Node = 1', 'NameServer = tcp:127.0.0.1:1')).nameServer?.source).toMatchObject({ protocol: 'tcp' });
  });

  it('allows at most 10914 channels (ENFILE 23 beyond)', () => {
    const base = readManifest(text(BASE));
    const extra = (n: number): ManifestChannel[] => Array.from({ length: n }, (_, i) => ({ ...base.channels[0] as ManifestChannel, alias: `/dev/c${i}` }));
    expect(() => checkManifest({ ...base, channels: [...base.channels, ...extra(MAX_CHANNELS - 3)] })).not.toThrow();
    const e = failure(() => checkManifest({ ...base, channels: [...base.channels, ...extra(MAX_CHANNELS - 2)] }));
    expect([e.kind, e.message, e.exitCode]).toEqual(['too-many-channels', 'channels number reached maximum', 23]);
  });

  it('parseChannelUri reports without a line number', () => {
    const e = failure(() => parseChannelUri('relative'));
    expect([e.kind, e.line, e.message]).toEqual(['relative-channel-path', undefined, 'only absolute path channels are allowed']);
  });
});

describe('formatManifest', () => {
  it('writes a manifest that reads back to the same value', () => {
    const m = parseManifest(plus('Node = 3', 'NameServer = udp:127.0.0.1:54321', 'Job = /tmp/d.sock', 'Channel = TCP:0x2:, /dev/net, 3, 1, 1, 1, 0, 0'));
    const out = formatManifest(m);
    expect(out.split('\n').slice(0, 5)).toEqual(['Version = 20130611', 'Program = /bin/prog.nexe', 'Timeout = 10', 'Memory = 33554432, 0', 'Node = 3']);
    expect(parseManifest(out)).toEqual(m);
  });

  const base = parseManifest(text(BASE));
  const channel0 = base.channels[0] as ManifestChannel;
  const bad: [string, Manifest][] = [
    ['a program with a line break', { ...base, program: '/a\nb' }],
    ['a program with "="', { ...base, program: '/a=b' }],
    ['a program with surrounding blanks', { ...base, program: ' /a' }],
    ['an alias with ","', { ...base, channels: [{ ...channel0, alias: '/dev/a,b' }] }],
    ['a uri with ","', { ...base, channels: [{ ...channel0, uri: '/a,b' }] }],
    ['a negative limit', { ...base, channels: [{ ...channel0, limits: limits(-1n, 0n, 0n, 0n) }] }],
    ['a limit beyond int64', { ...base, channels: [{ ...channel0, limits: limits(2n ** 63n, 0n, 0n, 0n) }] }],
    ['a fractional timeout', { ...base, timeout: 1.5 }],
    ['a Job path of 108 bytes', { ...base, job: `/${'s'.repeat(107)}` }],
    ['too many lines', { ...base, channels: Array.from({ length: MANIFEST_LINES_LIMIT }, () => channel0) }],
  ];
  it.each(bad)('refuses %s', (_name, m) => {
    const e = failure(() => formatManifest(m));
    expect([e.kind, e.exitCode]).toEqual(['unwritable', 22]);
  });
});

// ---------------------------------------------------------------------------
// Properties

const RUNS = Math.max(1, Number(process.env.ZEROVM_PROPERTY_RUNS ?? 300) || 300);

/** Text a manifest field can hold: no blanks at the ends, none of , = ; : newline NUL. */
const fieldText = (maxLength: number) =>
  fc.string({ unit: 'grapheme', maxLength })
    .map((s) => s.replace(/[\s,=;:\0\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]/gu, '_'));

const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.'));
const sourceText = fc.oneof(
  fieldText(20).map((s) => `/${s}`),
  fc.tuple(fc.constantFrom('tcp', 'TCP', 'udp', 'ipc'), fc.oneof(ipv4, fc.nat(0xffffffff).map(String), fc.nat(0xffff).map((n) => `0x${n.toString(16)}`)), fc.nat(65535))
    .map(([p, h, port]) => `${p}:${h}:${port}`),
);
const uriText = fc.array(sourceText, { minLength: 1, maxLength: 3 }).map((parts) => parts.join(';'));
const limit = fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }), fc.constantFrom(0n, 4294967296n, 2n ** 63n - 1n));

const channelArb = (alias: string) =>
  fc.record({ uri: uriText, type: fc.integer({ min: 0, max: 3 }), etag: fc.boolean(), gets: limit, getSize: limit, puts: limit, putSize: limit })
    .map(({ uri, type, etag, gets, getSize, puts, putSize }): ManifestChannel => ({
      uri, sources: parseChannelUri(uri), alias, type, etag, limits: { gets, getSize, puts, putSize },
    }));

const manifestArb: fc.Arbitrary<Manifest> = fc
  .record({
    program: fieldText(40).map((s) => `/${s}`),
    timeout: fc.integer({ min: 1, max: INT32_MAX }),
    memory: fc.integer({ min: 1, max: 2 ** 32 }),
    memoryEtag: fc.boolean(),
    node: fc.option(fc.integer({ min: 1, max: INT32_MAX }), { nil: undefined }),
    nameServer: fc.option(fc.tuple(ipv4, fc.nat(65535)).map(([h, p]) => `udp:${h}:${p}`), { nil: undefined }),
    job: fc.option(fieldText(60).map((s) => `/${s}`).filter((s) => new TextEncoder().encode(s).length <= 107), { nil: undefined }),
    aliases: fc.uniqueArray(fieldText(12).map((s) => `/dev/${s}`), { maxLength: 12 }).map((a) => a.filter((x) => !(STANDARD_CHANNELS as readonly string[]).includes(x))),
    seed: fc.array(fc.nat(), { minLength: 16, maxLength: 16 }),
  })
  .chain((r) => {
    // the standard channels at random places among the others
    const aliases = [...r.aliases];
    STANDARD_CHANNELS.forEach((a, i) => aliases.splice((r.seed[i] as number) % (aliases.length + 1), 0, a));
    return fc.tuple(...aliases.map(channelArb)).map((channels): Manifest => ({
      version: '20130611',
      program: r.program,
      timeout: r.timeout,
      memory: r.memory,
      memoryEtag: r.memoryEtag,
      channels,
      ...(r.node === undefined && r.nameServer === undefined ? {} : { node: r.node ?? 1 }),
      ...(r.nameServer === undefined ? {} : { nameServer: { uri: r.nameServer, source: parseChannelUri(r.nameServer)[0] as ChannelSource } }),
      ...(r.job === undefined ? {} : { job: r.job }),
    }));
  });

/** Lines that look like a manifest, to reach deep into the reader. */
const manifestish = fc.array(
  fc.oneof(
    fc.constantFrom(...BASE, 'Node = 1', 'NameServer = udp:1.2.3.4:5', 'Job = /s', 'Channel = tcp:1:2, /dev/n, 1, 0, 1, 1, 1, 1', '', '=', 'Timeout=', 'Memory = ,', 'Channel = ,,,,,,,'),
    fc.tuple(fc.constantFrom('Version', 'Program', 'Timeout', 'Memory', 'Channel', 'Node', 'NameServer', 'Job', 'x'), fc.string({ maxLength: 30 })).map(([k, v]) => `${k} = ${v}`),
    fc.tuple(fc.constantFrom('Memory', 'Channel', 'Timeout', 'Node'), fc.array(fc.oneof(fc.integer().map(String), fc.constantFrom('0x', '08', '-', '', ' ', '/a', 'tcp:1:', 'udp:x:1', '1.2.3.4')), { maxLength: 9 }))
      .map(([k, v]) => `${k} = ${v.join(',')}`),
    fc.string({ unit: 'binary', maxLength: 40 }),
  ),
  { maxLength: 20 },
);
const manifestText = fc.tuple(manifestish, fc.constantFrom('\n', '\r\n')).map(([lines, eol]) => lines.join(eol));

describe('properties', () => {
  it('formatManifest -> parseManifest is the identity on valid manifests', () => {
    fc.assert(fc.property(manifestArb, (m) => {
      expect(parseManifest(formatManifest(m))).toEqual(m);
    }), { numRuns: RUNS });
  });

  it('on arbitrary text the reader returns or throws ManifestError with a sensible line, and terminates', () => {
    const texts = fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.lorem({ maxCount: 30 }), manifestText,
      fc.tuple(manifestText, fc.lorem({ maxCount: 5 }), manifestText).map((p) => p.join('\n')));
    fc.assert(fc.property(texts, (t) => {
      const started = Date.now();
      try {
        parseManifest(t);
      } catch (e) {
        expect(e).toBeInstanceOf(ManifestError);
        const err = e as ManifestError;
        if (err.line !== undefined) {
          expect(err.line).toBeGreaterThanOrEqual(1);
          expect(err.line).toBeLessThanOrEqual(t.split('\n').length);
          expect(err.message.startsWith(`MANIFEST ${err.line}: `)).toBe(true);
        }
        expect(err.exitCode).toBe(exitCodeOf(err.kind));
      }
      expect(Date.now() - started).toBeLessThan(1000);
    }), { numRuns: RUNS * 3 });
  });
});
