/**
 * A small reader for the AT&T-syntax assembly that gcc emits (and that
 * people write in `.S` files): splits a line into label / directive /
 * instruction, splits an instruction's operands, and parses one operand
 * into register, immediate or memory reference.
 *
 * Pipeline position: gcc -S output -> here -> sandbox.ts (the rewrite)
 * -> clang's integrated assembler. Only what the sandboxing pass needs is
 * understood; anything else is kept as text and passed through unchanged.
 */

/** A line of assembly as the pass sees it. */
export type AsmLine =
  | { readonly kind: 'blank'; readonly text: string }
  | { readonly kind: 'label'; readonly name: string; readonly text: string }
  | { readonly kind: 'directive'; readonly name: string; readonly args: string; readonly text: string }
  | {
      readonly kind: 'instruction';
      /** Prefixes written before the mnemonic (`rep`, `lock`, `addr32`, ...). */
      readonly prefixes: readonly string[];
      readonly mnemonic: string;
      readonly operands: readonly string[];
      readonly text: string;
    };

const PREFIXES = new Set(['rep', 'repe', 'repz', 'repne', 'repnz', 'lock', 'addr32', 'data16', 'rex64', 'notrack', 'ds', 'cs']);

/** Removes a `#` comment that is not inside a string literal. */
function stripComment(line: string): string {
  let inString = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '\\' && inString) i++;
    else if (c === '"') inString = !inString;
    else if (c === '#' && !inString) return line.slice(0, i);
  }
  return line;
}

/** Splits on commas that are outside parentheses and string literals. */
export function splitOperands(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let inString = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      out.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  const last = text.slice(start).trim();
  if (last !== '' || out.length > 0) out.push(last);
  return out;
}

/**
 * Parses one source line. Statements separated by `;` are not split here
 * (see `splitStatements`); a label followed by an instruction on the same
 * line is returned as two lines by `parseSource`.
 */
function parseStatement(raw: string): AsmLine[] {
  const text = raw.trim();
  if (text === '') return [];
  const label = /^([A-Za-z_.$][\w.$]*|\d+):\s*(.*)$/.exec(text);
  if (label) {
    const rest = label[2] as string;
    return [{ kind: 'label', name: label[1] as string, text: `${label[1]}:` }, ...parseStatement(rest)];
  }
  if (text.startsWith('.')) {
    const m = /^(\.[\w.]+)\s*(.*)$/.exec(text);
    const name = m ? (m[1] as string) : text;
    return [{ kind: 'directive', name, args: m ? (m[2] as string).trim() : '', text }];
  }
  const words = text.split(/\s+/);
  const prefixes: string[] = [];
  let i = 0;
  while (i < words.length - 1 && PREFIXES.has((words[i] as string).toLowerCase())) prefixes.push((words[i++] as string).toLowerCase());
  // `rep; movsb` style: a prefix alone on its statement is kept as an instruction named by the prefix.
  const mnemonic = (words[i] as string).toLowerCase();
  const rest = words.slice(i + 1).join(' ');
  return [{ kind: 'instruction', prefixes, mnemonic, operands: splitOperands(rest), text }];
}

/** Splits a line into `;`-separated statements (outside string literals). */
function splitStatements(line: string): string[] {
  const out: string[] = [];
  let inString = false;
  let start = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === ';') {
      out.push(line.slice(start, i));
      start = i + 1;
    }
  }
  out.push(line.slice(start));
  return out;
}

/** Parses a whole assembly source, one entry per statement. */
export function parseSource(source: string): AsmLine[] {
  const out: AsmLine[] = [];
  for (const rawLine of source.split('\n')) {
    const line = stripComment(rawLine);
    const statements = splitStatements(line);
    let any = false;
    for (let s = 0; s < statements.length; s++) {
      const parsed = parseStatement(statements[s] as string);
      // `rep; movsb`: fold a lone prefix into the next statement's instruction.
      const only = parsed[0];
      if (parsed.length === 1 && only?.kind === 'instruction' && only.operands.length === 0 && PREFIXES.has(only.mnemonic) && s + 1 < statements.length) {
        const next = parseStatement(statements[s + 1] as string)[0];
        if (next?.kind === 'instruction') {
          out.push({ ...next, prefixes: [only.mnemonic, ...next.prefixes], text: `${only.mnemonic} ${next.text}` });
          s++;
          any = true;
          continue;
        }
      }
      if (parsed.length > 0) any = true;
      out.push(...parsed);
    }
    if (!any) out.push({ kind: 'blank', text: '' });
  }
  return out;
}

// ---------------------------------------------------------------------------
// Operands

