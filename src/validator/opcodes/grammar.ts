/**
 * The grammar of the opcode tables, and its parser.
 *
 * Pipeline position: opcode tables (text, this folder) -> this parser ->
 * `forms.ts` (compiled once into typed arrays) -> decoder -> validator.
 *
 * Every instruction form the decoder knows is one line of a table in this
 * folder. A line has four columns separated by `|`:
 *
 *     encoding                 | instruction            | feature | attributes
 *     00 /r                    | add &Eb, Gb            | -       | lock zx
 *     NP 0F 58 /r              | addps &Vx, Wx          | SSE     |
 *     VEX.128.66.0F38.W0 99 /r | vfmadd132ss &V, H, Wd  | FMA     |
 *
 * `#` starts a comment. Blank lines are ignored.
 *
 * ## Encoding column (tokens separated by spaces, in this order)
 * - Mandatory prefix, optional: `NP` (none of 66/F2/F3 may be present),
 *   `66`, `F2` or `F3` (that prefix must be the last of 66/F2/F3 and is part
 *   of the opcode). Without one, 66 is the operand-size prefix and F2/F3 are
 *   repeat prefixes (accepted only with the `rep`/`repcc` attributes).
 * - VEX forms instead start with one token `VEX.<L>.<pp>.<map>.<W>`:
 *   L in 128|256|LIG|128/256, pp in NP|66|F2|F3, map in 0F|0F38|0F3A, W in
 *   W0|W1|WIG. `128/256` writes the two vector lengths in one line (like
 *   `+cc`): the line becomes a VEX.128 and a VEX.256 form, its `x` operand
 *   sizes are 128 and 256 bits, and its feature column may name one
 *   feature per length (`AVX/AVX2`).
 * - Escape bytes: `0F`, `0F 38`, `0F 3A`, or `0F 0F` (3DNow!, whose opcode is
 *   the byte after the operands, written last as `/r <hex>`).
 * - The opcode byte: `XX`, `XX+r` (register number in its low 3 bits, plus
 *   REX.B) or `XX+cc` (16 lines, condition code in the low 4 bits; the
 *   mnemonic's `cc` becomes o, no, b, ae, e, ne, be, a, s, ns, p, np, l, ge,
 *   le, g).
 * - ModRM, optional: `/r` (any reg field), `/0`..`/7` (reg field fixed),
 *   a literal byte `XX` (the whole ModRM byte, register form) or `XX+i`
 *   (eight ModRM bytes XX..XX+7, e.g. x87 `st(i)` forms).
 * - `W0` / `W1`, optional: REX.W (or VEX.W) must be 0 / 1.
 *
 * ## Instruction column
 * The mnemonic, then operands in Intel order (destination first). An operand
 * may start with an access mark: `=` written, `&` read and written; no mark
 * means read only. (NaCl's .def files mark operands differently: there `=` is
 * read-only and `!` write-only; do not mix the two up.) Operand types are
 * the letters of the AMD/Intel opcode maps:
 *   E  ModRM r/m: general register or memory   G  ModRM reg: general register
 *   M  ModRM r/m: memory only                  R  ModRM r/m: general register only
 *   W  ModRM r/m: xmm/ymm or memory            V  ModRM reg: xmm/ymm
 *   U  ModRM r/m: xmm/ymm only                 H  VEX.vvvv: xmm/ymm
 *   Q  ModRM r/m: mmx or memory                P  ModRM reg: mmx
 *   N  ModRM r/m: mmx only                     B  VEX.vvvv: general register
 *   L  imm8[7:4]: xmm/ymm                      Z  opcode low bits: general register
 *   I  immediate                               J  relative branch target
 *   O  absolute address (moffs64)              S  ModRM reg: segment register
 *   C  ModRM reg: control register             D  ModRM reg: debug register
 *   X  string source ds:(rsi)                  Y  string destination es:(rdi)
 *   T  ModRM r/m: x87 st(i)
 * followed by a size: b 8, w 16, d 32, q 64, t 80, dq 128, qq 256,
 * v 16/32/64 (66 / none / REX.W), z 16/32 (66 / otherwise), y 32/64 (REX.W),
 * s 64 or 16 with 66 (stack and branch operand size), x 128/256 (VEX.L),
 * or no size (address only, e.g. `lea`, `prefetch`).
 * Fixed registers are spelled out: AL, CL, DX, AX, EAX, EDX, RAX, ST0, XMM0
 * (implicit; not tracked by the validator), `rAX` (the accumulator at size v,
 * tracked like an explicit operand) and the constant `1` (shift by one).
 *
 * ## Feature column
 * The CPU feature (CPUID bit) the form needs, or `-` for the base ISA; the
 * names are the keys of `CPU_FEATURES` in `../features.ts`.
 *
 * ## Attributes column (space separated)
 * An attribute applies under every validation policy, unless it is
 * qualified with a policy: `nacl:deny=legacy` applies under `nacl` and the
 * policies extending it (see `../policies.ts`), `zerovm:allow` lifts a deny
 * under `zerovm` only, `zerovm:-zx` removes `zx` there. Qualified
 * attributes override unqualified ones, a policy's own override its
 * parent's. Only the validation attributes can be qualified (not `lock`,
 * which the decoder needs, nor `anyvvvv`).
 * - `lock`      LOCK is allowed (with a memory destination).
 * - `rep`       F3 (rep) is allowed;  `repcc`: F2 and F3 (repne/repe).
 * - `zx`        a 32-bit register result zero-extends to 64 bits in a way
 *               the sandbox may rely on ("restricted register", NaCl's
 *               nacl-amd64-zero-extends).
 * - `noaddr`    the memory operand is an address that is never accessed
 *               (lea, nop, prefetch): no sandboxing check applies.
 * - `no66`      the 66 prefix is not allowed (NaCl: no 16-bit branches).
 * - `hint`      2E/3E are branch hints here (not taken / taken), allowed.
 * - `nondet`    the result differs between machines (rdtsc, ...): rejected
 *               by the deterministic policy, accepted by NaCl's.
 * - `norex`     no REX prefix (NaCl's encoding of the form has none).
 * - `size66`    66 selects the 16-bit form although no operand is written
 *               out (cbw/cwd: implicit accumulator operands).
 * - `L1`        VEX: NaCl accepts this VEX.LIG form only with VEX.L = 1
 *               (by default the bits an instruction ignores must be 0).
 * - `anyvvvv`   VEX: VEX.vvvv is unused but any value decodes (NaCl's
 *               definition of the form ignores it; the CPU would #UD).
 * - `allow`     (qualified only) the form is allowed under that policy,
 *               whatever `deny=` says elsewhere.
 * - `deny=<why>` the sandbox never accepts this form on its own; `<why>` is a
 *               key of `DENY_REASONS` below, which gives the user's message.
 *               `deny=special` marks forms that are accepted only inside a
 *               superinstruction (string instructions, maskmov, indirect
 *               jmp/call) — the validator's superinstruction rules say how.
 */

