/**
 * Vitest config of the arm64 proof alone (`npm run test:arm64` runs it after
 * scripts/arm64/setup.sh and build.sh). Kept apart from vitest.config.ts so
 * `npm test` never needs qemu or an arm64 userland. dist/ is built by
 * scripts/arm64/test.sh before the stage is made, so no global setup here.
 */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    include: ['test/arm64/**/*.arm64.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    /* two concurrent cases: each arm64 run is one qemu process, and CI has 2 cores */
    maxConcurrency: 2,
  },
});
