/**
 * `--workers 0`: a JobExecutor that runs each node in this thread, one
 * after another, as a pool thread runs it (run-node.ts: the embedding
 * API's Program and runSync).
 *
 * Where: `zerovm serve --workers 0` and `zerovm job --workers 0` choose it
 * (src/jobs/executors.ts); the pool of worker threads is the default.
 *
 * What it is for: a job without pipes where one thread is enough (scripts,
 * `zerovm job` in a build step, a machine where threads are unwelcome),
 * and the reference the pool's results are compared with. What it cannot
 * do: connected jobs. Their nodes must run at the same time (a writer
 * blocks until its reader reads), which one thread running one session at
 * a time cannot give, so a plan with pipes is refused with a message saying
 * to use workers. While a session runs, this thread runs nothing else: a
 * server with --workers 0 answers one request at a time.
 */
import type { JobExecutor, JobPlan, JobResult, NodePlan, NodeResult } from './executor.js';
import { checkPlan, JobPlanError } from './plan.js';
import { failedNode, ProgramShelf, runNode } from './run-node.js';

/** A plan the executor cannot run as given (thrown from run(); the server answers 400). */
export class PlanRefusedError extends Error {
  override name = 'PlanRefusedError';
}

export interface InProcessExecutorOptions {
  /** Programs kept loaded (by path, while the file is unchanged). Default 256. */
  readonly maxPrograms?: number;
}

export class InProcessExecutor implements JobExecutor {
  private readonly running = new Set<Promise<JobResult>>();
  private closed = false;
  private readonly shelf: ProgramShelf;

  constructor(options: InProcessExecutorOptions = {}) {
    this.shelf = new ProgramShelf(options.maxPrograms);
  }

  /** Throws PlanRefusedError for a plan with pipes (before any node runs). */
  run(plan: JobPlan, runOptions: { readonly signal?: AbortSignal } = {}): Promise<JobResult> {
    if (this.closed) return Promise.reject(new JobPlanError('the executor is closed'));
    try {
      checkPlan(plan);
    } catch (error) {
      return Promise.reject(error);
    }
    if ((plan.pipes ?? []).length > 0) {
      const p = plan.pipes![0]!;
      return Promise.reject(new PlanRefusedError(`node '${p.from}' connects to '${p.to}': connected jobs need worker threads (--workers 1 or more), not --workers 0`));
    }
    const job = this.runNodes(plan, runOptions.signal);
    this.running.add(job);
    void job.finally(() => this.running.delete(job)).catch(() => undefined);
    return job;
  }

  private async runNodes(plan: JobPlan, signal: AbortSignal | undefined): Promise<JobResult> {
    const nodes: NodeResult[] = [];
    for (const node of plan.nodes) {
      if (signal?.aborted === true) {
        nodes.push(failedNode(node.name, 'Aborted', 'the job was cancelled before this node started'));
        continue;
      }
      nodes.push(this.runNode(node));
      /* let the server's other requests in between two sessions */
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return { nodes };
  }

  private runNode(node: NodePlan): NodeResult {
    const started = process.hrtime.bigint();
    const result = runNode({ node, pipes: {}, writes: [], reads: [] }, this.shelf);
    return { ...result, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.running]);
  }
}