import { isValidationPolicy, policyLineage, type ValidationPolicy } from '../policies.js';

/** Why a form is never accepted on its own. Keys appear as `deny=<key>`. */
export const DENY_REASONS = {
  special: 'allowed only inside its sandboxing superinstruction',
  syscall: 'system calls are not allowed; a sandboxed program calls the trampoline',
  privileged: 'privileged or system instruction',
  segment: 'segment registers may not be used or changed',
  io: 'port I/O is not allowed',
  ret: 'ret is not allowed; return with pop %r11 and a masked jmp',
  far: 'far (inter-segment) control transfer is not allowed',
  indirect: 'indirect jump or call must use the masked nacljmp/naclcall form',
  btmem: 'bit test with a register bit offset can reach outside the operand in memory',
  stack: 'this instruction changes %rsp or %rbp in a way the sandbox cannot check',
  legacy: 'instruction is not part of the sandbox instruction set',
  unknown: 'instruction set extension or form the sandbox does not know',
  unsupported: 'instruction set extension not accepted by the sandbox',
  clock: 'reads the time stamp counter, which differs from run to run (ZeroVM refuses it)',
  novex: "VEX-encoded instructions (AVX, FMA, BMI, ...) are not part of ZeroVM 2015's instruction set",
} as const;
export type DenyReason = keyof typeof DENY_REASONS;

