/**
 * The opcode tables as compiled at build time, or null.
 *
 * Here it is always null: `forms.ts` compiles the text tables when it is
 * first imported (tens of milliseconds), which a long-lived process (the
 * embedding API, the tests) pays once. The command-line bundle
 * (`scripts/build-cli-bundle.mjs`, run by `npm run build`) replaces this
 * module with the same tables compiled by the same build
 * (`serializeCompiledForms` in `forms-snapshot.ts`), so a `zerovm`
 * process does not compile them at every start (spec/runtime.md, "Process
 * start").
 */
export const PRECOMPILED_FORMS: string | null = null;
