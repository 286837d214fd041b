/**
 * The messages between a WorkerPoolExecutor (pool.ts) and its threads
 * (worker.ts): structured-clone data only; pipes travel as their
 * SharedArrayBuffers, results' outputs as transferred ArrayBuffers.
 */
import type { NodeResult } from './executor.js';
import type { NodeTask, VerdictEntries } from './run-node.js';

export interface ToWorker {
  /** Ties the answer to the node. */
  readonly id: number;
  readonly task: NodeTask;
  /** Verdicts the pool learnt from other threads since this thread's last node. */
  readonly verdicts: VerdictEntries;
}

export type FromWorker =
  /** The thread has loaded its modules. */
  | { readonly kind: 'ready' }
  | { readonly kind: 'done'; readonly id: number; readonly result: NodeResult; readonly learnt: VerdictEntries };
