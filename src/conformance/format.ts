/**
 * The conformance case format, version 1 (documented in
 * conformance/README.md): the typed form of a case file, and
 * `parseCaseFile`, which checks a parsed JSON value field by field and
 * names the first problem (file, case id, field).
 *
 * Pipeline position: loader.ts reads the JSON files -> here -> typed cases
 * -> session-case.ts and validator-case.ts run them.
 *
 * This module (like the whole of src/conformance/) imports nothing but
 * Node built-ins, so the runner can be packaged on its own
 * (conformance/package.json) and drive any implementation.
 *
 * Choices a reader may question:
 * - Expected report fields are written the way the report prints them
 *   (`"accounting": "* * 7 288 9 279 0 0 0 0"`, `"etags": "/dev/stdout
 *   <sha1> /dev/memory *"`) with `*` for "any value of the field's class";
 *   a case reads like the output it expects.
 * - Every path in a case file is relative to the suite root (the folder
 *   holding cases/ and programs/), so a case means the same thing wherever
 *   its file sits.
 */

export const FORMAT_VERSION = 'zerovm-conformance/1';

/**
 * `core`: the contract. `zerovm-ts`: this project's documented extensions.
 * `native-cpu`: extensions that only an engine running the code directly
 * on an x86-64 CPU reproduces (the #GP of a misaligned `movdqa`), skipped
 * for an emulating engine.
 */
export type Profile = 'core' | 'zerovm-ts' | 'native-cpu';
export const PROFILES: readonly Profile[] = ['core', 'zerovm-ts', 'native-cpu'];

/** One trap call of the driver program's script: the function word and up to four arguments, each a uint64 (two's complement for negative values). */
export interface TrapRecord {
  readonly words: readonly [bigint, bigint, bigint, bigint, bigint, bigint];
}

/** Content of a file the runner creates in the case's temporary folder before the run. */
export type FileSource =
  | { readonly kind: 'bytes'; readonly bytes: Uint8Array }
  | { readonly kind: 'fill'; readonly byte: number; readonly size: number }
  | { readonly kind: 'path'; readonly path: string }
  | { readonly kind: 'directory' };

/** What a file must hold after the run. */
export type FileExpect =
  | { readonly kind: 'bytes'; readonly bytes: Uint8Array; readonly text: boolean }
  | { readonly kind: 'sha1'; readonly sha1: string; readonly size: number | undefined }
  | { readonly kind: 'size'; readonly size: number }
  | { readonly kind: 'absent' };

/**
 * The report's exit state. `exact`: the text, optionally after a logger
 * prefix "<word> <digits>: " (the original's failed checks carried one).
 * The classes accept any wording of their kind; `reference` is the wording
 * of this project's implementation, compared in strict mode only.
 */
export type ExitStateExpect =
  | { readonly kind: 'exact'; readonly text: string }
  | { readonly kind: 'signal'; readonly signal: number; readonly reference: string | undefined }
  | { readonly kind: 'timeout'; readonly reference: string | undefined }
  | { readonly kind: 'failure'; readonly reference: string | undefined };

export interface ReportExpect {
  readonly validatorState?: number;
  readonly daemonState?: number;
  readonly userReturnCode?: number;
  /** "disable", or "<alias> <sha1|*> ..." pairs. */
  readonly etags?: string;
  /** Ten space-separated tokens; `*` matches anything of the field's class. */
  readonly accounting?: string;
  readonly exitState?: ExitStateExpect;
}

/** One line of a manifest template: a text, or a text repeated with {i} = 0..count-1. */
export type ManifestLine = { readonly text: string } | { readonly repeat: number; readonly text: string };

interface CaseBase {
  /** Unique inside its area; letters, digits, '-', '_' and '.'. */
  readonly id: string;
  readonly area: string;
  readonly title: string;
  /** The spec section(s) the case checks, e.g. "runtime.md#trap". */
  readonly spec: string;
  readonly profile: Profile;
  /** The case file, relative to the suite root. */
  readonly file: string;
}

