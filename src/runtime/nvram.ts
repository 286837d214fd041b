/**
 * The "nvram" text: the INI-like configuration a program reads from the
 * channel `/dev/nvram` to get its arguments, environment and device modes
 * (ZeroVM passes neither on the stack). `formatNvram` writes it the way the
 * original front end (zvsh) did; `parseNvram` reads it the way the original
 * C library (ZRT) did, so that our own C library can follow the same rules.
 *
 * Pipeline position: `zerovm run` -> here -> a file mapped as /dev/nvram ->
 * the program's C library. Source of truth: zerovm/zerovm-cli
 * zvshlib/zvsh.py (create_nvram) and zerovm/zrt lib/nvram/nvram_loader.c,
 * lib/helpers/conf_parser.c and lib/nvram/observers/*; spec/runtime.md,
 * "Command lines" (zerovm run and /dev/nvram).
 *
 * The format, as ZRT reads it:
 * - `[name]` at the start of a line opens a section (`]` on the same line;
 *   the name is stripped); text before the first section and unknown
 *   sections are ignored. Sections: args, env, fstab, mapping, debug, time.
 * - In a section, records are `key=value` items separated by ',' or line
 *   ends; `#` starts a comment up to the line end. Keys and values are
 *   stripped of blanks (space, tab, newline; not CR); keys match without
 *   regard to case. A record is complete once every key of its section has
 *   been seen (in any order; a repeated key is ignored); an incomplete
 *   record is dropped at the end of its line, unless that line had a
 *   comment, and items with an unknown key or no '=' are skipped.
 * - `[args]` `args = a b c`: the value splits on spaces and tabs; an item
 *   that starts with '"' runs to the next '"' (so `""` is an empty
 *   argument). Several args records add up.
 * - `\xHH` in an argument or an environment value stands for the byte 0xHH
 *   (values are UTF-8). Names, channels and other values are taken as is.
 *
 * Choices a reader would question:
 * - zvsh escaped only ',' and ' ' in arguments and ',' in values, so an
 *   argument with '#', '"', a backslash or a line break came out wrong. We
 *   also escape those (and every control character), so any argument that
 *   is a C string round-trips; for ordinary text the output is zvsh's.
 * - ZRT decoded `\x` followed by any two letters or digits (`\xzz` gave a
 *   garbage byte) and matched section names by prefix; we decode real hex
 *   digits only and match section names exactly.
 * - ZRT's fixed limits (10240-byte file, 100 records per section, 5
 *   sections) are not enforced: they belong to ZRT's buffers, not the
 *   format. zvsh never wrote more than 5 sections; with `timeSeconds` we
 *   may write 6.
 * - ZRT stopped scanning for sections at any '[' (even inside a value)
 *   that had no ']' after it on the same line; we only look at line starts.
 *   The writer escapes '[' and ']' so that ZRT never meets such a '['.
 * - Duplicate environment names: the first one wins, as getenv() sees it.
 */

export const NVRAM_SECTIONS = ['args', 'env', 'fstab', 'mapping', 'debug', 'time'] as const;
export type NvramSection = (typeof NVRAM_SECTIONS)[number];

/** The keys of each section's records, in the order zvsh wrote them. */
const SECTION_KEYS: Record<NvramSection, readonly string[]> = {
  args: ['args'],
  env: ['name', 'value'],
  fstab: ['channel', 'mountpoint', 'access', 'removable'],
  mapping: ['channel', 'mode'],
  debug: ['verbosity'],
  time: ['seconds'],
};

/** How the C library presents a channel: pipe (S_IFIFO), char (S_IFCHR), file (S_IFREG). */
export const MAPPING_MODES = ['pipe', 'char', 'file'] as const;
export type MappingMode = (typeof MAPPING_MODES)[number];

export interface NvramMapping {
  readonly channel: string;
  readonly mode: MappingMode;
}

/** A tar image channel mounted into the C library's file system ("ro": read into it, "wo": written out of it). */
export interface NvramMount {
  readonly channel: string;
  readonly mountpoint: string;
  readonly access: 'ro' | 'wo';
  readonly removable: boolean;
}

export interface NvramInput {
  /** argv, program name first. */
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly mappings?: readonly NvramMapping[];
  readonly fstab?: readonly NvramMount[];
  readonly debugVerbosity?: number;
  /** Seconds since 1970 the program's clock starts at. */
  readonly timeSeconds?: number;
}

export interface Nvram {
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly mappings: readonly NvramMapping[];
  readonly fstab: readonly NvramMount[];
  readonly debugVerbosity?: number;
  readonly timeSeconds?: number;
}

/** A value `formatNvram` cannot write so that it reads back unchanged. */
export class NvramError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NvramError';
  }
}

// ---------------------------------------------------------------------------
// Escaping

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function hex2(code: number): string {
  return `\\x${code.toString(16).padStart(2, '0')}`;
}