export type MandatoryPrefix = 'none' | 'NP' | '66' | 'F2' | 'F3';
export type OpcodeMap = 'legacy' | '0F' | '0F38' | '0F3A' | '3DNow';
export type Access = 'r' | 'w' | 'rw';

/** One operand as written in a table. */
export interface OperandSpec {
  readonly access: Access;
  /** Operand type letter (E, G, ...), 'fixed' for a spelled-out register, 'one' for the constant 1. */
  readonly kind: string;
  /** Size code (b, w, d, v, ...) or '' ; for fixed registers the register name. */
  readonly size: string;
}

/** One opcode table: its text and where that text starts in its source file. */
export interface OpcodeTable {
  /** Short name used in messages, e.g. `legacy`. */
  readonly name: string;
  /** Source file name, e.g. `legacy.ts` (in src/validator/opcodes/). */
  readonly file: string;
  /** Line of `file` on which `text` begins (the line of the opening backtick). */
  readonly line: number;
  /** Attributes every line of the table has, before its own (see "Table attributes" above). */
  readonly attributes?: string;
  readonly text: string;
}

/** An attribute that applies under one policy (and the policies extending it). */
export interface PolicyAttribute {
  readonly policy: ValidationPolicy;
  /** Attribute name (`zx`, `deny`, `allow`, ...). */
  readonly name: string;
  /** `policy:-name`: the attribute is removed under that policy. */
  readonly negate: boolean;
  /** The reason of `deny=<why>`. */
  readonly deny: DenyReason | null;
}

/** One encoding form: one table line (after `+cc` and `128/256` expansion). */
export interface FormSpec {
  readonly table: string;
  /** Source file of the table line, e.g. `legacy.ts`. */
  readonly file: string;
  /** Line of the form in `file`. */
  readonly line: number;
  readonly map: OpcodeMap;
  readonly vex: boolean;
  /** VEX only: required L (0, 1) or -1 when ignored. */
  readonly vexL: number;
  readonly prefix: MandatoryPrefix;
  readonly opcode: number;
  /** Low 3 bits of the opcode carry a register (`+r`). */
  readonly opcodeReg: boolean;
  readonly hasModrm: boolean;
  /** Required ModRM.reg, or -1. */
  readonly modrmReg: number;
  /** Literal ModRM byte (register form) or -1; with `modrmRange` 8 bytes from it. */
  readonly modrmLiteral: number;
  readonly modrmRange: number;
  /** 3DNow! suffix opcode, or -1. */
  readonly suffix: number;
  /** REX.W / VEX.W requirement: 0, 1, or -1 (either). */
  readonly w: number;
  readonly mnemonic: string;
  readonly operands: readonly OperandSpec[];
  readonly feature: string;
  /** Attributes that apply under every policy. */
  readonly attributes: ReadonlySet<string>;
  /** `deny=` under every policy. */
  readonly deny: DenyReason | null;
  /** Attributes qualified with a policy (`nacl:deny=unknown`), in table order. */
  readonly policyAttributes: readonly PolicyAttribute[];
}

export class TableSyntaxError extends Error {
  constructor(table: string, line: number, message: string) {
    super(`${table}:${line}: ${message}`);
    this.name = 'TableSyntaxError';
  }
}

const CONDITION_CODES = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];
/** Attributes the decoder itself needs: the same under every policy. */
const STRUCTURAL_ATTRIBUTES = new Set(['lock', 'anyvvvv']);
/** Attributes the validator's rules read: may be qualified with a policy. */
const VALIDATION_ATTRIBUTES = new Set(['rep', 'repcc', 'zx', 'noaddr', 'no66', 'nondet', 'hint', 'norex', 'size66', 'L1']);
const OPERAND_KINDS = new Set('EGMRWVUHQPNBLZIJOSCDXYT'.split(''));
const SIZES = new Set(['', 'b', 'w', 'd', 'q', 't', 'dq', 'qq', 'v', 'z', 'y', 's', 'x']);
const FIXED_REGISTERS = new Set([
  'AL', 'CL', 'DX', 'AX', 'EAX', 'ECX', 'EDX', 'EBX', 'RAX', 'RCX', 'RDX', 'RBX',
  'ST0', 'XMM0', 'rAX', 'FS', 'GS',
]);