export interface SessionCase extends CaseBase {
  readonly kind: 'session';
  /**
   * Why the original ZeroVM 2015 does not pass this case (a crash or
   * nonsense of the original that zerovm-ts does not copy, spec/runtime.md
   * "Where we differ"); undefined for a case the original passes. Another
   * implementation's failure of such a case is reported as a known
   * deviation of ZeroVM 2015, not as a failure.
   */
  readonly deviation: string | undefined;
  /** The program, relative to the suite root; {program} in the manifest. */
  readonly program: string | undefined;
  /** Options of the original's command line (-s, -F, -t 1, -P) placed before the manifest. */
  readonly options: readonly string[];
  /** null: no manifest file is written (the manifest path names a missing file). */
  readonly manifest: readonly ManifestLine[] | null;
  readonly files: ReadonlyMap<string, FileSource>;
  /** Runs of the same case; with 2 or more, every run must give the same outputs and report (timings aside). */
  readonly runs: number;
  readonly expect: {
    readonly exitCode: number;
    readonly report: ReportExpect | undefined;
    /** The whole of stdout, exactly (a report mode that prints none: ""). */
    readonly stdout: string | undefined;
    readonly files: ReadonlyMap<string, FileExpect>;
  };
}

/**
 * `nacl`: Native Client's rules; `zerovm`: what ZeroVM 2015's own validator
 * accepted; `deterministic`: zerovm-ts sessions' rules (ZeroVM 2015's, and
 * `cpuid` refused because its answer depends on the machine).
 */
export type ValidationPolicyName = 'nacl' | 'deterministic' | 'zerovm';
export const VALIDATION_POLICIES: readonly ValidationPolicyName[] = ['nacl', 'deterministic', 'zerovm'];

export interface ValidatorCase extends CaseBase {
  readonly kind: 'validator';
  /**
   * The code region, exactly: whole 32-byte bundles under `nacl` (NaCl
   * validates whole bundles); any length, even none, under `zerovm` and
   * `deterministic` (a region is exactly its bytes).
   */
  readonly code: Uint8Array;
  readonly base: number;
  readonly policy: ValidationPolicyName;
  /** CPU features in `zerovm validate --features` syntax; undefined = every feature. */
  readonly features: string | undefined;
  /**
   * Why the reference validator of the case's policy (NaCl's for `nacl`,
   * ZeroVM 2015's for `zerovm` and `deterministic`) gives the other
   * verdict: a deviation of this project (spec/validator.md "Where we
   * differ"), or `cpuid` for `deterministic`; undefined when it agrees.
   * Another implementation's failure of such a case is reported as a known
   * deviation of that validator, not as a failure.
   */
  readonly deviation: string | undefined;
  readonly expect: {
    readonly valid: boolean;
    /** "offset:rule-id", sorted. */
    readonly errors: readonly string[];
  };
}

export type ConformanceCase = SessionCase | ValidatorCase;

/** A case file that does not follow the format: the message names the file, the case and the field. */
export class CaseFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CaseFormatError';
  }
}

/* ------------------------------------------------------------------------ */
/* Checking helpers                                                           */
/* ------------------------------------------------------------------------ */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

class Where {
  constructor(private readonly path: string) {}

  at(field: string | number): Where {
    return new Where(typeof field === 'number' ? `${this.path}[${field}]` : `${this.path}.${field}`);
  }

  fail(message: string): never {
    throw new CaseFormatError(`${this.path}: ${message}`);
  }

  object(value: Json | undefined, allowed: readonly string[]): JsonObject {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return this.fail('expected an object');
    for (const key of Object.keys(value)) if (!allowed.includes(key)) this.at(key).fail(`unknown field (known: ${allowed.join(', ')})`);
    return value;
  }

  /** An object whose keys are free (file names). */
  record(value: Json | undefined): JsonObject {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return this.fail('expected an object');
    return value;
  }

  array(value: Json | undefined): Json[] {
    if (!Array.isArray(value)) return this.fail('expected an array');
    return value;
  }

  string(value: Json | undefined): string {
    if (typeof value !== 'string') return this.fail('expected a string');
    return value;
  }

