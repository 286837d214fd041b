/**
 * The sandboxing pass: rewrites x32 assembly (gcc 12 `-mx32 -ffixed-r15
 * -ffixed-r11 -ffixed-rbp -S`, or a hand-written `.S` after the
 * preprocessor) so that the assembled code passes the NaCl x86-64 rules of
 * spec/validator.md. The output starts with `.bundle_align_mode 5` and uses
 * `.bundle_lock [align_to_end]`, so it must be assembled by clang's
 * integrated assembler (GNU as 2.40 lacks `align_to_end`).
 *
 * Pipeline position: gcc -S -> att.ts (parse) -> here -> clang -c -> ld.
 *
 * Rewrites, one per rule of the validator (each tested in sandbox.test.ts):
 * - Memory operands. `%rsp`/`%rbp`/`%rip`/`%r15` bases without an index are
 *   already allowed (32-bit register names are widened, because the 0x67
 *   address-size prefix is forbidden). Everything else — any other base,
 *   any index, an absolute address — is computed first into the scratch
 *   register: `leal ADDR, %r11d` (a zero-extending 32-bit write, which
 *   also gives x32's wrap-around address arithmetic exactly), then the
 *   instruction uses `(%r15,%r11)`; both inside one `.bundle_lock` so the
 *   `leal` restricts `%r11` for the access.
 * - `%esp`/`%ebp` writes get `add %r15,%rsp|%rbp` after them in the same
 *   bundle; 64-bit writes (`subq $N,%rsp`) become 32-bit ones plus the
 *   rebase; `movl %esp,%ebp` becomes the allowed `movq %rsp,%rbp`.
 * - `leave` and `pop %rbp` go through `%r11`; `ret` becomes `pop %r11` and
 *   the masked jump.
 * - Indirect `jmp`/`call` load the target into `%r11d`, then
 *   `and $-32,%r11d; add %r15,%r11; jmp|call *%r11` (nacljmp).
 * - Every `call` is `.bundle_lock align_to_end`, so return addresses are
 *   bundle starts (the only places a masked `ret` can land); global
 *   functions, local functions whose address is taken, and code labels
 *   whose address is taken (jump tables, `&&label`) get `.p2align 5`
 *   before and after them (the second keeps the padding of a call they
 *   start with after the label) so masked jumps to them land where they
 *   should.
 * - String instructions become superinstructions (`mov %esi,%esi; lea
 *   (%r15,%rsi),%rsi; ...; rep movsb`), followed by `mov %esi,%esi` /
 *   `mov %edi,%edi` so the registers hold zero-extended x32 pointers again.
 *
 * The pass needs `%r11` and `%r15` reserved (gcc: `-ffixed-r11
 * -ffixed-r15`) and `%rbp` used at most as the frame pointer
 * (`-ffixed-rbp`): a general-purpose `%ebp` would be rebased by every
 * write, which breaks 64-bit values and flags kept in it. Instructions
 * inside an existing `.bundle_lock` region are trusted to be sandboxed by
 * hand and passed through.
 */
import { formatMemory, generalRegister, parseOperand, parseSource, register32, register64, type AsmLine, type MemoryOperand, type Operand } from './att.js';

/** Assembly the pass cannot make safe; the message names the line. */
export class SandboxError extends Error {
  constructor(
    message: string,
    readonly file: string,
    readonly line: number,
  ) {
    super(`${file}:${line}: ${message}`);
    this.name = 'SandboxError';
  }
}

const SCRATCH = 11;
const RSP = 4;
const RBP = 5;
const R15 = 15;

const TEXT_SECTION = /^\.text|^\.init|^\.fini/;

/** Follows the current section through .text/.data/.section/.pushsection/.popsection/.previous. */
class Sections {
  current = '.text';
  private previous = '.text';
  private readonly stack: { current: string; previous: string }[] = [];

