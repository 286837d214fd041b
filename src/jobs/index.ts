/**
 * Jobs of connected sessions (spec/serving.md, "Executing jobs"): the
 * package's `zerovm-ts/jobs` entry.
 *
 *   executor.ts   the contract: JobPlan, NodePlan, pipes, NodeResult, JobExecutor
 *   plan.ts       checks a plan, finds the groups of connected nodes
 *   pool.ts       WorkerPoolExecutor: nodes on worker threads
 *   ring-pipe.ts  pipes between threads (shared ring buffers)
 *   run-node.ts   one node in the calling thread (what each worker runs)
 *   warm-shelf.ts warm starts: set-up snapshots of a thread (NodePlan.warm)
 */
export type { JobExecutor, JobPlan, JobResult, NodeChannel, NodeInput, NodeOutput, NodePlan, NodeResult, PipePlan, WarmOutcome } from './executor.js';
export { checkPlan, JobPlanError } from './plan.js';
export { WorkerPoolExecutor, type WorkerPoolOptions } from './pool.js';
export { createRingPipe, DEFAULT_PIPE_CAPACITY, RingPipeReader, RingPipeWriter, type RingPipeState } from './ring-pipe.js';
