/**
 * A pool thread (pool.ts): runs the nodes it is sent, one at a time, and
 * sends back each NodeResult with the validation verdicts it found, so the
 * other threads never validate the same program again.
 *
 * Where: src/jobs, loaded as a worker_threads Worker (never imported by
 * the main thread). Each thread loads the engines' addons itself (they
 * are context-aware N-API modules) and keeps its own Program shelf.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { deferSessionTeardown, finishSessionTeardown } from '../api/index.js';
import { ProgramShelf, runNode } from './run-node.js';
import { WarmShelf, type WarmShelfOptions } from './warm-shelf.js';
import { packResult, unpackTask, type FromWorker, type ToWorker } from './worker-protocol.js';

const port = parentPort;
if (port === null) throw new Error('src/jobs/worker.ts runs as a worker thread of a WorkerPoolExecutor');
const shelf = new ProgramShelf();
/* the pool's warm-start bounds (WorkerPoolOptions.warmSnapshots, warmSnapshotBytes) */
const warmShelf = new WarmShelf((workerData ?? {}) as WarmShelfOptions);
/* a node's result goes back before its sandbox is released (src/runtime/teardown.ts): the pool does not wait for it */
deferSessionTeardown(true);

port.on('message', (message: ToWorker) => {
  shelf.add(message[2]);
  const result = runNode(unpackTask(message), shelf, warmShelf);
  const reply: FromWorker = { kind: 'done', id: message[0], result: packResult(result), learnt: shelf.takeLearnt() };
  /* the outputs' buffers are transferred, not copied (as cheap as a copy at 16 bytes, cheaper from 1 KiB, about 50 us less at 64 KiB here) */
  let transfer: ArrayBuffer[] | undefined;
  for (const alias in result.outputs) (transfer ??= []).push(result.outputs[alias]!.buffer as ArrayBuffer);
  port.postMessage(reply, transfer);
  finishSessionTeardown();
});
port.postMessage({ kind: 'ready' } satisfies FromWorker);