  /** Updates the state for a directive; true when it was a section directive. */
  see(line: Extract<AsmLine, { kind: 'directive' }>): boolean {
    const set = (name: string): void => {
      this.previous = this.current;
      this.current = name;
    };
    switch (line.name) {
      case '.text':
      case '.data':
      case '.bss':
        set(line.name);
        return true;
      case '.section':
        set(line.args.split(',')[0]?.trim().replace(/^"|"$/g, '') ?? '');
        return true;
      case '.pushsection':
        this.stack.push({ current: this.current, previous: this.previous });
        set(line.args.split(',')[0]?.trim().replace(/^"|"$/g, '') ?? '');
        return true;
      case '.popsection': {
        const top = this.stack.pop();
        if (top) ({ current: this.current, previous: this.previous } = top);
        return true;
      }
      case '.previous':
        [this.current, this.previous] = [this.previous, this.current];
        return true;
      default:
        return false;
    }
  }

  get isText(): boolean {
    return TEXT_SECTION.test(this.current);
  }
}

/** Mnemonics whose last register operand is only read. */
const READ_ONLY = /^(cmp|test|push|bt[wlq]?$|ucomis|comis|ptest|vptest|vucomis|vcomis)/;

const STRING = /^(movs|stos|lods|cmps|scas|ins|outs)([bwlq])?$/;

const BRANCH = /^(j[a-z]+|call[lq]?|loop[a-z]*)$/;

/** Directives that name a symbol without taking its address. */
const NAMING_DIRECTIVES = new Set(['.type', '.size', '.local', '.hidden', '.internal', '.protected', '.weak', '.globl', '.global', '.file', '.ident']);

/**
 * Labels that must start a bundle because a masked jump may land on them:
 * global functions (another object may call them through a pointer), local
 * functions whose address is used in this file other than as the target of
 * a direct `call`/`jmp`/`jcc`, and code labels whose address is taken (jump
 * tables, `&&label`). A local function reached only by direct branches may
 * start anywhere: direct branches have no alignment rule (a small saving:
 * 0.5 KB of Lua's text, bench/toolchain.bench.ts; globals must stay aligned,
 * since this file cannot see what other objects do with them).
 */
function labelsToAlign(lines: readonly AsmLine[]): Set<string> {
  const out = new Set<string>();
  const functions = new Set<string>();
  const addressTaken = new Set<string>();
  const sections = new Sections();
  const symbols = /[A-Za-z_.][\w.$]*/g;
  for (const line of lines) {
    if (line.kind === 'directive') {
      sections.see(line);
      const type = /^([\w.$]+)\s*,\s*[@%]function/.exec(line.args);
      if (line.name === '.type' && type) functions.add(type[1] as string);
      if (line.name === '.globl' || line.name === '.global' || line.name === '.weak') for (const name of line.args.split(',')) out.add(name.trim());
      if (sections.current.startsWith('.debug') || NAMING_DIRECTIVES.has(line.name)) continue;
      // Jump tables and label tables in data (not debug info) name code labels; `.long f` takes f's address.
      for (const m of line.args.matchAll(symbols)) addressTaken.add(m[0]);
    } else if (line.kind === 'instruction') {
      // A direct branch's target is not an address use; any other mention is
      // (`movl $f, %eax`, `movl $.L5, %eax` for a computed goto, `leal f(%rip)`...).
      const direct = BRANCH.test(line.mnemonic) && line.operands.length === 1 && !line.operands[0]?.startsWith('*');
      if (direct) continue;
      for (const op of line.operands) for (const m of op.matchAll(symbols)) addressTaken.add(m[0]);
    }
  }
  for (const name of addressTaken) if (name.startsWith('.L') || functions.has(name)) out.add(name);
  return out;
}

/** One rewritten instruction: lines to emit. */
type Emit = string[];

function lock(body: readonly string[], alignToEnd = false): string[] {
  return [alignToEnd ? '\t.bundle_lock align_to_end' : '\t.bundle_lock', ...body.map((b) => `\t${b}`), '\t.bundle_unlock'];
}

const MASKED_JUMP = ['andl $-32, %r11d', 'addq %r15, %r11'];

function prefixText(prefixes: readonly string[]): string {
  const kept = prefixes.filter((p) => p !== 'notrack' && p !== 'addr32');
  return kept.length > 0 ? `${kept.join(' ')} ` : '';
}