  integer(value: Json | undefined, min = -Infinity, max = Infinity): number {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
      return this.fail(`expected a whole number${min > -Infinity ? ` from ${min}` : ''}${max < Infinity ? ` to ${max}` : ''}`);
    }
    return value;
  }

  boolean(value: Json | undefined): boolean {
    if (typeof value !== 'boolean') return this.fail('expected true or false');
    return value;
  }

  hex(value: Json | undefined): Uint8Array {
    return parseHexBytes(this.string(value), (message) => this.fail(message));
  }
}

/** Hex bytes: pairs of hex digits, white space anywhere between pairs. */
export function parseHexBytes(text: string, fail: (message: string) => never): Uint8Array {
  const compact = text.replace(/\s+/g, '');
  if (!/^([0-9a-fA-F]{2})*$/.test(compact)) return fail('expected hex bytes (pairs of hex digits)');
  return Uint8Array.from(Buffer.from(compact, 'hex'));
}

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const SHA1_PATTERN = /^[0-9a-f]{40}$/;

/** A number as a uint64: a safe integer, or a decimal / 0x string, possibly negative (two's complement). */
function uint64(value: Json | undefined, where: Where): bigint {
  let n: bigint;
  if (typeof value === 'number' && Number.isSafeInteger(value)) n = BigInt(value);
  else if (typeof value === 'string' && /^-?(0x[0-9a-fA-F]+|[0-9]+)$/.test(value)) {
    const negative = value.startsWith('-');
    const digits = negative ? value.slice(1) : value;
    n = negative ? -BigInt(digits) : BigInt(digits);
  } else return where.fail('expected a whole number or a decimal/0x string');
  if (n < -(2n ** 63n) || n >= 2n ** 64n) return where.fail('outside the 64-bit range');
  return BigInt.asUintN(64, n);
}

/** Trap function names the driver scripts may use instead of numbers ("Call" and "Trap" are the driver's own pseudo-functions). */
export const TRAP_WORDS: Readonly<Record<string, bigint>> = {
  Read: 0x64616552n,
  Write: 0x74697257n,
  Jail: 0x6c69614an,
  Unjail: 0x6c6a6e55n,
  Exit: 0x74697845n,
  Fork: 0x6b726f46n,
  Call: 0x6c6c6143n,
  Trap: 0x70617254n,
};

function trapRecord(value: Json | undefined, where: Where): TrapRecord {
  const items = where.array(value);
  if (items.length < 1 || items.length > 5) where.fail('a trap record is [function, arg0?, arg1?, arg2?, arg3?]');
  const head = items[0];
  const fn = typeof head === 'string' && TRAP_WORDS[head] !== undefined ? TRAP_WORDS[head] : uint64(head, where.at(0));
  const args = [0, 1, 2, 3].map((i) => (items[i + 1] === undefined ? 0n : uint64(items[i + 1], where.at(i + 1))));
  return { words: [fn, 0n, args[0] as bigint, args[1] as bigint, args[2] as bigint, args[3] as bigint] };
}

/** The bytes of a trap script: one 48-byte little-endian record per trap. */
export function encodeTrapScript(records: readonly TrapRecord[]): Uint8Array {
  const bytes = new Uint8Array(48 * records.length);
  const view = new DataView(bytes.buffer);
  records.forEach((record, i) => record.words.forEach((word, k) => view.setBigUint64(i * 48 + k * 8, word, true)));
  return bytes;
}

function textOf(object: JsonObject, where: Where): string | undefined {
  if (object.text !== undefined) return where.at('text').string(object.text);
  if (object.lines !== undefined) {
    const lines = where.at('lines').array(object.lines).map((line, i) => where.at('lines').at(i).string(line));
    return lines.map((line) => `${line}\n`).join('');
  }
  return undefined;
}

