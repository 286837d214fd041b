/**
 * `zerovm ar` and `zerovm ranlib`: the host's binutils, with the checks a
 * nexe's archive needs (src/toolchain/archive.ts): every object put in (or
 * indexed) must be one `zerovm cc -c` made, so that a host-compiled object
 * is refused where it is added, with its name, instead of failing the
 * validator at the final link. Archives are written deterministically
 * (ar's `D`: zero times, owners and modes, as `zerovm bundle` does) unless
 * the user asks for `U`. Everything else is GNU ar's own command line and
 * behaviour (toolchain/README.md, "Archives and configure").
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { archiveMembers, objectProblem } from '../toolchain/archive.js';
import { findTools } from '../toolchain/driver.js';
import { CliError } from './args.js';

/** ar's options that take the next word as their value. */
const AR_VALUE_OPTIONS = new Set(['--plugin', '--target', '--output']);
/** Operations that write the archive: D (deterministic) applies to them. */
const WRITES = /[dmqrs]/;

interface ArCommand {
  /** The operation: one of d, m, p, q, r, s, t, x; '' for --version/--help. */
  readonly operation: string;
  /** Everything before the key (long options, -X32_64), as given. */
  readonly leading: readonly string[];
  /** The operation and modifiers, without a leading '-'; '' for --version/--help. */
  readonly key: string;
  /** relpos / count words that some modifiers take, as given. */
  readonly positional: readonly string[];
  readonly archive: string | null;
  readonly members: readonly string[];
}

/** GNU ar's command line: `[--opt...] [-]KEY [relpos] [count] ARCHIVE [MEMBER...]`. */
export function parseArCommand(argv: readonly string[]): ArCommand {
  const leading: string[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--version' || a === '--help' || a === '-V') return { operation: '', leading: [...argv], key: '', positional: [], archive: null, members: [] };
    if (AR_VALUE_OPTIONS.has(a)) {
      leading.push(a, argv[++i] ?? '');
      continue;
    }
    if (a.startsWith('--') || a === '-X32_64' || a.startsWith('@')) {
      leading.push(a);
      continue;
    }
    break;
  }
  const keyWord = argv[i++];
  if (keyWord === undefined) throw new CliError('no operation: usage `zerovm ar [-]{d|m|p|q|r|s|t|x}[modifiers] ARCHIVE [MEMBER...]` (GNU ar)');
  const key = keyWord.replace(/^-/, '');
  // `s` is a modifier (write the index) beside another operation, and the operation alone.
  const others = key.replace(/[^dmpqrtx]/g, '');
  const operations = others === '' ? key.replace(/[^s]/g, '').slice(0, 1) : others;
  if (operations.length !== 1) throw new CliError(`'${keyWord}': name exactly one operation of d, m, p, q, r, s, t, x (GNU ar)`);
  // a, b and i take the member to insert at; N takes a count.
  const extra = key.replace(/[^abiN]/g, '').length;
  const positional = argv.slice(i, i + extra);
  i += extra;
  const archive = argv[i++] ?? null;
  if (archive === null) throw new CliError(`'${keyWord}' needs an archive name`);
  return { operation: operations, leading, key, positional, archive, members: argv.slice(i) };
}

/** The reason `path` (an object, or an archive whose members are checked) cannot go into a nexe's archive, or null. */
export function fileProblem(path: string): string | null {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(path));
  } catch {
    return null; // ar itself says that the file is missing
  }
  const head = Buffer.from(bytes.subarray(0, 8)).toString('latin1');
  if (head === '!<arch>\n' || head === '!<thin>\n') {
    const members = archiveMembers(bytes);
    if (typeof members === 'string') return members;
    for (const m of members) {
      const problem = objectProblem(m.data);
      if (problem !== null) return `member ${m.name} is ${problem}`;
    }
    return null;
  }
  const problem = objectProblem(bytes);
  return problem === null ? null : `is ${problem}`;
}

function hostTool(name: 'ar' | 'ranlib'): string {
  const tools = findTools();
  if (typeof tools === 'string') throw new CliError(tools);
  if (name === 'ar') return tools.ar;
  const beside = join(dirname(tools.ar), 'ranlib');
  if (!existsSync(beside)) throw new CliError(`no ranlib beside ${tools.ar} (Debian: binutils)`);
  return beside;
}

function runHost(tool: string, args: readonly string[]): number {
  const r = spawnSync(tool, args, { stdio: 'inherit' });
  if (r.error) throw new CliError(`${tool}: ${r.error.message}`);
  return r.status ?? 1;
}

function refuse(tool: string, problems: readonly string[]): number {
  for (const p of problems) process.stderr.write(`zerovm ${tool}: ${p}\n`);
  return 1;
}

export function runAr(argv: readonly string[]): number {
  const command = parseArCommand(argv);
  if (command.key === '') return runHost(hostTool('ar'), command.leading);
  const { operation } = command;
  const problems: string[] = [];
  if (operation === 'q' || operation === 'r') {
    for (const member of command.members) {
      const p = fileProblem(member);
      if (p !== null) problems.push(`${member} ${p}`);
    }
  }
  if (operation === 's' && command.archive !== null) {
    const p = fileProblem(command.archive);
    if (p !== null) problems.push(`${command.archive}: ${p}`);
  }
  if (problems.length > 0) return refuse('ar', problems);
  // `u` (replace only members older than the file) means nothing when every
  // time is zero: GNU ar ignores it under D with a warning; it is dropped here.
  const deterministic = WRITES.test(operation) && !command.key.includes('U');
  const key = deterministic ? `${command.key.replace(/[uD]/g, '')}D` : command.key;
  return runHost(hostTool('ar'), [...command.leading, key, ...command.positional, command.archive as string, ...command.members]);
}

export function runRanlib(argv: readonly string[]): number {
  const options = argv.filter((a) => a.startsWith('-'));
  const archives = argv.filter((a, i) => !a.startsWith('-') && argv[i - 1] !== '--plugin');
  if (options.includes('--version') || options.includes('-v') || options.includes('-V') || options.includes('--help') || options.includes('-h')) {
    return runHost(hostTool('ranlib'), argv);
  }
  if (archives.length === 0) throw new CliError('no archive: usage `zerovm ranlib [-D|-U] ARCHIVE...`');
  const problems = archives.map((a) => ({ a, p: fileProblem(a) })).filter((x) => x.p !== null);
  if (problems.length > 0) return refuse('ranlib', problems.map((x) => `${x.a}: ${x.p}`));
  const deterministic = options.includes('-U') || options.includes('-D') ? [] : ['-D'];
  return runHost(hostTool('ranlib'), [...deterministic, ...argv]);
}
