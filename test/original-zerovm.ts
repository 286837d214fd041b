/**
 * Where the tests find the original ZeroVM 2015 and its validators: the
 * prebuilt binaries beside the checkout (`../shared/reference`), which CI
 * provides. They are oracles: tests run them and compare, nothing of them
 * is copied into the repository.
 *
 * `originalZerovmUnavailable()` says why the original cannot run here (no
 * reference folder; or Debian's libglib2.0-0 / libzmq5 missing, or no user
 * namespace for it to run in as root), or null.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './cli.js';

export const CI = process.env.CI === 'true' || process.env.CI === '1';
export const REFERENCE = join(ROOT, '..', 'shared', 'reference');
export const ORIGINAL_ZEROVM = join(REFERENCE, 'zerovm-2015', 'bin', 'zerovm');
export const ORIGINAL_VALIDATOR = join(REFERENCE, 'zerovm-2015', 'bin', 'zvm-validate');
export const NACL_VALIDATOR = join(REFERENCE, 'nacl-validator', 'bin', 'ncval');

let cached: string | null | undefined;

/** Null when the original `zerovm` runs here, else why not (what to install). */
export function originalZerovmUnavailable(): string | null {
  if (cached !== undefined) return cached;
  if (!existsSync(ORIGINAL_ZEROVM)) {
    cached = `the original ZeroVM 2015 is not beside the checkout (${ORIGINAL_ZEROVM})`;
    return cached;
  }
  /* no manifest: it prints its usage and exits with EINVAL 22 once its libraries load */
  const probe = spawnSync(ORIGINAL_ZEROVM, [], { encoding: 'utf8', timeout: 30_000 });
  cached =
    probe.status === 22
      ? null
      : `the original ZeroVM 2015 does not start (exit ${String(probe.status)}): ${(probe.stderr || probe.stdout).trim().split('\n')[0] ?? ''} ` +
        '(it needs apt-get install libglib2.0-0 libzmq5, and as root a user namespace: unshare --user)';
  return cached;
}

/** Null when both validators run here, else why not. */
export function originalValidatorsUnavailable(): string | null {
  for (const bin of [NACL_VALIDATOR, ORIGINAL_VALIDATOR]) {
    if (!existsSync(bin)) return `${bin} is not beside the checkout`;
  }
  return null;
}