export interface MemoryOperand {
  readonly kind: 'memory';
  /** Segment override register name without `%`, or null. */
  readonly segment: string | null;
  /** Displacement expression as written ('' when none). */
  readonly displacement: string;
  /** Register names without `%`; null when absent. */
  readonly base: string | null;
  readonly index: string | null;
  readonly scale: number;
}

export type Operand =
  | { readonly kind: 'register'; readonly name: string }
  | { readonly kind: 'immediate'; readonly text: string }
  | MemoryOperand
  /** `*%reg` / `*mem`: the target of an indirect jump or call. */
  | { readonly kind: 'indirect'; readonly target: Operand }
  /** A bare expression: a direct branch target, or an absolute address for other instructions. */
  | { readonly kind: 'expression'; readonly text: string };

/** Parses `disp(base,index,scale)` and the other operand shapes. */
export function parseOperand(text: string): Operand {
  const t = text.trim();
  if (t.startsWith('*')) return { kind: 'indirect', target: parseOperand(t.slice(1)) };
  if (t.startsWith('$')) return { kind: 'immediate', text: t.slice(1) };
  const seg = /^%([cdefgs]s):(.*)$/.exec(t);
  if (seg) {
    const inner = parseOperand(seg[2] as string);
    if (inner.kind === 'memory') return { ...inner, segment: seg[1] as string };
    if (inner.kind === 'expression') return { kind: 'memory', segment: seg[1] as string, displacement: inner.text, base: null, index: null, scale: 1 };
    return inner;
  }
  if (/^%[\w]+$/.test(t)) return { kind: 'register', name: t.slice(1).toLowerCase() };
  if (/^%st\s*\(\s*[0-7]\s*\)$/.test(t)) return { kind: 'register', name: t.slice(1).replace(/\s/g, '').toLowerCase() };
  // The address part is the last parenthesised group, when it holds registers (or is empty: `(,%eax,4)`).
  const m = /^(.*)\(\s*(%\w+)?\s*(?:,\s*(%\w+)?\s*(?:,\s*(\d+))?\s*)?\)$/.exec(t);
  if (m && (m[2] !== undefined || m[3] !== undefined)) {
    return {
      kind: 'memory',
      segment: null,
      displacement: (m[1] as string).trim(),
      base: m[2] ? m[2].slice(1).toLowerCase() : null,
      index: m[3] ? m[3].slice(1).toLowerCase() : null,
      scale: m[4] ? Number(m[4]) : 1,
    };
  }
  return { kind: 'expression', text: t };
}

/** Writes a memory operand back in AT&T syntax. */
export function formatMemory(m: MemoryOperand): string {
  const seg = m.segment ? `%${m.segment}:` : '';
  if (m.base === null && m.index === null) return `${seg}${m.displacement === '' ? '0' : m.displacement}`;
  const base = m.base ? `%${m.base}` : '';
  const index = m.index ? `,%${m.index}${m.scale !== 1 ? `,${m.scale}` : ''}` : '';
  return `${seg}${m.displacement}(${base}${index})`;
}

// ---------------------------------------------------------------------------
// Registers

const GPR64 = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
const GPR32 = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi', 'r8d', 'r9d', 'r10d', 'r11d', 'r12d', 'r13d', 'r14d', 'r15d'];
const GPR16 = ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di', 'r8w', 'r9w', 'r10w', 'r11w', 'r12w', 'r13w', 'r14w', 'r15w'];
const GPR8 = ['al', 'cl', 'dl', 'bl', 'spl', 'bpl', 'sil', 'dil', 'r8b', 'r9b', 'r10b', 'r11b', 'r12b', 'r13b', 'r14b', 'r15b'];

export interface GeneralRegister {
  /** 0..15 in encoding order (rax = 0, ..., r15 = 15). */
  readonly number: number;
  readonly bits: 8 | 16 | 32 | 64;
}

/** The general register a name denotes, or null (xmm, st, segment, `ah`..`bh`, ...). */
export function generalRegister(name: string): GeneralRegister | null {
  const n = name.toLowerCase();
  let i = GPR64.indexOf(n);
  if (i >= 0) return { number: i, bits: 64 };
  i = GPR32.indexOf(n);
  if (i >= 0) return { number: i, bits: 32 };
  i = GPR16.indexOf(n);
  if (i >= 0) return { number: i, bits: 16 };
  i = GPR8.indexOf(n);
  if (i >= 0) return { number: i, bits: 8 };
  if (n === 'r8l' || /^r(9|1[0-5])l$/.test(n)) return { number: Number(n.slice(1, -1)), bits: 8 };
  return null;
}

export function register64(n: number): string {
  return GPR64[n] as string;
}

export function register32(n: number): string {
  return GPR32[n] as string;
}