/** Widens the registers of an address to 64 bits (no 0x67 prefix). */
function widen(m: MemoryOperand): MemoryOperand {
  const w = (r: string | null): string | null => {
    if (r === null) return null;
    const g = generalRegister(r);
    return g && g.bits === 32 ? register64(g.number) : r;
  };
  return { ...m, base: w(m.base), index: w(m.index) };
}

function asMemory(op: Operand): MemoryOperand | null {
  if (op.kind === 'memory') return op;
  if (op.kind === 'expression') return { kind: 'memory', segment: null, displacement: op.text, base: null, index: null, scale: 1 };
  return null;
}

/** The register number of a base/index, or -1 (rip, none, not general). */
function regNumber(r: string | null): number {
  if (r === null) return -1;
  return generalRegister(r)?.number ?? -1;
}

/** True when the operand is one the validator accepts as it is. */
function alreadySafe(m: MemoryOperand): boolean {
  if (m.base === 'rip' || m.base === 'eip') return m.index === null;
  const base = regNumber(m.base);
  if (m.index === null) return base === RSP || base === RBP || base === R15;
  return false;
}

/**
 * The sandboxed form of an operand the validator would refuse: the
 * instruction to put before it (restricting %r11) and the operand to use.
 * The whole address, displacement included, is computed by a 32-bit `lea`,
 * which wraps exactly as x32's address arithmetic does: gcc does split
 * addresses so that a part wraps (`-1056(%rbp,%rax,4)` with %rbp near the
 * top of 4 GiB), so the displacement cannot move into the access. An
 * absolute address below 2 GiB (a symbol) needs no register: `sym(%r15)`.
 */
function sandboxOperand(m: MemoryOperand): { before: string | null; operand: string } {
  const w = widen(m);
  const disp = w.displacement === '0' ? '' : w.displacement;
  if (w.base === null && w.index === null) {
    // A number outside [0, 2 GiB) as disp32 would be sign-extended below %r15: compute it as x32 does.
    const n = /^-?(0x[0-9a-f]+|\d+)$/i.test(disp) ? Number(disp) : 0;
    if (n < 0 || n >= 2 ** 31) return { before: `leal ${disp}, %r11d`, operand: '(%r15,%r11)' };
    return { before: null, operand: `${disp === '' ? '0' : disp}(%r15)` };
  }
  if (w.index === null && disp === '' && w.base !== null) return { before: `movl %${register32(regNumber(w.base))}, %r11d`, operand: '(%r15,%r11)' };
  return { before: `leal ${formatMemory(w)}, %r11d`, operand: '(%r15,%r11)' };
}

function usesScratch(operands: readonly Operand[]): boolean {
  const isScratch = (r: string | null): boolean => r !== null && generalRegister(r)?.number === SCRATCH;
  return operands.some((op) => {
    if (op.kind === 'register') return isScratch(op.name);
    if (op.kind === 'memory') return isScratch(op.base) || isScratch(op.index);
    if (op.kind === 'indirect') return op.target.kind === 'register' ? false : op.target.kind === 'memory' && (isScratch(op.target.base) || isScratch(op.target.index));
    return false;
  });
}

/** 64-bit forms that write %rsp/%rbp and have an allowed 32-bit twin. */
const NARROWABLE = /^(mov|add|sub|and|or|xor|lea)q$/;

class Pass {
  private readonly out: string[] = ['\t.bundle_align_mode 5'];
  private lineNo = 0;
  private inUserLock = 0;

  constructor(
    private readonly file: string,
    private readonly align: Set<string>,
  ) {}

  fail(message: string): never {
    throw new SandboxError(message, this.file, this.lineNo);
  }

