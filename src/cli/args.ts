/**
 * A small, strict argument parser: `--flag`, `--name value`, `--name=value`
 * and positionals. Unknown options are errors (a typo must not silently
 * change what is validated).
 */

export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliError';
  }
}

export interface ParsedArgs {
  readonly flags: ReadonlySet<string>;
  readonly values: ReadonlyMap<string, string>;
  readonly positionals: readonly string[];
}

export function parseArgs(argv: readonly string[], spec: { flags: readonly string[]; values: readonly string[] }): ParsedArgs {
  const flags = new Set<string>();
  const values = new Map<string, string>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    if (spec.flags.includes(name)) {
      if (eq >= 0) throw new CliError(`option --${name} takes no value`);
      flags.add(name);
    } else if (spec.values.includes(name)) {
      const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined) throw new CliError(`option --${name} needs a value`);
      values.set(name, value);
    } else {
      throw new CliError(`unknown option ${arg}`);
    }
  }
  return { flags, values, positionals };
}

/** Parses 123, 0x1f, 0o17 or 017 (octal) as a non-negative safe integer. */
export function parseAddress(text: string, what: string): number {
  const t = text.trim().toLowerCase();
  let value: number;
  if (/^0x[0-9a-f]+$/.test(t)) value = parseInt(t.slice(2), 16);
  else if (/^0o[0-7]+$/.test(t)) value = parseInt(t.slice(2), 8);
  else if (/^0[0-7]+$/.test(t)) value = parseInt(t.slice(1), 8);
  else if (/^[0-9]+$/.test(t)) value = parseInt(t, 10);
  else throw new CliError(`${what} '${text}' is not a number`);
  if (!Number.isSafeInteger(value)) throw new CliError(`${what} '${text}' is too large`);
  return value;
}