const HEX_BYTE = /^[0-9A-F]{2}$/;

function hexByte(token: string): number | null {
  return HEX_BYTE.test(token) ? parseInt(token, 16) : null;
}

function parseOperand(text: string, fail: (m: string) => never): OperandSpec {
  let access: Access = 'r';
  let body = text;
  if (body.startsWith('=')) {
    access = 'w';
    body = body.slice(1);
  } else if (body.startsWith('&')) {
    access = 'rw';
    body = body.slice(1);
  }
  if (body === '1') return { access, kind: 'one', size: '' };
  if (FIXED_REGISTERS.has(body)) return { access, kind: 'fixed', size: body };
  const kind = body.charAt(0);
  const size = body.slice(1);
  if (!OPERAND_KINDS.has(kind)) fail(`unknown operand type '${body}'`);
  if (!SIZES.has(size)) fail(`unknown operand size '${size}' in '${body}'`);
  return { access, kind, size };
}

interface EncodingParts {
  map: OpcodeMap;
  vex: boolean;
  /** VEX.L: 0, 1, -1 (ignored), or 2 for `128/256` (one form per length). */
  vexL: number;
  prefix: MandatoryPrefix;
  opcode: number;
  opcodePlus: '' | 'r' | 'cc';
  hasModrm: boolean;
  modrmReg: number;
  modrmLiteral: number;
  modrmRange: number;
  suffix: number;
  w: number;
}

/** `vexL` of a `VEX.128/256` line before expansion. */
const BOTH_LENGTHS = 2;

function parseVexToken(token: string, parts: EncodingParts, fail: (m: string) => never): void {
  const fields = token.split('.');
  if (fields.length !== 5) fail(`VEX token '${token}' must be VEX.<L>.<pp>.<map>.<W>`);
  const [, l, pp, map, w] = fields as [string, string, string, string, string];
  parts.vex = true;
  if (l === '128' || l === 'L0') parts.vexL = 0;
  else if (l === '256' || l === 'L1') parts.vexL = 1;
  else if (l === 'LIG') parts.vexL = -1;
  else if (l === '128/256') parts.vexL = BOTH_LENGTHS;
  else fail(`bad VEX.L '${l}'`);
  if (pp === 'NP' || pp === '66' || pp === 'F2' || pp === 'F3') parts.prefix = pp;
  else fail(`bad VEX.pp '${pp}'`);
  if (map === '0F' || map === '0F38' || map === '0F3A') parts.map = map;
  else fail(`bad VEX map '${map}'`);
  if (w === 'W0') parts.w = 0;
  else if (w === 'W1') parts.w = 1;
  else if (w === 'WIG') parts.w = -1;
  else fail(`bad VEX.W '${w}'`);
}