  run(lines: readonly AsmLine[], sourceLines: readonly number[]): string {
    const sections = new Sections();
    lines.forEach((line, i) => {
      this.lineNo = sourceLines[i] ?? 0;
      if (line.kind === 'blank') return;
      if (line.kind === 'directive') {
        if (line.name === '.bundle_align_mode') return;
        if (line.name === '.code32' || line.name === '.code16') this.fail(`${line.name}: only 64-bit code can run in the sandbox`);
        if (line.name === '.bundle_lock') this.inUserLock++;
        if (line.name === '.bundle_unlock') this.inUserLock--;
        sections.see(line);
        this.out.push(`\t${line.text}`);
        return;
      }
      if (line.kind === 'label') {
        const aligned = this.align.has(line.name) && sections.isText;
        if (aligned) this.out.push('\t.p2align 5');
        this.out.push(line.text);
        // The same alignment again, which costs no byte, ends the label's
        // fragment in clang's assembler: without it, the padding that
        // `.bundle_lock align_to_end` puts before a call the label starts
        // with lands between the alignment and the label, and the label
        // names the call, not the bundle start (an entry `_start: call
        // main` was refused by the validator).
        if (aligned) this.out.push('\t.p2align 5');
        return;
      }
      if (this.inUserLock > 0 || !sections.isText) {
        this.out.push(`\t${line.text}`);
        return;
      }
      this.out.push(...this.instruction(line));
    });
    this.out.push('');
    return this.out.join('\n');
  }

  private instruction(line: Extract<AsmLine, { kind: 'instruction' }>): Emit {
    const { mnemonic } = line;
    const ops = line.operands.map(parseOperand);
    if (/^retq?$|^retl$/.test(mnemonic)) return this.ret(ops);
    if (/^leave[lq]?$/.test(mnemonic)) return ['\tmovq %rbp, %rsp', '\tpopq %r11', ...lock(['movl %r11d, %ebp', 'addq %r15, %rbp'])];
    if (mnemonic === 'enter' || mnemonic === 'enterq') this.fail('enter is not allowed in the sandbox (compile with gcc, which does not emit it)');
    if (/^pop[wlq]?$/.test(mnemonic) && ops.length === 1 && ops[0]?.kind === 'register') {
      const g = generalRegister(ops[0].name);
      if (g?.number === RBP) return ['\tpopq %r11', ...lock(['movl %r11d, %ebp', 'addq %r15, %rbp'])];
      if (g?.number === RSP) return ['\tpopq %r11', ...lock(['movl %r11d, %esp', 'addq %r15, %rsp'])];
    }
    const str = STRING.exec(mnemonic);
    if (str && ops.every((op) => op.kind !== 'immediate' && !(op.kind === 'register' && /^xmm|^ymm|^mm/.test(op.name)))) return this.string(line, str[1] as string, str[2], ops);
    if (BRANCH.test(mnemonic)) return this.branch(line, ops);
    if (/^bt[crs]?[wlq]?$/.test(mnemonic) && ops[0]?.kind === 'register') {
      // NaCl forbids every bt/btc/btr/bts with a register bit offset, even on a register.
      this.fail(`'${line.text}': bit tests with a register bit offset are not allowed in the sandbox (gcc: -mtune-ctrl=^use_bt)`);
    }
    if (usesScratch(ops)) this.fail(`'${line.text}' uses %r11, which the sandbox reserves as its scratch register (compile with -ffixed-r11)`);
    return this.general(line, ops);
  }

  /**
   * `ret` pops into the scratch register. Not into %rcx, although the
   * calling convention lets a callee clobber it and the masked return would
   * be 3 bytes shorter without %r11's REX prefixes: gcc's interprocedural
   * register allocation (-fipa-ra, on at -O2) keeps values in %rcx across
   * calls to functions it has seen leave %rcx alone, and Lua crashed.
   */
  private ret(ops: readonly Operand[]): Emit {
    if (ops.length === 1 && ops[0]?.kind === 'immediate') {
      return ['\tpopq %r11', ...lock([`addl $${ops[0].text}, %esp`, 'addq %r15, %rsp']), ...lock([...MASKED_JUMP, 'jmp *%r11'])];
    }
    return lock(['popq %r11', ...MASKED_JUMP, 'jmp *%r11']);
  }