function fileSource(value: Json | undefined, where: Where): FileSource {
  const object = where.object(value, ['text', 'lines', 'hex', 'traps', 'fill', 'size', 'path', 'directory']);
  const forms = ['text', 'lines', 'hex', 'traps', 'path', 'directory'].filter((key) => object[key] !== undefined);
  if (forms.length > 1 || (forms.length === 0 && object.fill === undefined)) {
    where.fail('give one of text, lines, hex, traps (each optionally padded to size with fill), fill with size, path, directory');
  }
  if (object.path !== undefined) return { kind: 'path', path: where.at('path').string(object.path) };
  if (object.directory !== undefined) {
    if (where.at('directory').boolean(object.directory) !== true) where.at('directory').fail('must be true');
    return { kind: 'directory' };
  }
  let content: Uint8Array = new Uint8Array(0);
  const text = textOf(object, where);
  if (text !== undefined) content = new TextEncoder().encode(text);
  else if (object.hex !== undefined) content = where.at('hex').hex(object.hex);
  else if (object.traps !== undefined) {
    const records = where.at('traps').array(object.traps).map((r, i) => trapRecord(r, where.at('traps').at(i)));
    content = encodeTrapScript(records);
  }
  if (object.size === undefined) {
    if (object.fill !== undefined) where.at('fill').fail('fill needs a size');
    return { kind: 'bytes', bytes: content };
  }
  const size = where.at('size').integer(object.size, 0, 2 ** 31);
  if (content.length > size) where.at('size').fail(`the content is ${content.length} bytes, more than size`);
  let byte = 0;
  if (object.fill !== undefined) {
    const fill = where.at('fill').hex(object.fill);
    if (fill.length !== 1) where.at('fill').fail('expected one hex byte');
    byte = fill[0] as number;
  }
  if (content.length === 0) return { kind: 'fill', byte, size };
  const bytes = new Uint8Array(size).fill(byte);
  bytes.set(content);
  return { kind: 'bytes', bytes };
}

function fileExpect(value: Json | undefined, where: Where): FileExpect {
  const object = where.object(value, ['text', 'lines', 'hex', 'sha1', 'size', 'absent']);
  const text = textOf(object, where);
  if (text !== undefined) return { kind: 'bytes', bytes: new TextEncoder().encode(text), text: true };
  if (object.hex !== undefined) return { kind: 'bytes', bytes: where.at('hex').hex(object.hex), text: false };
  if (object.sha1 !== undefined) {
    const sha1 = where.at('sha1').string(object.sha1);
    if (!SHA1_PATTERN.test(sha1)) where.at('sha1').fail('expected 40 lower-case hex digits');
    return { kind: 'sha1', sha1, size: object.size === undefined ? undefined : where.at('size').integer(object.size, 0) };
  }
  if (object.size !== undefined) return { kind: 'size', size: where.at('size').integer(object.size, 0) };
  if (object.absent === true) return { kind: 'absent' };
  return where.fail('give one of text, lines, hex, sha1 (and size), size, absent: true');
}

function exitStateExpect(value: Json | undefined, where: Where): ExitStateExpect {
  if (typeof value === 'string') return { kind: 'exact', text: value };
  const object = where.object(value, ['class', 'signal', 'reference']);
  const reference = object.reference === undefined ? undefined : where.at('reference').string(object.reference);
  switch (object.class) {
    case 'signal':
      return { kind: 'signal', signal: where.at('signal').integer(object.signal, 1, 64), reference };
    case 'timeout':
      return { kind: 'timeout', reference };
    case 'failure':
      return { kind: 'failure', reference };
    default:
      return where.at('class').fail('expected "signal", "timeout" or "failure"');
  }
}

function reportExpect(value: Json | undefined, where: Where): ReportExpect {
  const object = where.object(value, ['validatorState', 'daemonState', 'userReturnCode', 'etags', 'accounting', 'exitState']);
  const report: {
    validatorState?: number;
    daemonState?: number;
    userReturnCode?: number;
    etags?: string;
    accounting?: string;
    exitState?: ExitStateExpect;
  } = {};
  if (object.validatorState !== undefined) report.validatorState = where.at('validatorState').integer(object.validatorState, 0, 2);
  if (object.daemonState !== undefined) report.daemonState = where.at('daemonState').integer(object.daemonState, 0, 1);
  if (object.userReturnCode !== undefined) report.userReturnCode = where.at('userReturnCode').integer(object.userReturnCode, -(2 ** 31), 2 ** 31 - 1);
  if (object.etags !== undefined) {
    const etags = where.at('etags').string(object.etags);
    const tokens = etags.split(' ');
    const pairsOk = tokens.length % 2 === 0 && tokens.every((t, i) => (i % 2 === 0 ? t.length > 0 : t === '*' || SHA1_PATTERN.test(t)));
    if (etags !== 'disable' && !pairsOk) where.at('etags').fail('expected "disable" or "<alias> <sha1 or *>" pairs separated by single spaces');
    report.etags = etags;
  }
  if (object.accounting !== undefined) {
    const accounting = where.at('accounting').string(object.accounting);
    if (!/^(\S+ ){9}\S+$/.test(accounting)) where.at('accounting').fail('expected ten tokens separated by single spaces');
    report.accounting = accounting;
  }
  if (object.exitState !== undefined) report.exitState = exitStateExpect(object.exitState, where.at('exitState'));
  return report;
}

