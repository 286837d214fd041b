/**
 * A test thread for ring-pipe.test.ts: writes the chunks it is given to a
 * ring pipe with the real RingPipeWriter, closes it, and reports what each
 * write returned.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { RingPipeWriter, type RingPipeState } from '../ring-pipe.js';

const { state, chunks, deadlineMs } = workerData as { state: RingPipeState; chunks: Uint8Array[]; deadlineMs: number };
const writer = new RingPipeWriter(state);
const deadline = Date.now() + deadlineMs;
const returns = chunks.map((chunk) => writer.write(chunk, deadline));
writer.close();
parentPort!.postMessage(returns);
