/**
 * `--workers 0`: a JobExecutor that runs each node in this thread, one
 * after another, through the embedding API (Program.load + runSync).
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
import { readFileSync } from 'node:fs';
import { ZeroVMError } from '../api/errors.js';
import { Program, type ProgramCache } from '../api/program.js';
import type { ChannelDefinition, ChannelInput, ChannelOutput, SessionOutcome } from '../api/session.js';
import { checkPlan, JobPlanError } from './plan.js';
import type { JobExecutor, JobPlan, JobResult, NodeChannel, NodeInput, NodeOutput, NodePlan, NodeResult } from './executor.js';

/** A plan the executor cannot run as given (thrown from run(); the server answers 400). */
export class PlanRefusedError extends Error {
  override name = 'PlanRefusedError';
}

function input(value: NodeInput, node: string, alias: string): ChannelInput {
  if ('pipe' in value) throw new PlanRefusedError(`node '${node}' reads ${alias} from another node: connected jobs need worker threads (--workers 1 or more), not --workers 0`);
  if ('file' in value) return { file: value.file };
  return value.bytes;
}

function output(value: NodeOutput, node: string, alias: string): ChannelOutput {
  if (typeof value === 'object' && 'pipe' in value) throw new PlanRefusedError(`node '${node}' writes ${alias} to another node: connected jobs need worker threads (--workers 1 or more), not --workers 0`);
  return value;
}

function channel(c: NodeChannel, node: string): ChannelDefinition {
  const common = { alias: c.alias, ...(c.etag === undefined ? {} : { etag: c.etag }), ...(c.limits === undefined ? {} : { limits: c.limits }) };
  if ('input' in c) return { ...common, input: input(c.input, node, c.alias) };
  if ('output' in c) return { ...common, output: output(c.output, node, c.alias) };
  return { ...common, file: c.file, access: 'read-write' };
}

function result(node: NodePlan, outcome: SessionOutcome): NodeResult {
  const outputs: Record<string, Uint8Array> = {};
  for (const [alias, bytes] of outcome.outputs) outputs[alias] = bytes;
  return {
    name: node.name,
    report: outcome.report,
    exitCode: outcome.exitCode,
    ok: outcome.ok,
    engine: outcome.engine,
    etags: outcome.etags,
    outputs,
    validatorState: outcome.validatorState,
    daemonState: outcome.daemonState,
    userReturnCode: outcome.userReturnCode,
    accounting: outcome.accounting,
    exitState: outcome.exitState,
  };
}

/** A node that did not start: its report fields say so, `error` says why. */
export function notStarted(node: NodePlan, kind: string, message: string): NodeResult {
  const none = { gets: 0, getBytes: 0, puts: 0, putBytes: 0 };
  return {
    name: node.name,
    report: '',
    exitCode: -1,
    ok: false,
    engine: '',
    etags: [],
    outputs: {},
    validatorState: 2,
    daemonState: 0,
    userReturnCode: 0,
    accounting: { sysSeconds: 0, userSeconds: 0, local: none, network: none },
    exitState: message,
    error: { kind, message },
  };
}

export interface InProcessExecutorOptions {
  /** Default: the embedding API's shared cache. */
  readonly cache?: ProgramCache;
}

export class InProcessExecutor implements JobExecutor {
  private running = new Set<Promise<JobResult>>();
  private closed = false;

  constructor(private readonly options: InProcessExecutorOptions = {}) {}

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
        nodes.push(notStarted(node, 'aborted', 'the job was cancelled before this node started'));
        continue;
      }
      nodes.push(this.runNode(node));
      /* let the server's other requests in between two sessions */
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return { nodes };
  }

  private runNode(node: NodePlan): NodeResult {
    let options;
    try {
      options = {
        ...(node.argv0 === undefined ? {} : { argv0: node.argv0 }),
        ...(node.args === undefined ? {} : { args: node.args }),
        ...(node.env === undefined ? {} : { env: node.env }),
        ...(node.stdin === undefined ? {} : { stdin: input(node.stdin, node.name, '/dev/stdin') }),
        stdout: output(node.stdout ?? 'buffer', node.name, '/dev/stdout'),
        stderr: output(node.stderr ?? 'buffer', node.name, '/dev/stderr'),
        channels: (node.channels ?? []).map((c) => channel(c, node.name)),
        ...(node.image === undefined ? {} : { image: node.image }),
        ...(node.memory === undefined ? {} : { memory: node.memory }),
        ...(node.timeout === undefined ? {} : { timeout: node.timeout }),
        ...(node.etags === undefined ? {} : { etags: node.etags }),
        ...(node.engine === undefined ? {} : { engine: node.engine }),
      };
      const started = process.hrtime.bigint();
      const program = Program.load(readFileSync(node.program), { ...(node.engine === undefined ? {} : { engine: node.engine }), ...(this.options.cache === undefined ? {} : { cache: this.options.cache }) });
      const outcome = program.runSync(options);
      return { ...result(node, outcome), seconds: Number(process.hrtime.bigint() - started) / 1e9 };
    } catch (error) {
      if (error instanceof ZeroVMError) return notStarted(node, error.name, error.message);
      if (error instanceof PlanRefusedError) throw error;
      if (typeof error === 'object' && error !== null && 'code' in error) return notStarted(node, 'ProgramReadError', `cannot read the program: ${String((error as { code: unknown }).code)}`);
      throw error;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.running]);
  }
}