function manifestLines(value: Json | undefined, where: Where): ManifestLine[] | null {
  if (value === null) return null;
  return where.array(value).map((item, i) => {
    if (typeof item === 'string') return { text: item };
    const object = where.at(i).object(item, ['repeat', 'text']);
    return { repeat: where.at(i).at('repeat').integer(object.repeat, 0, 1_000_000), text: where.at(i).at('text').string(object.text) };
  });
}

function fileName(name: string, where: Where): string {
  if (name.length === 0 || name.startsWith('/') || name.split('/').some((part) => part === '..' || part === '' || part === '.')) {
    where.fail('file names are relative paths inside the case folder (no "..", no leading "/")');
  }
  return name;
}

/** A case's `deviation`: a reason, never blank. */
function deviationOf(object: JsonObject, where: Where, what: string): string | undefined {
  if (object.deviation === undefined) return undefined;
  const deviation = where.at('deviation').string(object.deviation);
  if (deviation.trim().length === 0) where.at('deviation').fail(`say why ${what} does not pass the case`);
  return deviation;
}

function sessionCase(object: JsonObject, base: CaseBase, where: Where): SessionCase {
  const files = new Map<string, FileSource>();
  if (object.files !== undefined) {
    for (const [name, source] of Object.entries(where.at('files').record(object.files))) {
      files.set(fileName(name, where.at('files').at(name)), fileSource(source, where.at('files').at(name)));
    }
  }
  const expectObject = where.at('expect').object(object.expect, ['exitCode', 'report', 'stdout', 'files']);
  const expectedFiles = new Map<string, FileExpect>();
  if (expectObject.files !== undefined) {
    const w = where.at('expect').at('files');
    for (const [name, expectation] of Object.entries(w.record(expectObject.files))) expectedFiles.set(fileName(name, w.at(name)), fileExpect(expectation, w.at(name)));
  }
  const options = object.options === undefined ? [] : where.at('options').array(object.options).map((o, i) => where.at('options').at(i).string(o));
  const program = object.program === undefined ? undefined : where.at('program').string(object.program);
  const manifest = manifestLines(object.manifest, where.at('manifest'));
  if (manifest === null && program !== undefined) where.at('program').fail('a case without a manifest runs no program');
  const deviation = deviationOf(object, where, 'the original');
  return {
    ...base,
    kind: 'session',
    deviation,
    program,
    options,
    manifest,
    files,
    runs: object.runs === undefined ? 1 : where.at('runs').integer(object.runs, 1, 10),
    expect: {
      exitCode: where.at('expect').at('exitCode').integer(expectObject.exitCode, 0, 255),
      report: expectObject.report === undefined ? undefined : reportExpect(expectObject.report, where.at('expect').at('report')),
      stdout: expectObject.stdout === undefined ? undefined : where.at('expect').at('stdout').string(expectObject.stdout),
      files: expectedFiles,
    },
  };
}

const RULE_ERROR = /^\d+:[a-z0-9-]+$/;

