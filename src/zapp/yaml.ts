/**
 * The small subset of YAML a `zapp.yaml` needs, read and written without a
 * YAML library (the project has no YAML dependency and zapp.yaml uses a
 * handful of constructs).
 *
 * Pipeline position: src/zapp/zapp.ts -> here (text <-> plain values).
 *
 * The subset, which is what zpm's own zapp.yaml files used:
 * - block mappings `key: value` and `key:` followed by a more indented
 *   block (or, as YAML allows, a sequence at the key's own indentation);
 * - block sequences `- value`, `- key: value` (a mapping item continued on
 *   the following lines at the indentation after "- "), `-` followed by a
 *   more indented block;
 * - scalars: plain (up to a ` #` comment), "double quoted" (escapes \" \\
 *   \n \t \r \0 \xHH \uHHHH), 'single quoted' ('' is a quote); flow
 *   sequences of scalars `[a, "b c"]`;
 * - `#` comments, blank lines, a leading `---` document marker.
 * Every scalar is a string (so `version: 0.10` stays "0.10", not 0.1); a
 * key with nothing after it and no block is null. Anything else (anchors,
 * tags, flow mappings, multi-line scalars, tabs in indentation) is an error
 * naming its line, never a silent misreading.
 */

export class YamlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'YamlError';
  }
}

export type YamlValue = string | null | YamlValue[] | { [key: string]: YamlValue };

interface Line {
  readonly number: number;
  readonly indent: number;
  readonly text: string;
}

/** The text before a comment: '#' at the start or after a blank, outside quotes. */
function stripComment(text: string): string {
  let quote = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = '';
    } else if (c === '"' || c === "'") {
      if (i === 0 || /[\s[,:-]/.test(text[i - 1] as string)) quote = c;
    } else if (c === '#' && (i === 0 || /\s/.test(text[i - 1] as string))) {
      return text.slice(0, i);
    }
  }
  return text;
}

