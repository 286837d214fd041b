/**
 * `zerovm validate` and `zerovm disasm`.
 *
 * Input is a nexe (text found by the ELF rules) or a code region given as
 * hex text (`--hex`, NaCl-corpus style: hex byte pairs, `#` comments) or raw
 * bytes (`--raw`). Output: errors as `address: message [rule]` and a
 * verdict; `--json` prints one JSON object instead. Exit: 0 valid,
 * 1 invalid, 2 unusable input.
 */
import { readFile } from 'node:fs/promises';
import { CliError, parseArgs, parseAddress, type ParsedArgs } from './args.js';
import { parseFeatureList, type CpuFeature } from '../validator/features.js';
import { validate, type ValidationPolicy, type ValidationResult } from '../validator/validate.js';
import { isValidationPolicy, POLICIES } from '../validator/policies.js';
import { validateNexe } from '../validator/validate-nexe.js';
import { disassemble, renderListing } from '../validator/disasm.js';
import { TEXT_START } from '../elf/nexe.js';

const SPEC = {
  flags: ['json', 'deterministic', 'allow-sysv-abi'],
  values: ['hex', 'raw', 'features', 'base', 'policy'],
};

interface Region {
  readonly name: string;
  readonly code: Uint8Array;
  readonly base: number;
  /**
   * Byte used to pad a partial last bundle under the nacl policy (nop for
   * hex/raw like NaCl's harness, hlt for nexes like the loader); the zerovm
   * and deterministic policies read a region as exactly its bytes and ignore it.
   */
  readonly padByte: number;
}

async function readInput(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CliError(`cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : String(code ?? error)}`);
  }
}

/** Parses NaCl-corpus style hex text: byte pairs, `#` comments, `\\` continuation marks. */
export function parseHexText(text: string, name: string): Uint8Array {
  const bytes: number[] = [];
  text.split('\n').forEach((line, index) => {
    const content = line.replace(/#.*$/, '').replace(/\\\\/g, '').trim();
    if (content.length === 0) return;
    for (const token of content.split(/[\s,]+/)) {
      const t = token.replace(/^0x/i, '');
      if (!/^[0-9a-fA-F]{2}$/.test(t)) throw new CliError(`${name}:${index + 1}: '${token}' is not a hex byte`);
      bytes.push(parseInt(t, 16));
    }
  });
  return Uint8Array.from(bytes);
}

/** `--policy NAME`, or `--deterministic` (its older spelling); `nacl` by default. */
function policyOf(args: ParsedArgs): ValidationPolicy {
  const named = args.values.get('policy');
  if (named !== undefined && !isValidationPolicy(named)) throw new CliError(`unknown policy '${named}' (known: ${POLICIES.join(', ')})`);
  if (args.flags.has('deterministic')) {
    if (named !== undefined && named !== 'deterministic') throw new CliError(`--deterministic contradicts --policy ${named}`);
    return 'deterministic';
  }
  return named ?? 'nacl';
}

function options(args: ParsedArgs): { features: Set<CpuFeature> | undefined; policy: ValidationPolicy } {
  let features: Set<CpuFeature> | undefined;
  const spec = args.values.get('features');
  if (spec !== undefined) {
    const parsed = parseFeatureList(spec);
    if (typeof parsed === 'string') throw new CliError(parsed);
    features = parsed;
  }
  return { features, policy: policyOf(args) };
}

async function regionOf(args: ParsedArgs): Promise<Region | { nexe: string; bytes: Uint8Array }> {
  const hex = args.values.get('hex');
  const raw = args.values.get('raw');
  if (hex !== undefined && raw !== undefined) throw new CliError('give either --hex or --raw, not both');
  const base = args.values.has('base') ? parseAddress(args.values.get('base') as string, '--base') : TEXT_START;
  if (hex !== undefined || raw !== undefined) {
    if (args.positionals.length > 0) throw new CliError(`unexpected argument ${args.positionals[0] ?? ''}`);
    if (hex !== undefined) return { name: hex, code: parseHexText((await readInput(hex)).toString('utf8'), hex), base, padByte: 0x90 };
    return { name: raw as string, code: new Uint8Array(await readInput(raw as string)), base, padByte: 0x90 };
  }
  if (args.values.has('base')) throw new CliError('--base applies to --hex/--raw regions only (a nexe says where its text is)');
  if (args.positionals.length !== 1) throw new CliError(args.positionals.length === 0 ? 'missing PROGRAM (or --hex FILE / --raw FILE)' : 'give one program at a time');
  const path = args.positionals[0] as string;
  return { nexe: path, bytes: new Uint8Array(await readInput(path)) };
}

function printResult(name: string, result: ValidationResult, json: boolean, extra: Record<string, unknown>): number {
  if (json) {
    process.stdout.write(`${JSON.stringify({ file: name, valid: result.valid, policy: result.policy, base: result.base, size: result.size, ...extra, errors: result.errors }, null, 2)}\n`);
  } else {
    for (const e of result.errors) process.stdout.write(`0x${e.address.toString(16)}: ${e.message} [${e.rule}]\n`);
    const count = result.errors.length;
    process.stdout.write(`${name}: ${result.valid ? 'VALID' : `INVALID (${count} error${count === 1 ? '' : 's'})`} — ${result.size} bytes at 0x${result.base.toString(16)}, ${result.policy} policy\n`);
  }
  return result.valid ? 0 : 1;
}

export async function runValidate(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv, SPEC);
  const opts = options(args);
  const input = await regionOf(args);
  const json = args.flags.has('json');
  if ('nexe' in input) {
    const outcome = validateNexe(input.bytes, { ...opts, allowSysvAbi: args.flags.has('allow-sysv-abi') });
    if (!outcome.ok) {
      if (json) process.stdout.write(`${JSON.stringify({ file: input.nexe, valid: false, unusable: outcome.error.message }, null, 2)}\n`);
      process.stderr.write(`${input.nexe}: not a usable nexe: ${outcome.error.message}\n`);
      return 2;
    }
    return printResult(input.nexe, outcome.value.result, json, { entry: outcome.value.image.entry });
  }
  const result = validate(input.code, { ...opts, base: input.base, padByte: input.padByte });
  return printResult(input.name, result, json, {});
}

export async function runDisasm(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv, SPEC);
  if (args.flags.has('json')) throw new CliError('--json is not supported by disasm');
  const opts = options(args);
  const input = await regionOf(args);
  let code: Uint8Array;
  let base: number;
  let padByte: number;
  let name: string;
  if ('nexe' in input) {
    const outcome = validateNexe(input.bytes, { ...opts, allowSysvAbi: args.flags.has('allow-sysv-abi') });
    if (!outcome.ok) {
      process.stderr.write(`${input.nexe}: not a usable nexe: ${outcome.error.message}\n`);
      return 2;
    }
    const text = outcome.value.image.text;
    code = input.bytes.subarray(text.offset, text.offset + text.filesz);
    base = text.vaddr;
    padByte = 0xf4;
    name = input.nexe;
  } else {
    ({ code, base, padByte, name } = input);
  }
  const listing = disassemble(code, { ...opts, base, padByte });
  process.stdout.write(`${renderListing(listing)}\n`);
  const count = listing.result.errors.length;
  process.stdout.write(`${name}: ${listing.result.valid ? 'VALID' : `INVALID (${count} error${count === 1 ? '' : 's'})`}\n`);
  return listing.result.valid ? 0 : 1;
}