function parseEncoding(text: string, fail: (m: string) => never): EncodingParts {
  const tokens = text.split(/\s+/).filter((t) => t.length > 0);
  const parts: EncodingParts = {
    map: 'legacy', vex: false, vexL: -1, prefix: 'none', opcode: -1, opcodePlus: '',
    hasModrm: false, modrmReg: -1, modrmLiteral: -1, modrmRange: 1, suffix: -1, w: -1,
  };
  let i = 0;
  const first = tokens[0] ?? fail('empty encoding');
  if (first.startsWith('VEX.')) {
    parseVexToken(first, parts, fail);
    i = 1;
  } else {
    if (first === 'NP' || first === '66' || first === 'F2' || first === 'F3') {
      // "66 0F ..." is a mandatory prefix; a bare "66" opcode does not exist.
      if (tokens[1] === '0F' || first === 'NP') {
        parts.prefix = first;
        i = 1;
      } else if (first === 'F3' || first === 'F2') {
        parts.prefix = first; // e.g. "F3 90" pause
        i = 1;
      }
    }
    if (tokens[i] === '0F') {
      const next = tokens[i + 1];
      if (next === '38') { parts.map = '0F38'; i += 2; }
      else if (next === '3A') { parts.map = '0F3A'; i += 2; }
      else if (next === '0F') { parts.map = '3DNow'; i += 2; parts.hasModrm = true; }
      else { parts.map = '0F'; i += 1; }
    }
  }
  if (parts.map === '3DNow') {
    // 0F 0F /r <suffix>
    if (tokens[i] !== '/r') fail('3DNow! form must be "0F 0F /r <suffix>"');
    const suffix = hexByte(tokens[i + 1] ?? '');
    if (suffix === null) fail('3DNow! suffix byte missing');
    parts.opcode = 0x0f;
    parts.suffix = suffix;
    i += 2;
  } else {
    const opToken = tokens[i] ?? fail('opcode byte missing');
    const m = /^([0-9A-F]{2})(\+r|\+cc)?$/.exec(opToken);
    if (!m) fail(`bad opcode token '${opToken}'`);
    parts.opcode = parseInt(m[1] as string, 16);
    parts.opcodePlus = m[2] === '+r' ? 'r' : m[2] === '+cc' ? 'cc' : '';
    i += 1;
    const modrm = tokens[i];
    if (modrm !== undefined && modrm !== 'W0' && modrm !== 'W1') {
      parts.hasModrm = true;
      if (modrm === '/r') {
        // any reg field
      } else if (/^\/[0-7]$/.test(modrm)) {
        parts.modrmReg = Number(modrm.slice(1));
      } else {
        const lit = /^([0-9A-F]{2})(\+i)?$/.exec(modrm);
        if (!lit) fail(`bad ModRM token '${modrm}'`);
        parts.modrmLiteral = parseInt(lit[1] as string, 16);
        if (parts.modrmLiteral < 0xc0) fail('a literal ModRM byte must be a register form (>= C0)');
        parts.modrmRange = lit[2] ? 8 : 1;
        parts.modrmReg = (parts.modrmLiteral >> 3) & 7;
      }
      i += 1;
    }
  }
  for (; i < tokens.length; i++) {
    const t = tokens[i];
    if (t === 'W0' && !parts.vex) parts.w = 0;
    else if (t === 'W1' && !parts.vex) parts.w = 1;
    else fail(`unexpected encoding token '${t ?? ''}'`);
  }
  return parts;
}

/**
 * Mnemonics may list one name per operand size, separated by `/`: three
 * names are for 16/32/64-bit operand size (`cbw/cwde/cdqe`), two names for
 * 16/64 (stack-sized forms such as `pushfw/pushfq`).
 */

function parseAttributes(text: string, fail: (m: string) => never): { attributes: Set<string>; deny: DenyReason | null; policyAttributes: PolicyAttribute[] } {
  const attributes = new Set<string>();
  let deny: DenyReason | null = null;
  const policyAttributes: PolicyAttribute[] = [];
  for (const token of text.split(/\s+/).filter((a) => a.length > 0)) {
    const colon = token.indexOf(':');
    const policy = colon < 0 ? null : token.slice(0, colon);
    let attr = colon < 0 ? token : token.slice(colon + 1);
    if (policy !== null && !isValidationPolicy(policy)) fail(`unknown policy '${policy}' in '${token}'`);
    const negate = policy !== null && attr.startsWith('-');
    if (negate) attr = attr.slice(1);
    let reason: DenyReason | null = null;
    let name = attr;
    if (attr.startsWith('deny=')) {
      const why = attr.slice(5);
      if (!(why in DENY_REASONS)) fail(`unknown deny reason '${why}'`);
      reason = why as DenyReason;
      name = 'deny';
    } else if (!STRUCTURAL_ATTRIBUTES.has(attr) && !VALIDATION_ATTRIBUTES.has(attr) && attr !== 'allow') {
      fail(`unknown attribute '${attr}'`);
    }
    if (policy === null) {
      if (name === 'allow') fail("'allow' needs a policy ('zerovm:allow')");
      if (name === 'deny') deny = reason;
      else attributes.add(name);
    } else {
      if (STRUCTURAL_ATTRIBUTES.has(name)) fail(`'${name}' is read by the decoder and cannot depend on the policy`);
      if (negate && (name === 'deny' || name === 'allow')) fail(`'-${name}' means nothing; use '${policy}:allow'`);
      policyAttributes.push({ policy: policy as ValidationPolicy, name, negate, deny: reason });
    }
  }
  return { attributes, deny, policyAttributes };
}