/**
 * `\xHH` for the characters ZRT would otherwise take as syntax or strip:
 * controls, space, '"', '#', ',', '[', ']', backslash. `edgesOnly` leaves
 * inner spaces alone (environment values are not split on spaces).
 */
/** Any character escapeValue may escape (a space only at an edge, with edgesOnly). */
const MAY_ESCAPE = /[\x00-\x20\x7f"#,[\\\]]/;

function escapeValue(value: string, edgesOnly: boolean): string {
  /* most values have nothing to escape: no new string for them */
  if (!MAY_ESCAPE.test(value)) return value;
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    const inner = i > 0 && i < value.length - 1;
    const special = c < 0x20 || c === 0x7f || c === 0x22 || c === 0x23 || c === 0x2c || c === 0x5b || c === 0x5c || c === 0x5d;
    if (special || (c === 0x20 && !(edgesOnly && inner))) out += hex2(c);
    else out += value[i];
  }
  return out;
}

const HEX = /^[0-9a-fA-F]{2}$/;

/** Decodes `\xHH` escapes into bytes, then the bytes as UTF-8. */
function unescapeValue(text: string): string {
  const bytes = encoder.encode(text);
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 0x5c && bytes[i + 1] === 0x78 && i + 3 < bytes.length && HEX.test(String.fromCharCode(bytes[i + 2] as number, bytes[i + 3] as number))) {
      out.push(parseInt(String.fromCharCode(bytes[i + 2] as number, bytes[i + 3] as number), 16));
      i += 3;
    } else {
      out.push(bytes[i] as number);
    }
  }
  return decoder.decode(new Uint8Array(out));
}

// ---------------------------------------------------------------------------
// Writing

/**
 * Fields written without escapes must survive the record syntax unchanged.
 * '[' and ']' are refused because ZRT stops looking for sections at a '['
 * with no ']' after it on its line, wherever that '[' is.
 */
