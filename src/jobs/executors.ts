/**
 * `--workers N` -> a JobExecutor: 0 runs nodes in this thread
 * (in-process.ts, no pipes); N >= 1 a pool of N worker threads, on which
 * the nodes of a job run at the same time and connected jobs run.
 */
import type { EngineChoice } from '../api/engine-choice.js';
import type { JobExecutor } from './executor.js';
import { InProcessExecutor } from './in-process.js';

export interface ExecutorChoice {
  readonly workers: number;
  readonly engine?: EngineChoice;
}

/** The default of --workers. */
export const DEFAULT_WORKERS = 0;

export class ExecutorUnavailableError extends Error {
  override name = 'ExecutorUnavailableError';
}

export function createExecutor(choice: ExecutorChoice): JobExecutor {
  if (!Number.isInteger(choice.workers) || choice.workers < 0) throw new ExecutorUnavailableError(`--workers ${choice.workers}: a whole number, 0 (this thread) or more (worker threads)`);
  if (choice.workers === 0) return new InProcessExecutor();
  throw new ExecutorUnavailableError(`--workers ${choice.workers}: the pool of worker threads is not part of this build yet; use --workers 0 (one session at a time in the server's thread, no connected jobs)`);
}
