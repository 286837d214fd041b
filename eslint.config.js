// Lint: typescript-eslint's recommended rules on the TypeScript sources,
// plus a ban on `any` (public APIs must be typed), plus the layering the
// module comments describe, as import rules:
//   - src/runtime drives engines only through the Engine contract
//     (src/runtime/engine.ts): it imports no engine, no addon code, neither
//     the embedding API nor the CLI;
//   - the two engines (src/engines native, src/emulator Unicorn) do not
//     import each other: what they share is in src/addon;
//   - only the engines (and src/addon, which they share) load addons;
//   - src/jobs (running jobs of sessions) sits above the embedding API and
//     below the front ends (CLI, server): it runs sessions through src/api,
//     never an engine or the CLI directly.
// Tests are exempt from the layering (not from the addon rule): a runtime
// test needs a real engine, and the engine tests compare both engines.
import tseslint from 'typescript-eslint';

const ADDONS_ARE_FOR_ENGINES = 'only the engines (src/engines, src/emulator, src/addon) load addons';
const addonPaths = [
  { name: 'node:module', message: ADDONS_ARE_FOR_ENGINES },
  { name: 'module', message: ADDONS_ARE_FOR_ENGINES },
];
const addonPattern = { group: ['**/*.node'], message: ADDONS_ARE_FOR_ENGINES };
const layer = (folders, message) => ({ group: folders.map((folder) => `**/${folder}/**`), message });
/**
 * The import rule of one folder's sources (tests are exempt): its layers,
 * plus the addon ban unless the folder is one that loads addons (its block
 * then replaces the general rule's ban).
 */
const layered = (folder, layers, { loadsAddons = false } = {}) => ({
  files: [`${folder}/**/*.ts`],
  ignores: ['**/*.test.ts'],
  rules: {
    'no-restricted-imports': ['error', loadsAddons ? { patterns: layers } : { paths: addonPaths, patterns: [addonPattern, ...layers] }],
  },
});
const RUNTIME_LAYERS = [
  layer(['engines', 'emulator', 'addon'], 'the runtime drives engines only through src/runtime/engine.ts; the caller hands it an Engine'),
  layer(['cli', 'api'], 'the runtime is below the embedding API and the CLI; they import it, not the other way round'),
];

// The blocks for src/engines, src/emulator and src/addon replace the general
// rule (its addon ban), so those three folders may load addons.
export default tseslint.config(
  { ignores: ['dist/**', 'dist-bench/**', 'node_modules/**', 'tmp-*', 'native/build/**', 'native/build-arm64/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-imports': ['error', { paths: addonPaths, patterns: [addonPattern] }],
    },
  },
  layered('src/runtime', RUNTIME_LAYERS),
  // etag.ts loads node:crypto on first use (createRequire), not an addon:
  // the runtime's layers without the node:module ban.
  { files: ['src/runtime/etag.ts'], rules: { 'no-restricted-imports': ['error', { patterns: [addonPattern, ...RUNTIME_LAYERS] }] } },
  layered('src/engines', [
    layer(['emulator'], 'the native engine does not import the emulation engine: shared code belongs in src/addon'),
    layer(['cli', 'api'], 'engines are below the embedding API and the CLI'),
  ], { loadsAddons: true }),
  layered('src/emulator', [
    layer(['engines'], 'the emulation engine does not import the native engine: shared code belongs in src/addon'),
    layer(['cli', 'api'], 'engines are below the embedding API and the CLI'),
  ], { loadsAddons: true }),
  layered('src/addon', [
    layer(['engines', 'emulator', 'cli', 'api'], 'src/addon is shared by both engines and depends on neither'),
  ], { loadsAddons: true }),
  layered('src/jobs', [
    layer(['engines', 'emulator', 'addon'], 'jobs run sessions through the embedding API (src/api), which chooses the engine'),
    layer(['cli', 'serve'], 'jobs are below the front ends (the CLI, the server); they import it, not the other way round'),
  ]),
  layered('src/cluster', [
    layer(['engines', 'emulator', 'addon'], 'the cluster runs sessions through src/jobs and the embedding API, which choose the engine'),
    layer(['cli', 'serve'], 'the cluster executor is below the front ends (the CLI, the server); they import it, not the other way round'),
  ]),
  {
    // CommonJS: the `zerovm` command (bin/package.json says so) loads the
    // command-line bundle with its code cache, and the build's helper that
    // makes that cache loads it the same way (spec/runtime.md, "Process start").
    files: ['bin/zerovm.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
