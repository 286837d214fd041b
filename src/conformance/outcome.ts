/**
 * The result of one case, as every runner module passes it on.
 *
 * Pipeline position: session-case.ts / validator-case.ts produce it,
 * runner.ts collects it, results.ts prints it.
 */
import type { Difference } from './compare.js';
import type { ConformanceCase } from './format.js';

/** `deviation`: the case failed as the reference it names fails it (the original ZeroVM 2015, or a policy's reference validator; the case's `deviation` says why); not a failure. */
export type CaseStatus = 'pass' | 'fail' | 'skip' | 'deviation';

export interface CaseOutcome {
  readonly case: ConformanceCase;
  readonly status: CaseStatus;
  /** Empty when the case passed or was skipped. */
  readonly differences: readonly Difference[];
  /** Why the case was skipped. */
  readonly skipReason?: string;
  /** The command line of the first run, for reproducing a failure. */
  readonly command?: string;
  /** The case's temporary folder, kept after a failure (or with --keep). */
  readonly kept?: string;
  /** The implementation's stderr after a failure (first lines). */
  readonly stderr?: string;
  readonly milliseconds: number;
}

/** Settings every case run needs. */
export interface RunSettings {
  /** The folder holding cases/ and programs/. */
  readonly suiteRoot: string;
  /** Where the per-case temporary folders go. */
  readonly workDir: string;
  /** The directory commands run in: where the runner was started, so relative paths in a template work. */
  readonly cwd: string;
  /** Compare `reference` wordings too (this project's own implementation). */
  readonly strict: boolean;
  /** Kill an implementation that runs longer than this. */
  readonly timeoutMs: number;
  /** Keep every case folder, not only those of failures. */
  readonly keep: boolean;
  /**
   * Report a failed case that has a `deviation` as a known deviation of
   * the reference it names (another implementation), not as a failure
   * (this project's own implementation must pass it).
   */
  readonly allowDeviations: boolean;
}
