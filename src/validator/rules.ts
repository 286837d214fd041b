/**
 * The validator's rule table: every way code can break the sandbox, with a
 * stable id, the user's message, the spec section that explains it, and the
 * message NaCl's own validator prints for it (so results can be compared
 * with NaCl's test corpus and tools).
 *
 * Pipeline position: decoder -> validator (`validate.ts`) -> these ids in
 * every `ValidationError`. Ids never change once published; add new ones.
 */

export interface RuleInfo {
  /** What the user reads. */
  readonly message: string;
  /** Section of spec/validator.md that explains the rule. */
  readonly spec: string;
  /** What NaCl's validator_ragel prints for the same problem (ncval/rdfa_output). */
  readonly nacl: string | null;
  /**
   * Fatal errors stop the validation of the rest of the bundle (as in NaCl,
   * whose decoder cannot know where the next instruction starts). This is
   * the only place that decides it: every check in validate.ts stops when
   * the rule it reported is fatal.
   */
  readonly fatal: boolean;
}

export const RULES = {
  'undecodable-instruction': {
    message: 'cannot decode an instruction here',
    spec: '#r-instruction-set',
    nacl: 'unrecognized instruction',
    fatal: true,
  },
  'forbidden-instruction': {
    message: 'instruction is not allowed in the sandbox',
    spec: '#r-instruction-set',
    nacl: 'unrecognized instruction',
    fatal: true,
  },
  'forbidden-prefix': {
    message: 'prefix combination is not allowed',
    spec: '#r-prefixes',
    nacl: 'unrecognized instruction',
    fatal: true,
  },
  'crosses-bundle': {
    message: 'instruction crosses a 32-byte bundle boundary',
    spec: '#r-bundles',
    nacl: 'unrecognized instruction',
    fatal: true,
  },
  'unsupported-extension': {
    message: 'instruction set extension not accepted by the sandbox',
    spec: '#r-instruction-set',
    // NaCl decodes these (it knows their length) but does not allow the
    // CPU feature, so it continues with the next instruction.
    nacl: 'unrecognized instruction',
    fatal: false,
  },
  'noncanonical-encoding': {
    message: 'instruction encoding has bits set that the instruction ignores (only the canonical encoding is accepted)',
    spec: '#r-prefixes',
    nacl: 'unrecognized instruction',
    fatal: true,
  },
  'unsandboxed-string-or-indirect': {
    message: 'string instruction, maskmov or indirect jump/call without its sandboxing sequence',
    spec: '#r-superinstructions',
    nacl: 'unrecognized instruction',
    fatal: true,
  },
  'string-rsi-overwritten': {
    message: 'movs/cmps: %rsi is written between its sandboxing lea and the string instruction',
    spec: '#r-superinstructions',
    // ZeroVM 2015's validator accepts this (unsafe: %rsi may then hold any
    // 64-bit address); NaCl's fixed sequences cannot express it.
    nacl: null,
    fatal: true,
  },
  'superinstruction-register-mismatch': {
    message: 'nacljmp/naclcall must mask, rebase and jump through the same register',
    spec: '#r-indirect-jumps',
    nacl: 'unrecognized instruction',
    // NaCl reports the jump or call and goes on; the three instructions are
    // then ordinary ones (each a valid jump target).
    fatal: false,
  },
  'cpu-feature-missing': {
    message: 'instruction needs a CPU feature that the target CPU lacks',
    spec: '#r-cpu-features',
    nacl: 'unrecognized instruction',
    fatal: false,
  },
  'nondeterministic-instruction': {
    message: 'instruction gives machine-dependent results (rejected by the deterministic policy)',
    spec: '#r-determinism',
    nacl: null,
    fatal: false,
  },
  'direct-jump-out-of-range': {
    message: 'direct jump or call leaves the code region at an unaligned address',
    spec: '#r-direct-jumps',
    nacl: 'direct jump out of range',
    fatal: false,
  },
  'bad-jump-target': {
    message: 'direct jump or call lands inside an instruction or superinstruction',
    spec: '#r-direct-jumps',
    nacl: 'bad jump target',
    fatal: false,
  },
  'bad-base-register': {
    message: 'memory operand must be based on %r15, %rsp, %rbp or %rip',
    spec: '#r-memory-operands',
    nacl: 'improper memory address - bad base',
    fatal: false,
  },
  'bad-index-register': {
    message: 'index register must be zero-extended by the previous instruction in the same bundle',
    spec: '#r-memory-operands',
    nacl: 'improper memory address - bad index',
    fatal: false,
  },
  'rsp-not-rebased': {
    message: 'a 32-bit write to %esp must be followed by add %r15,%rsp (or lea) in the same bundle',
    spec: '#r-rsp-rbp',
    nacl: 'improper %rsp sandboxing',
    fatal: false,
  },
  'rbp-not-rebased': {
    message: 'a 32-bit write to %ebp must be followed by add %r15,%rbp (or lea) in the same bundle',
    spec: '#r-rsp-rbp',
    nacl: 'improper %rbp sandboxing',
    fatal: false,
  },
  'rsp-rebase-without-write': {
    message: 'add %r15,%rsp must directly follow a 32-bit write to %esp',
    spec: '#r-rsp-rbp',
    nacl: 'improper %rsp sandboxing',
    fatal: false,
  },
  'rbp-rebase-without-write': {
    message: 'add %r15,%rbp must directly follow a 32-bit write to %ebp',
    spec: '#r-rsp-rbp',
    nacl: 'improper %rbp sandboxing',
    fatal: false,
  },
  'r15-modified': {
    message: '%r15 (the sandbox base) must never be written',
    spec: '#r-r15',
    nacl: 'error - %r15 is changed',
    fatal: false,
  },
  'rbp-modified': {
    message: '%rbp may only be changed by a 32-bit write followed by add %r15,%rbp, or by mov %rsp,%rbp',
    spec: '#r-rsp-rbp',
    nacl: 'error - %bpl or %bp is changed',
    fatal: false,
  },
  'rsp-modified': {
    message: '%rsp may only be changed by a 32-bit write followed by add %r15,%rsp, mov %rbp,%rsp, and with a negative 8-bit mask, or push/pop/call',
    spec: '#r-rsp-rbp',
    nacl: 'error - %spl or %sp is changed',
    fatal: false,
  },
  'bad-code-region': {
    message: 'code region must start at a 32-byte aligned address',
    spec: '#r-bundles',
    nacl: null,
    fatal: true,
  },
  'empty-code-region': {
    message: 'code region is empty (the zerovm and deterministic policies refuse to validate nothing)',
    spec: '#r-bundles',
    nacl: null,
    fatal: true,
  },
} as const satisfies Record<string, RuleInfo>;

export type RuleId = keyof typeof RULES;

export const RULE_IDS = Object.keys(RULES) as RuleId[];
