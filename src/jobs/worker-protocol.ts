/**
 * The messages between a WorkerPoolExecutor (pool.ts) and its threads
 * (worker.ts): structured-clone data only; pipes travel as their
 * SharedArrayBuffers, results' outputs as transferred ArrayBuffers.
 *
 * A node and its result cross as flat arrays, not as the objects the two
 * ends use: structured cloning writes and reads every key of every object
 * and costs more for nested objects than for an array of the same numbers
 * and strings (about 8 us less per node's result and 3 us per node sent
 * on a 2-core host; a warm node costs about 0.5 ms, bench/jobs.bench.ts).
 */
import type { AccountingFields } from '../runtime/report.js';
import type { NodePlan, NodeResult } from './executor.js';
import type { RingPipeState } from './ring-pipe.js';
import type { NodeTask, VerdictEntries } from './run-node.js';

/**
 * A node for a thread: its id (ties the answer to it), the plan, the
 * verdicts the pool learnt from other threads since this thread's last
 * node, and its pipes only when it has any (most nodes have none).
 */
export type ToWorker = readonly [id: number, node: NodePlan, verdicts: VerdictEntries, pipes?: Readonly<Record<string, RingPipeState>>, writes?: readonly string[], reads?: readonly string[]];

export type FromWorker =
  /** The thread has loaded its modules. */
  | { readonly kind: 'ready' }
  | { readonly kind: 'done'; readonly id: number; readonly result: PackedResult; readonly learnt: VerdictEntries };

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const NONE: readonly string[] = [];
const NO_PIPES: Readonly<Record<string, RingPipeState>> = {};

/** The message that sends `task` as node `id`. */
export function packTask(id: number, task: NodeTask, verdicts: VerdictEntries): ToWorker {
  if (task.writes.length === 0 && task.reads.length === 0) return [id, task.node, verdicts];
  return [id, task.node, verdicts, task.pipes, task.writes, task.reads];
}

/** The task a ToWorker message carries. */
export function unpackTask(message: ToWorker): NodeTask {
  return { node: message[1], pipes: message[3] ?? NO_PIPES, writes: message[4] ?? NONE, reads: message[5] ?? NONE };
}

/**
 * A NodeResult as one array: the report fields, the accounting's numbers
 * in AccountingFields order, etags and outputs as alternating keys and
 * values, then the optional fields (undefined when absent).
 */
export type PackedResult = readonly [
  name: string,
  report: string,
  exitCode: number,
  ok: boolean,
  engine: string,
  validatorState: NodeResult['validatorState'],
  daemonState: NodeResult['daemonState'],
  userReturnCode: number,
  exitState: string,
  /** alias, digest, alias, digest, ... */
  etags: readonly string[],
  /** sysSeconds, userSeconds, then local and network gets, getBytes, puts, putBytes. */
  accounting: readonly number[],
  /** alias, bytes, alias, bytes, ... */
  outputs: readonly (string | Uint8Array)[],
  warm: readonly [fromSnapshot: boolean, setUp: boolean, reason?: string] | undefined,
  error: readonly [kind: string, message: string] | undefined,
  detail: string | undefined,
  seconds: number | undefined,
  ranOn: string | undefined,
];

/** `result` as a PackedResult; its outputs' buffers are the packed ones (the caller decides which to transfer). */
export function packResult(result: NodeResult): PackedResult {
  /* every key of NodeResult is named here: a key added to NodeResult and not packed fails to compile (`rest` must stay empty) */
  const { name, report, exitCode, ok, engine, validatorState, daemonState, userReturnCode, exitState, etags, accounting, outputs, warm, error, detail, seconds, ranOn, ...rest } = result;
  rest satisfies Record<string, never>;
  const etagList: string[] = [];
  for (const e of etags) etagList.push(e.alias, e.digest);
  const { local, network } = accounting;
  const outputList: (string | Uint8Array)[] = [];
  for (const alias in outputs) outputList.push(alias, outputs[alias]!);
  return [
    name,
    report,
    exitCode,
    ok,
    engine,
    validatorState,
    daemonState,
    userReturnCode,
    exitState,
    etagList,
    [accounting.sysSeconds, accounting.userSeconds, local.gets, local.getBytes, local.puts, local.putBytes, network.gets, network.getBytes, network.puts, network.putBytes],
    outputList,
    warm === undefined ? undefined : warm.reason === undefined ? [warm.fromSnapshot, warm.setUp] : [warm.fromSnapshot, warm.setUp, warm.reason],
    error === undefined ? undefined : [error.kind, error.message],
    detail,
    seconds,
    ranOn,
  ];
}

/** outputs[alias] = bytes, as an own property whatever the alias ('__proto__' would set the prototype). */
export function setOutput(outputs: Record<string, Uint8Array>, alias: string, bytes: Uint8Array): void {
  if (alias === '__proto__') Object.defineProperty(outputs, alias, { value: bytes, enumerable: true, writable: true, configurable: true });
  else outputs[alias] = bytes;
}

/** The NodeResult a PackedResult holds (optional fields only when they were set). */
export function unpackResult(packed: PackedResult): NodeResult {
  const [name, report, exitCode, ok, engine, validatorState, daemonState, userReturnCode, exitState, etagList, a, outputList, warm, error, detail, seconds, ranOn] = packed;
  const etags: { alias: string; digest: string }[] = [];
  for (let i = 0; i + 1 < etagList.length; i += 2) etags.push({ alias: etagList[i]!, digest: etagList[i + 1]! });
  const accounting: AccountingFields = {
    sysSeconds: a[0]!,
    userSeconds: a[1]!,
    local: { gets: a[2]!, getBytes: a[3]!, puts: a[4]!, putBytes: a[5]! },
    network: { gets: a[6]!, getBytes: a[7]!, puts: a[8]!, putBytes: a[9]! },
  };
  const outputs: Record<string, Uint8Array> = {};
  for (let i = 0; i + 1 < outputList.length; i += 2) setOutput(outputs, outputList[i] as string, outputList[i + 1] as Uint8Array);
  const result: Mutable<NodeResult> = { name, report, exitCode, ok, engine, validatorState, daemonState, userReturnCode, etags, accounting, exitState, outputs };
  if (warm !== undefined) result.warm = warm[2] === undefined ? { fromSnapshot: warm[0], setUp: warm[1] } : { fromSnapshot: warm[0], setUp: warm[1], reason: warm[2] };
  if (detail !== undefined) result.detail = detail;
  if (error !== undefined) result.error = { kind: error[0], message: error[1] };
  if (seconds !== undefined) result.seconds = seconds;
  if (ranOn !== undefined) result.ranOn = ranOn;
  return result;
}
