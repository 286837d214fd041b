/**
 * The validation policies: which rule set a validation applies.
 *
 * Pipeline position: options of `validate()`; the opcode tables may give a
 * form attributes that apply under one policy only (`nacl:deny=...`,
 * `zerovm:allow`, see `opcodes/grammar.ts`), compiled per policy by
 * `forms.ts`; the rule checks of `validate.ts` read the policy's
 * properties below. There is one table and one validator: a policy is a
 * set of attribute overrides plus these few switches.
 *
 * A policy *extends* another: the attributes qualified for the parent apply
 * to it too, then its own override them (unqualified attributes apply to
 * every policy). spec/validator.md, "The policies", says what each means:
 *
 *   nacl           exactly what NaCl's validator (ncval) accepts
 *   zerovm         extends nacl: exactly what ZeroVM 2015's validator
 *                  (zvm-validate) accepts, except what is unsafe
 *   deterministic  extends zerovm: what ZeroVM 2015 accepted, minus what
 *                  gives different results on our two engines; sessions
 *                  validate with it
 */

export const POLICIES = ['nacl', 'zerovm', 'deterministic'] as const;

/** Which rule set to apply. */
export type ValidationPolicy = (typeof POLICIES)[number];

/**
 * How string instructions and maskmov must be sandboxed
 * (spec/validator.md, "Superinstructions"): `nacl`, NaCl's fixed
 * `mov %esi,%esi; lea (%r15,%rsi,1),%rsi` byte sequences; `zerovm`, ZeroVM
 * 2015's general rule (a 64-bit `lea` into %rsi/%rdi from a sandbox base).
 */
export type StringSandboxing = 'nacl' | 'zerovm';

/**
 * What a region's length means (spec/validator.md, "Bundles"): `bundles`,
 * NaCl's: the region is padded to whole bundles and the padding is code
 * like any other; `exact`, ZeroVM 2015's: the region is exactly its bytes
 * (none may be empty, no instruction may run past its end, no direct jump
 * may land in the padding or in a trailing run of more than 16 `hlt`
 * bytes unless bundle-aligned).
 */
export type RegionModel = 'bundles' | 'exact';

export interface PolicyProperties {
  /** The policy whose table attributes this one starts from, or null. */
  readonly extends: ValidationPolicy | null;
  /** Reject the forms marked `nondet` (machine-dependent results) as `nondeterministic-instruction`. */
  readonly rejectsNondeterministic: boolean;
  readonly stringSandboxing: StringSandboxing;
  /**
   * `xchg`/`xadd` of %esp or %ebp with itself is one 32-bit write that the
   * next instruction may rebase (ZeroVM 2015); otherwise (NaCl) the second
   * written operand is a write that can never be rebased.
   */
  readonly selfExchangeIsOneWrite: boolean;
  readonly regionModel: RegionModel;
  /** One line for the CLI's help and the JSON output. */
  readonly summary: string;
}

export const POLICY_PROPERTIES: Readonly<Record<ValidationPolicy, PolicyProperties>> = {
  nacl: {
    extends: null,
    rejectsNondeterministic: false,
    stringSandboxing: 'nacl',
    selfExchangeIsOneWrite: false,
    regionModel: 'bundles',
    summary: "Native Client's rules: exactly what NaCl's validator (ncval) accepts, except one unsafe case",
  },
  zerovm: {
    // ZeroVM 2015 linked NaCl's older validator. Its instruction-level
    // differences from NaCl are `zerovm:` attributes in the opcode tables
    // (no VEX, no rdtsc/sahf/lahf, no 16-bit crc32, clflush allowed); the
    // rest are the three switches below.
    extends: 'nacl',
    rejectsNondeterministic: false,
    stringSandboxing: 'zerovm',
    selfExchangeIsOneWrite: true,
    regionModel: 'exact',
    summary: "ZeroVM 2015's rules: exactly what its validator (zvm-validate) accepts, except two unsafe cases",
  },
  deterministic: {
    extends: 'zerovm',
    rejectsNondeterministic: true,
    stringSandboxing: 'zerovm',
    selfExchangeIsOneWrite: true,
    regionModel: 'exact',
    summary: 'what ZeroVM sessions run: the zerovm rules, and cpuid (machine-dependent results) rejected',
  },
};

export function isValidationPolicy(name: string): name is ValidationPolicy {
  return (POLICIES as readonly string[]).includes(name);
}

/** `policy` and the policies it extends, most general first (e.g. nacl, zerovm, deterministic). */
export function policyLineage(policy: ValidationPolicy): ValidationPolicy[] {
  const chain: ValidationPolicy[] = [];
  for (let p: ValidationPolicy | null = policy; p !== null; p = POLICY_PROPERTIES[p].extends) chain.unshift(p);
  return chain;
}