  private string(line: Extract<AsmLine, { kind: 'instruction' }>, base: string, suffix: string | undefined, ops: readonly Operand[]): Emit {
    if (base === 'ins' || base === 'outs') this.fail(`${line.mnemonic}: port I/O is not allowed in the sandbox`);
    let size = suffix;
    if (size === undefined) {
      const reg = ops.find((op) => op.kind === 'register');
      const g = reg?.kind === 'register' ? generalRegister(reg.name) : null;
      size = g ? ({ 8: 'b', 16: 'w', 32: 'l', 64: 'q' } as const)[g.bits] : undefined;
      if (size === undefined) this.fail(`'${line.text}': write the operand size as a suffix (${line.mnemonic}b/w/l/q)`);
    }
    const usesSi = base === 'movs' || base === 'cmps' || base === 'lods';
    const usesDi = base !== 'lods';
    const body: string[] = [];
    if (usesSi) body.push('movl %esi, %esi', 'leaq (%r15,%rsi), %rsi');
    if (usesDi) body.push('movl %edi, %edi', 'leaq (%r15,%rdi), %rdi');
    body.push(`${prefixText(line.prefixes)}${base}${size}`);
    const after: string[] = [];
    if (usesSi) after.push('\tmovl %esi, %esi');
    if (usesDi) after.push('\tmovl %edi, %edi');
    return [...lock(body), ...after];
  }

  private branch(line: Extract<AsmLine, { kind: 'instruction' }>, ops: readonly Operand[]): Emit {
    const { mnemonic } = line;
    const isCall = mnemonic.startsWith('call');
    const target = ops[0];
    if (/^j[er]?cxz$/.test(mnemonic)) this.fail(`${mnemonic} is not allowed in the sandbox`);
    if (target?.kind !== 'indirect') {
      if (ops.length !== 1 || target === undefined || (target.kind !== 'expression' && target.kind !== 'immediate')) this.fail(`'${line.text}': unexpected branch operand`);
      return isCall ? lock([`call ${line.operands[0]}`], true) : [`\t${line.text}`];
    }
    const load: string[] = [];
    const t = target.target;
    if (t.kind === 'register') {
      const g = generalRegister(t.name);
      if (g === null || g.bits < 32) this.fail(`'${line.text}': indirect target must be a 32- or 64-bit general register`);
      if (g.number !== SCRATCH) load.push(`\tmovl %${register32(g.number)}, %r11d`);
    } else {
      const m = asMemory(t);
      if (m === null) this.fail(`'${line.text}': unexpected indirect target`);
      if (m.segment !== null) this.fail(`'${line.text}': segment overrides are not allowed in the sandbox`);
      if (alreadySafe(m)) load.push(`\tmovl ${formatMemory(widen(m))}, %r11d`);
      else {
        const safe = sandboxOperand(m);
        load.push(...(safe.before === null ? [`\tmovl ${safe.operand}, %r11d`] : lock([safe.before, `movl ${safe.operand}, %r11d`])));
      }
    }
    return [...load, ...lock([...MASKED_JUMP, `${isCall ? 'call' : 'jmp'} *%r11`], isCall)];
  }

