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
 * every policy). spec/validator.md, "The policies", says what each means.
 */

export const POLICIES = ['nacl', 'zerovm', 'deterministic'] as const;

/** Which rule set to apply. */
export type ValidationPolicy = (typeof POLICIES)[number];

export interface PolicyProperties {
  /** The policy whose table attributes this one starts from, or null. */
  readonly extends: ValidationPolicy | null;
  /** Reject the forms marked `nondet` (machine-dependent results) as `nondeterministic-instruction`. */
  readonly rejectsNondeterministic: boolean;
  /** One line for the CLI's help and the JSON output. */
  readonly summary: string;
}

export const POLICY_PROPERTIES: Readonly<Record<ValidationPolicy, PolicyProperties>> = {
  nacl: {
    extends: null,
    rejectsNondeterministic: false,
    summary: "Native Client's rules: exactly what NaCl's validator (ncval) accepts",
  },
  zerovm: {
    // ZeroVM 2015 linked NaCl's older validator; its differences from NaCl
    // are `zerovm:` attributes in the opcode tables (not all known yet:
    // spec/validator.md, "The policies").
    extends: 'nacl',
    rejectsNondeterministic: false,
    summary: "ZeroVM 2015's rules: NaCl's with ZeroVM's own differences (work in progress)",
  },
  deterministic: {
    extends: 'nacl',
    rejectsNondeterministic: true,
    summary: 'NaCl rules, and instructions with machine-dependent results (rdtsc, cpuid) rejected',
  },
};

export function isValidationPolicy(name: string): name is ValidationPolicy {
  return (POLICIES as readonly string[]).includes(name);
}

/** `policy` and the policies it extends, most general first (e.g. nacl, deterministic). */
export function policyLineage(policy: ValidationPolicy): ValidationPolicy[] {
  const chain: ValidationPolicy[] = [];
  for (let p: ValidationPolicy | null = policy; p !== null; p = POLICY_PROPERTIES[p].extends) chain.unshift(p);
  return chain;
}
