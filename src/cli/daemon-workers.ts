/**
 * The daemon's worker processes (spec/runtime.md "Daemon mode"): the
 * original forked a process per request, so requests overlapped and each
 * ran in a process of its own. Here the daemon process keeps the socket
 * and hands each request's manifest to an idle worker process, which
 * holds the snapshot and serves it (src/runtime/daemon.ts serveRequest);
 * a request waits only when every worker is busy.
 *
 * Pipeline position: daemon-process.ts (runDaemonProcess: listenDaemon's
 * `serve`) -> here -> a child process running daemon-entry.js --worker
 * (runDaemonWorker) -> serveRequest.
 *
 * Choices a reader may question:
 * - Processes, not threads: a worker runs one session at a time, so its
 *   native sandbox is at ZeroVM's base (0x440A00000000), as the original's
 *   request process was; threads of one process would share the address
 *   space and all but one run elsewhere. What a request's reply says then
 *   never depends on which worker served it.
 * - Workers start as they are needed (one at once, more while requests
 *   wait, up to `maxWorkers`) and stay until the daemon ends; a worker
 *   ends when its daemon does (its IPC channel closes).
 * - A worker that dies under a request (a crash of the trusted side) gives
 *   that request no reply, as a request that fails before it runs; the
 *   next requests go to the other workers or a new one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { RequestOutcome } from '../runtime/daemon.js';
import type { SessionSnapshot } from '../runtime/snapshot.js';

/** What the daemon sends a worker: its snapshot once, then requests. */
export type ToDaemonWorker = { readonly kind: 'snapshot'; readonly snapshot: SessionSnapshot; readonly preallocate: boolean } | { readonly kind: 'request'; readonly id: number; readonly text: string };

/** What a worker answers: ready (with the snapshot), or a request's outcome; `error` when it cannot serve at all. */
export type FromDaemonWorker = { readonly kind: 'ready' } | { readonly kind: 'error'; readonly message: string } | { readonly kind: 'outcome'; readonly id: number; readonly outcome: RequestOutcome };

/* '../cli/': from dist/cli/ or from the command's bundle in dist/bundle/ (spec/runtime.md, "Process start") */
const ENTRY = fileURLToPath(new URL('../cli/daemon-entry.js', import.meta.url));

/** Workers at most: every core, and at least two (a slow request never holds up a fast one). */
export const DEFAULT_DAEMON_WORKERS = Math.max(2, availableParallelism());

interface Pending {
  readonly text: string;
  readonly resolve: (outcome: RequestOutcome) => void;
}

class DaemonWorker {
  readonly child: ChildProcess;
  ready = false;
  running: { readonly id: number; readonly resolve: (outcome: RequestOutcome) => void } | undefined;

  constructor(job: string, order: ToDaemonWorker) {
    /* the socket path in the command line names the worker's daemon in `ps` */
    this.child = spawn(process.execPath, [ENTRY, '--worker', job], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'], serialization: 'advanced' });
    this.child.send(order);
  }
}

export class DaemonWorkers {
  private readonly workers = new Set<DaemonWorker>();
  private readonly waiting: Pending[] = [];
  private nextId = 1;

  constructor(
    private readonly snapshot: SessionSnapshot,
    private readonly job: string,
    private readonly preallocate: boolean,
    private readonly maxWorkers = DEFAULT_DAEMON_WORKERS,
  ) {
    /* the first one now: the first request should not wait for a process to start */
    this.start();
  }

  /** Serves one request's manifest text on a worker (waiting for one when all are busy). */
  serve(text: string): Promise<RequestOutcome> {
    return new Promise((resolve) => {
      this.waiting.push({ text, resolve });
      this.dispatch();
    });
  }

  private dispatch(): void {
    for (const worker of this.workers) {
      if (this.waiting.length === 0) return;
      if (!worker.ready || worker.running !== undefined) continue;
      const { text, resolve } = this.waiting.shift()!;
      const id = this.nextId++;
      worker.running = { id, resolve };
      worker.child.send({ kind: 'request', id, text } satisfies ToDaemonWorker);
    }
    /* requests wait: one more worker for each that no starting worker will take */
    const starting = [...this.workers].filter((w) => !w.ready).length;
    if (this.waiting.length > starting && this.workers.size < this.maxWorkers) this.start();
  }

  private start(): void {
    const worker = new DaemonWorker(this.job, { kind: 'snapshot', snapshot: this.snapshot, preallocate: this.preallocate });
    this.workers.add(worker);
    const gone = (): void => {
      if (!this.workers.delete(worker)) return;
      const running = worker.running;
      worker.running = undefined;
      running?.resolve({ reply: null });
      this.dispatch();
    };
    worker.child.on('message', (message: FromDaemonWorker) => {
      if (message.kind === 'ready') {
        worker.ready = true;
      } else if (message.kind === 'outcome' && worker.running?.id === message.id) {
        const { resolve } = worker.running;
        worker.running = undefined;
        resolve(message.outcome);
      } else if (message.kind === 'error') {
        /* it cannot serve (its engine is missing): requests get no reply rather than a worker started again and again */
        worker.child.kill();
        this.waiting.splice(0).forEach((p) => p.resolve({ reply: null }));
      }
      this.dispatch();
    });
    worker.child.once('exit', gone);
    worker.child.once('error', gone);
  }
}