function validatorCase(object: JsonObject, base: CaseBase, where: Where): ValidatorCase {
  const code = where.at('code').hex(object.code);
  const policyText = object.policy === undefined ? 'nacl' : where.at('policy').string(object.policy);
  if (!(VALIDATION_POLICIES as readonly string[]).includes(policyText)) where.at('policy').fail(`expected one of ${VALIDATION_POLICIES.map((p) => `"${p}"`).join(', ')}`);
  const policy = policyText as ValidationPolicyName;
  /* NaCl validates whole bundles; the zerovm and deterministic policies take a region as its bytes, the empty one included */
  if (policy === 'nacl' && (code.length === 0 || code.length % 32 !== 0)) where.at('code').fail('a nacl region must be whole 32-byte bundles');
  const expectObject = where.at('expect').object(object.expect, ['valid', 'errors']);
  const errors = where.at('expect').at('errors').array(expectObject.errors).map((e, i) => where.at('expect').at('errors').at(i).string(e));
  for (const [i, e] of errors.entries()) if (!RULE_ERROR.test(e)) where.at('expect').at('errors').at(i).fail('expected "offset:rule-id"');
  const valid = where.at('expect').at('valid').boolean(expectObject.valid);
  if (valid !== (errors.length === 0)) where.at('expect').fail('a valid region has no errors, an invalid one at least one');
  return {
    ...base,
    kind: 'validator',
    code,
    base: object.base === undefined ? 0 : where.at('base').integer(object.base, 0, 2 ** 32 - 1),
    policy,
    features: object.features === undefined ? undefined : where.at('features').string(object.features),
    deviation: deviationOf(object, where, `the ${policy} policy's reference validator`),
    expect: { valid, errors: [...errors].sort() },
  };
}

const SESSION_FIELDS = ['kind', 'id', 'title', 'spec', 'profile', 'deviation', 'program', 'options', 'manifest', 'files', 'runs', 'expect'];
const VALIDATOR_FIELDS = ['kind', 'id', 'title', 'spec', 'profile', 'code', 'base', 'policy', 'features', 'deviation', 'expect'];

/**
 * Checks one parsed case file. `area` is the name of the folder it sits in
 * (cases/<area>/), `file` its path relative to the suite root. Throws
 * CaseFormatError naming the first problem.
 */
export function parseCaseFile(value: unknown, area: string, file: string): ConformanceCase[] {
  const where = new Where(file);
  const top = where.object(value as Json, ['format', 'area', 'title', 'spec', 'profile', 'cases']);
  if (top.format !== FORMAT_VERSION) where.at('format').fail(`expected "${FORMAT_VERSION}" (this runner reads version 1 of the format)`);
  if (top.area !== area) where.at('area').fail(`must be "${area}", the name of the folder the file is in`);
  const defaultSpec = top.spec === undefined ? undefined : where.at('spec').string(top.spec);
  const defaultProfile = top.profile === undefined ? 'core' : where.at('profile').string(top.profile);
  if (top.title !== undefined) where.at('title').string(top.title);
  const seen = new Set<string>();
  return where.at('cases').array(top.cases).map((item, index) => {
    const probe = where.at('cases').at(index).object(item, [...new Set([...SESSION_FIELDS, ...VALIDATOR_FIELDS])]);
    const id = where.at('cases').at(index).at('id').string(probe.id);
    const w = new Where(`${file} case ${id}`);
    if (!ID_PATTERN.test(id)) w.at('id').fail('use letters, digits, ".", "-" and "_"');
    if (seen.has(id)) w.at('id').fail('duplicate id in this file');
    seen.add(id);
    const kind = probe.kind === undefined ? 'session' : w.at('kind').string(probe.kind);
    if (kind !== 'session' && kind !== 'validator') w.at('kind').fail('expected "session" or "validator"');
    const object = w.object(item, kind === 'session' ? SESSION_FIELDS : VALIDATOR_FIELDS);
    const spec = object.spec === undefined ? defaultSpec : w.at('spec').string(object.spec);
    if (spec === undefined) return w.at('spec').fail('every case names the spec section it checks (here or at the top of the file)');
    const profile = object.profile === undefined ? defaultProfile : w.at('profile').string(object.profile);
    if (!(PROFILES as readonly string[]).includes(profile)) w.at('profile').fail(`expected one of ${PROFILES.join(', ')}`);
    const base: CaseBase = { id, area, title: w.at('title').string(object.title), spec, profile: profile as Profile, file };
    return kind === 'session' ? sessionCase(object, base, w) : validatorCase(object, base, w);
  });
}