  private general(line: Extract<AsmLine, { kind: 'instruction' }>, ops: readonly Operand[]): Emit {
    let mnemonic = line.mnemonic;
    const isLea = /^lea[wlq]?$/.test(mnemonic);
    const noAccess = isLea || /^nop[wlq]?$/.test(mnemonic) || mnemonic.startsWith('prefetch');
    const before: string[] = [];
    let rewritten = ops.map((op): string | Operand => op);
    rewritten = ops.map((op) => {
      const m = op.kind === 'memory' ? op : null;
      if (m === null) return op;
      if (m.segment !== null) {
        this.fail(`'${line.text}': segment overrides (thread-local storage through %${m.segment}) are not supported in the sandbox`);
      }
      if (noAccess || alreadySafe(m)) return formatMemory(widen(m));
      if (before.length > 0) this.fail(`'${line.text}': two memory operands`);
      const safe = sandboxOperand(m);
      if (safe.before !== null) before.push(safe.before);
      return safe.operand;
    });
    // A bare expression in a non-branch instruction is an absolute address (`movl foo, %eax`).
    rewritten = rewritten.map((op, i) => {
      if (typeof op === 'string' || op.kind !== 'expression') return op;
      if (noAccess) return line.operands[i] as string;
      if (before.length > 0) this.fail(`'${line.text}': two memory operands`);
      const safe = sandboxOperand(asMemory(op) as MemoryOperand);
      if (safe.before !== null) before.push(safe.before);
      return safe.operand;
    });
    let texts = rewritten.map((op, i) => (typeof op === 'string' ? op : (line.operands[i] as string)));

    // Writes to %rsp / %rbp.
    const after: string[] = [];
    const last = ops[ops.length - 1];
    const written: { index: number; reg: number; bits: number }[] = [];
    const dest = last?.kind === 'register' ? generalRegister(last.name) : null;
    if (dest && (dest.number === RSP || dest.number === RBP) && !READ_ONLY.test(mnemonic)) written.push({ index: ops.length - 1, reg: dest.number, bits: dest.bits });
    if (/^(xchg|xadd)/.test(mnemonic) && ops[0]?.kind === 'register') {
      const first = generalRegister(ops[0].name);
      if (first && (first.number === RSP || first.number === RBP)) this.fail(`'${line.text}': exchanging %rsp/%rbp is not allowed in the sandbox`);
    }
    for (const w of written) {
      const name = w.reg === RSP ? 'rsp' : 'rbp';
      if (w.bits === 8 || w.bits === 16) this.fail(`'${line.text}': 8- and 16-bit writes to %${name} are not allowed in the sandbox`);
      // The moves the validator allows as they are.
      const src = ops[0]?.kind === 'register' ? generalRegister(ops[0].name) : null;
      if (/^mov[lq]?$/.test(mnemonic) && ops.length === 2 && src && src.bits === w.bits && (src.number === RSP || src.number === RBP) && src.number !== w.reg) {
        return [`\tmovq %${register64(src.number)}, %${name}`];
      }
      if (w.bits === 64) {
        const imm = ops[0]?.kind === 'immediate' ? Number(ops[0].text) : NaN;
        if (/^and[q]?$/.test(mnemonic) && w.reg === RSP && imm < 0 && imm >= -128) return [`\t${line.text}`];
        if (!NARROWABLE.test(mnemonic) && !/^(mov|add|sub|and|or|xor|lea)$/.test(mnemonic)) this.fail(`'${line.text}': this 64-bit write to %${name} has no sandboxed form`);
        if (mnemonic.endsWith('q')) mnemonic = `${mnemonic.slice(0, -1)}l`;
        texts = texts.map((t, i) => {
          const op = ops[i];
          if (op?.kind !== 'register') return t;
          const g = generalRegister(op.name);
          return g && g.bits === 64 ? `%${register32(g.number)}` : t;
        });
      }
      after.push(`addq %r15, %${name}`);
    }
    // %ah..%dh cannot be encoded with a REX prefix, which (%r15,%r11) needs: swap the
    // high byte into the low one around the access (xchg leaves the flags alone), and
    // re-restrict %r11 right before the access.
    const high = texts.some((t) => t.includes('%r15')) ? texts.findIndex((t) => /^%[abcd]h$/i.test(t)) : -1;
    if (high >= 0) {
      const h = (texts[high] as string).toLowerCase();
      const low = `%${h[1]}l`;
      texts = texts.map((t, i) => (i === high ? low : t));
      const swap = `xchgb ${h}, ${low}`;
      const insn = `${prefixText(line.prefixes)}${mnemonic} ${texts.join(', ')}`;
      return lock([...before, swap, ...(before.length > 0 ? ['movl %r11d, %r11d'] : []), insn, swap, ...after]);
    }
    const insn = `${prefixText(line.prefixes)}${mnemonic}${texts.length > 0 ? ` ${texts.join(', ')}` : ''}`;
    if (before.length === 0 && after.length === 0) return [`\t${insn}`];
    return lock([...before, insn, ...after]);
  }
}

/**
 * Rewrites one assembly source (gcc -S output or preprocessed `.S`) into its
 * sandboxed form. Throws `SandboxError` for constructs that cannot be
 * sandboxed (segment overrides, `enter`, `jecxz`, 16-bit stack writes...).
 */
export function sandboxAssembly(source: string, file = '<asm>'): string {
  const lines: AsmLine[] = [];
  const numbers: number[] = [];
  source.split('\n').forEach((text, i) => {
    for (const line of parseSource(text)) {
      lines.push(line);
      numbers.push(i + 1);
    }
  });
  return new Pass(file, labelsToAlign(lines)).run(lines, numbers);
}