/** A form's attributes and deny reason under `policy` (qualified attributes resolved). */
export function attributesUnder(form: FormSpec, policy: ValidationPolicy): { attributes: ReadonlySet<string>; deny: DenyReason | null } {
  if (form.policyAttributes.length === 0) return { attributes: form.attributes, deny: form.deny };
  const attributes = new Set(form.attributes);
  let deny = form.deny;
  for (const p of policyLineage(policy)) {
    for (const a of form.policyAttributes) {
      if (a.policy !== p) continue;
      if (a.name === 'deny') deny = a.deny;
      else if (a.name === 'allow') deny = null;
      else if (a.negate) attributes.delete(a.name);
      else attributes.add(a.name);
    }
  }
  return { attributes, deny };
}

/**
 * Parses one table. Each form remembers its table's name and the line of
 * the source file it was written on (`table.line` is the file line of the
 * text's first line).
 */
export function parseTable(table: OpcodeTable): FormSpec[] {
  const name = table.name;
  const forms: FormSpec[] = [];
  const lines = table.text.split('\n');
  lines.forEach((raw, index) => {
    const lineNo = table.line + index;
    const fail = (message: string): never => {
      throw new TableSyntaxError(table.file, lineNo, message);
    };
    const content = raw.replace(/#.*$/, '').trim();
    if (content.length === 0) return;
    const columns = content.split('|').map((c) => c.trim());
    if (columns.length < 3 || columns.length > 4) fail('expected 3 or 4 columns separated by |');
    const [encodingText, instructionText, featureText, attributeText = ''] = columns as [string, string, string, string?];
    const encoding = parseEncoding(encodingText, fail);
    const spaceAt = instructionText.search(/\s/);
    const mnemonic = spaceAt < 0 ? instructionText : instructionText.slice(0, spaceAt);
    const operandText = spaceAt < 0 ? '' : instructionText.slice(spaceAt + 1).trim();
    const operands = operandText.length === 0 ? [] : operandText.split(',').map((o) => parseOperand(o.trim(), fail));
    const { attributes, deny, policyAttributes } = parseAttributes(`${table.attributes ?? ''} ${attributeText}`, fail);
    const usesModrm = operands.some((o) => 'EGMRWVUQPNSCDT'.includes(o.kind));
    if (usesModrm && !encoding.hasModrm) fail('operands use ModRM but the encoding has no /r, /digit or ModRM byte');
    if (encoding.opcodePlus === 'r' && !operands.some((o) => o.kind === 'Z')) fail('+r encoding needs a Z operand');
    if (encoding.opcodePlus === 'cc' && !mnemonic.includes('cc')) fail('+cc encoding needs "cc" in the mnemonic');
    const bothLengths = encoding.vexL === BOTH_LENGTHS;
    if (bothLengths && operands.some((o) => o.size === 'dq' || o.size === 'qq')) fail('a 128/256 line sizes its vector operands with x (dq and qq are for one length)');
    const features = featureText.split('/');
    if (features.length > (bothLengths ? 2 : 1)) fail(bothLengths ? 'at most one feature per vector length' : 'one feature (feature/feature is for 128/256 lines)');
    const lengths = bothLengths ? [0, 1] : [encoding.vexL];
    const conditions = encoding.opcodePlus === 'cc' ? 16 : 1;
    for (const vexL of lengths) {
      for (let cc = 0; cc < conditions; cc++) {
        forms.push({
          table: name,
          file: table.file,
          line: lineNo,
          map: encoding.map,
          vex: encoding.vex,
          vexL,
          prefix: encoding.prefix,
          opcode: encoding.opcode + cc,
          opcodeReg: encoding.opcodePlus === 'r',
          hasModrm: encoding.hasModrm,
          modrmReg: encoding.modrmReg,
          modrmLiteral: encoding.modrmLiteral,
          modrmRange: encoding.modrmRange,
          suffix: encoding.suffix,
          w: encoding.w,
          mnemonic: conditions > 1 ? mnemonic.replace('cc', CONDITION_CODES[cc] as string) : mnemonic,
          operands,
          feature: (features[vexL === 1 ? features.length - 1 : 0] as string).trim(),
          attributes,
          deny,
          policyAttributes,
        });
      }
    }
  });
  return forms;
}