function checkRaw(what: string, value: string): void {
  if (value === '' || /[\0-\x1f\x7f,#[\]]/.test(value) || /^[ \t]|[ \t]$/.test(value)) {
    throw new NvramError(`${what} '${value}' cannot be written to nvram: it must be non-empty, without ',', '#', '[', ']' or control characters, and not start or end with a blank`);
  }
}

function checkCString(what: string, value: string): void {
  if (value.includes('\0')) throw new NvramError(`${what} contains a NUL character, which a C string cannot carry`);
  /* the pairs removed only when there is a surrogate at all (no new string otherwise) */
  if (/[\ud800-\udfff]/.test(value) && /[\ud800-\udfff]/.test(value.replace(/[\ud800-\udbff][\udc00-\udfff]/g, ''))) {
    throw new NvramError(`${what} contains a lone UTF-16 surrogate, which UTF-8 cannot carry`);
  }
}

function checkInteger(what: string, value: number): void {
  if (!Number.isSafeInteger(value)) throw new NvramError(`${what} is ${value}, not a whole number`);
}

/**
 * Writes the nvram text: sections args, env, fstab, mapping, debug, time
 * (the empty ones left out, except args). Throws `NvramError` for a value
 * that would not read back unchanged.
 */
export function formatNvram(input: NvramInput): string {
  const args = input.args.map((arg, i) => {
    checkCString(`argument ${i}`, arg);
    return arg === '' ? '""' : escapeValue(arg, false);
  });
  let text = `[args]\nargs = ${args.join(' ')}\n`;
  const env = Object.entries(input.env ?? {});
  if (env.length > 0) {
    text += '[env]\n';
    for (const [name, value] of env) {
      checkRaw('environment variable name', name);
      if (name.includes('=')) throw new NvramError(`environment variable name '${name}' contains '='`);
      checkCString(`the value of ${name}`, value);
      text += `name=${name},value=${escapeValue(value, true)}\n`;
    }
  }
  const fstab = input.fstab ?? [];
  if (fstab.length > 0) {
    text += '[fstab]\n';
    for (const m of fstab) {
      checkRaw('fstab channel', m.channel);
      checkRaw('fstab mount point', m.mountpoint);
      text += `channel=${m.channel},mountpoint=${m.mountpoint},access=${m.access},removable=${m.removable ? 'yes' : 'no'}\n`;
    }
  }
  const mappings = input.mappings ?? [];
  if (mappings.length > 0) {
    text += '[mapping]\n';
    for (const m of mappings) {
      checkRaw('mapping channel', m.channel);
      text += `channel=${m.channel},mode=${m.mode}\n`;
    }
  }
  if (input.debugVerbosity !== undefined) {
    checkInteger('debug verbosity', input.debugVerbosity);
    text += `[debug]\nverbosity=${input.debugVerbosity}\n`;
  }
  if (input.timeSeconds !== undefined) {
    checkInteger('time seconds', input.timeSeconds);
    text += `[time]\nseconds=${input.timeSeconds}\n`;
  }
  return text;
}

// ---------------------------------------------------------------------------
// Reading

/** ZRT's strip_all: space, tab and newline (not CR). */
function stripBlanks(s: string): string {
  return s.replace(/^[ \t\n]+|[ \t\n]+$/g, '');
}

interface Section {
  readonly name: string;
  /** From the '[' of the header to the next header. */
  readonly body: string;
}

/** Headers are '[' at the start of a line (or of the text) with ']' later on that line. */
function splitSections(text: string): Section[] {
  const starts: { at: number; name: string }[] = [];
  let lineStart = 0;
  while (lineStart <= text.length) {
    const end = text.indexOf('\n', lineStart);
    const line = text.slice(lineStart, end < 0 ? text.length : end);
    const close = line.indexOf(']');
    if (line.startsWith('[') && close > 0) starts.push({ at: lineStart, name: stripBlanks(line.slice(1, close)) });
    if (end < 0) break;
    lineStart = end + 1;
  }
  return starts.map((s, i) => ({ name: s.name, body: text.slice(s.at, starts[i + 1]?.at ?? text.length) }));
}

/** ZRT's record tokenizer: the records of one section, each a key -> value map (keys lower-cased). */
function readRecords(body: string, keys: readonly string[]): Map<string, string>[] {
  const records: Map<string, string>[] = [];
  let pending = new Map<string, string>();
  for (const line of body.split('\n')) {
    const hash = line.indexOf('#');
    const content = hash < 0 ? line : line.slice(0, hash);
    for (const item of content.split(',')) {
      const token = stripBlanks(item);
      const eq = token.indexOf('=');
      if (token === '' || eq < 0) continue;
      const key = stripBlanks(token.slice(0, eq)).toLowerCase();
      if (!keys.includes(key) || pending.has(key)) continue;
      pending.set(key, stripBlanks(token.slice(eq + 1)));
      if (pending.size === keys.length) {
        records.push(pending);
        pending = new Map();
      }
    }
    // a line end drops an incomplete record, except after a comment (ZRT's state machine)
    if (hash < 0) pending = new Map();
  }
  return records;
}

/** Splits an args value: blanks separate, '"' opens a quoted item up to the next '"'. */
function splitArgs(value: string): string[] {
  const items: string[] = [];
  let i = 0;
  while (i < value.length) {
    const c = value[i];
    if (c === ' ' || c === '\t') {
      i++;
    } else if (c === '"' && i + 1 < value.length) {
      const close = value.indexOf('"', i + 1);
      const end = close < 0 ? value.length : close;
      items.push(value.slice(i + 1, end));
      i = end + 1;
    } else {
      let end = i + 1;
      while (end < value.length && value[end] !== ' ' && value[end] !== '\t') end++;
      items.push(value.slice(i, end));
      i = end;
    }
  }
  return items.map(unescapeValue);
}

function readInteger(text: string): number | undefined {
  return /^[+-]?[0-9]+$/.test(text) && Number.isSafeInteger(Number(text)) ? Number(text) : undefined;
}

/**
 * Reads an nvram text. Never throws: like ZRT, it skips what it does not
 * understand (unknown sections and keys, incomplete records, unknown
 * mapping modes, non-numeric verbosity or time).
 */
export function parseNvram(text: string): Nvram {
  const args: string[] = [];
  const env: Record<string, string> = Object.create(null) as Record<string, string>;
  const mappings: NvramMapping[] = [];
  const fstab: NvramMount[] = [];
  let debugVerbosity: number | undefined;
  let timeSeconds: number | undefined;
  for (const section of splitSections(text)) {
    const name = NVRAM_SECTIONS.find((s) => s === section.name);
    if (name === undefined) continue;
    for (const r of readRecords(section.body, SECTION_KEYS[name])) {
      const get = (key: string): string => r.get(key) as string;
      switch (name) {
        case 'args':
          args.push(...splitArgs(get('args')));
          break;
        case 'env':
          if (!Object.prototype.hasOwnProperty.call(env, get('name'))) {
            Object.defineProperty(env, get('name'), { value: unescapeValue(get('value')), enumerable: true, writable: true, configurable: true });
          }
          break;
        case 'fstab': {
          const access = get('access');
          const removable = get('removable');
          if ((access === 'ro' || access === 'wo') && (removable === 'yes' || removable === 'no')) {
            fstab.push({ channel: get('channel'), mountpoint: get('mountpoint'), access, removable: removable === 'yes' });
          }
          break;
        }
        case 'mapping': {
          const mode = MAPPING_MODES.find((m) => m === get('mode'));
          if (mode !== undefined) mappings.push({ channel: get('channel'), mode });
          break;
        }
        case 'debug':
          debugVerbosity = readInteger(get('verbosity')) ?? debugVerbosity;
          break;
        case 'time':
          timeSeconds = readInteger(get('seconds')) ?? timeSeconds;
          break;
      }
    }
  }
  return {
    args,
    env,
    mappings,
    fstab,
    ...(debugVerbosity === undefined ? {} : { debugVerbosity }),
    ...(timeSeconds === undefined ? {} : { timeSeconds }),
  };
}