function lines(text: string): Line[] {
  const out: Line[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const number = index + 1;
    const indentText = /^[ \t]*/.exec(raw)?.[0] ?? '';
    if (indentText.includes('\t') && raw.trim() !== '') throw new YamlError(`line ${number}: tabs are not allowed in indentation`);
    const body = stripComment(raw.slice(indentText.length)).trimEnd();
    if (body === '' || (out.length === 0 && body === '---' && indentText === '')) return;
    if (/^[&*!|>%@`{]/.test(body)) throw new YamlError(`line ${number}: '${body[0]}' (anchors, tags, block scalars, flow mappings) is outside the supported YAML subset`);
    out.push({ number, indent: indentText.length, text: body });
  });
  return out;
}

function unquoteDouble(body: string, number: number): string {
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = body[++i];
    const simple: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', n: '\n', t: '\t', r: '\r', '0': '\0' };
    if (e !== undefined && e in simple) out += simple[e];
    else if (e === 'x' && /^[0-9a-fA-F]{2}$/.test(body.slice(i + 1, i + 3))) {
      out += String.fromCharCode(parseInt(body.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(body.slice(i + 1, i + 5))) {
      out += String.fromCharCode(parseInt(body.slice(i + 1, i + 5), 16));
      i += 4;
    } else throw new YamlError(`line ${number}: unsupported escape '\\${e ?? ''}' in a double-quoted string`);
  }
  return out;
}

/** A scalar at the start of `text`: its value and the text after it. */
function scalarPrefix(text: string, number: number, stops: string): [string, string] {
  if (text.startsWith('"')) {
    for (let i = 1; i < text.length; i++) {
      if (text[i] === '\\') i++;
      else if (text[i] === '"') return [unquoteDouble(text.slice(1, i), number), text.slice(i + 1)];
    }
    throw new YamlError(`line ${number}: unterminated double-quoted string`);
  }
  if (text.startsWith("'")) {
    let out = '';
    for (let i = 1; i < text.length; i++) {
      if (text[i] === "'") {
        if (text[i + 1] === "'") {
          out += "'";
          i++;
        } else return [out, text.slice(i + 1)];
      } else out += text[i];
    }
    throw new YamlError(`line ${number}: unterminated single-quoted string`);
  }
  let end = 0;
  while (end < text.length && !stops.includes(text[end] as string)) end++;
  return [text.slice(0, end).trim(), text.slice(end)];
}

function scalarOrFlow(text: string, number: number): YamlValue {
  if (/^[&*!|>%@`{]/.test(text)) throw new YamlError(`line ${number}: '${text[0]}' (anchors, aliases, tags, block scalars, flow mappings) is outside the supported YAML subset`);
  if (text.startsWith('[')) {
    const items: YamlValue[] = [];
    let rest = text.slice(1).trimStart();
    if (rest.startsWith(']')) rest = rest.slice(1);
    else {
      for (;;) {
        const [value, after] = scalarPrefix(rest, number, ',]');
        items.push(value);
        rest = after.trimStart();
        if (rest.startsWith(',')) rest = rest.slice(1).trimStart();
        else if (rest.startsWith(']')) {
          rest = rest.slice(1);
          break;
        } else throw new YamlError(`line ${number}: expected ',' or ']' in a flow sequence`);
      }
    }
    if (rest.trim() !== '') throw new YamlError(`line ${number}: unexpected '${rest.trim()}' after a flow sequence`);
    return items;
  }
  const [value, rest] = scalarPrefix(text, number, '');
  if (rest.trim() !== '') throw new YamlError(`line ${number}: unexpected '${rest.trim()}' after a quoted string`);
  return value;
}

/** `key: rest` -> [key, rest], or null when the line is not a mapping entry. */
function splitKey(text: string): [string, string] | null {
  if (text.startsWith('"') || text.startsWith("'")) {
    try {
      const [key, rest] = scalarPrefix(text, 0, '');
      if (rest === ':' || rest.startsWith(': ')) return [key, rest.slice(1).trim()];
    } catch {
      return null;
    }
    return null;
  }
  const m = /^([^\s:"'[\]{},#-][^:]*?|-[^\s:][^:]*?)\s*:(?:\s+(.*))?$/.exec(text);
  return m ? [m[1] as string, (m[2] ?? '').trim()] : null;
}

const isSequenceItem = (line: Line): boolean => line.text === '-' || line.text.startsWith('- ');

class Parser {
  private at = 0;
  constructor(private readonly src: Line[]) {}

  private peek(): Line | undefined {
    return this.src[this.at];
  }

  document(): YamlValue {
    const first = this.peek();
    if (first === undefined) return null;
    const value = this.block(first.indent);
    const extra = this.peek();
    if (extra !== undefined) throw new YamlError(`line ${extra.number}: unexpected indentation or content`);
    return value;
  }

  private block(indent: number): YamlValue {
    const line = this.peek() as Line;
    if (isSequenceItem(line)) return this.sequence(indent);
    if (splitKey(line.text) !== null) return this.mapping(indent);
    this.at++;
    return scalarOrFlow(line.text, line.number);
  }

  /** The value after `key:` or `-` with nothing on the line. */
  private nested(parentIndent: number, allowSameIndentSequence: boolean): YamlValue {
    const next = this.peek();
    if (next !== undefined && next.indent > parentIndent) return this.block(next.indent);
    if (allowSameIndentSequence && next !== undefined && next.indent === parentIndent && isSequenceItem(next)) return this.sequence(parentIndent);
    return null;
  }

  private mapping(indent: number): YamlValue {
    const out: { [key: string]: YamlValue } = {};
    for (let line = this.peek(); line !== undefined && line.indent === indent && !isSequenceItem(line); line = this.peek()) {
      const entry = splitKey(line.text);
      if (entry === null) throw new YamlError(`line ${line.number}: expected 'key: value'`);
      const [key, rest] = entry;
      if (Object.hasOwn(out, key)) throw new YamlError(`line ${line.number}: key '${key}' appears twice`);
      this.at++;
      out[key] = rest === '' ? this.nested(indent, true) : scalarOrFlow(rest, line.number);
    }
    return out;
  }

  private sequence(indent: number): YamlValue {
    const out: YamlValue[] = [];
    for (let line = this.peek(); line !== undefined && line.indent === indent && isSequenceItem(line); line = this.peek()) {
      const content = line.text.slice(1).trimStart();
      if (content === '') {
        this.at++;
        out.push(this.nested(indent, false));
      } else if (isSequenceItem({ ...line, text: content }) || splitKey(content) !== null) {
        // "- key: v" / "- - v": the item is a block that starts after "- ".
        const inner = indent + (line.text.length - content.length);
        this.src[this.at] = { number: line.number, indent: inner, text: content };
        out.push(this.block(inner));
      } else {
        this.at++;
        out.push(scalarOrFlow(content, line.number));
      }
    }
    return out;
  }
}

export function parseYaml(text: string): YamlValue {
  return new Parser(lines(text)).document();
}

/** A double-quoted scalar that parseYaml reads back as the same string. */
export function quoteYaml(text: string): string {
  let out = '"';
  for (const c of text) {
    const code = c.codePointAt(0) as number;
    if (c === '"' || c === '\\') out += `\\${c}`;
    else if (c === '\n') out += '\\n';
    else if (c === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += c;
  }
  return `${out}"`;
}

/** Block-style YAML for a mapping/sequence/string tree (two-space indentation, every string quoted). */
export function formatYaml(value: YamlValue, indent = 0): string {
  const pad = ' '.repeat(indent);
  if (value === null || typeof value === 'string') return `${pad}${value === null ? '' : quoteYaml(value)}\n`;
  if (Array.isArray(value)) {
    if (value.length === 0) return `${pad}[]\n`;
    return value
      .map((item) => {
        if (item === null || typeof item === 'string') return `${pad}- ${item === null ? '' : quoteYaml(item)}\n`;
        if (!Array.isArray(item) && Object.keys(item).length > 0) return `${pad}- ${formatYaml(item, indent + 2).slice(indent + 2)}`;
        return `${pad}-\n${formatYaml(item, indent + 2)}`;
      })
      .join('');
  }
  const keys = Object.keys(value);
  if (keys.length === 0) throw new YamlError('an empty mapping cannot be written in block style');
  return keys
    .map((key) => {
      if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(key)) throw new YamlError(`key '${key}' is outside the supported YAML subset`);
      const item = value[key] as YamlValue;
      if (item === null) return `${pad}${key}:\n`;
      if (typeof item === 'string') return `${pad}${key}: ${quoteYaml(item)}\n`;
      if (Array.isArray(item) && item.length === 0) return `${pad}${key}: []\n`;
      return `${pad}${key}:\n${formatYaml(item, indent + 2)}`;
    })
    .join('');
}
