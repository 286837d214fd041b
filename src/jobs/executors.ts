/**
 * `--workers N` -> a JobExecutor: 0 runs nodes in this thread
 * (in-process.ts, no pipes); N >= 1 a pool of N worker threads (pool.ts),
 * on which the nodes of a job run at the same time and connected jobs run.
 * Unset: the pool, one thread per CPU.
 */
import type { JobExecutor } from './executor.js';
import { InProcessExecutor } from './in-process.js';
import { WorkerPoolExecutor } from './pool.js';

export interface ExecutorChoice {
  /** Undefined: a thread per CPU. */
  readonly workers?: number;
}

export class ExecutorUnavailableError extends Error {
  override name = 'ExecutorUnavailableError';
}

export function createExecutor(choice: ExecutorChoice): JobExecutor {
  const workers = choice.workers;
  if (workers !== undefined && (!Number.isInteger(workers) || workers < 0)) throw new ExecutorUnavailableError(`--workers ${workers}: a whole number, 0 (this thread) or more (worker threads)`);
  if (workers === 0) return new InProcessExecutor();
  return new WorkerPoolExecutor(workers === undefined ? {} : { workers });
}
