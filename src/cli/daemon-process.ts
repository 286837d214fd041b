/**
 * The daemon as a process of its own, as the original's was: when a
 * session with a `Job` calls TrapFork, `zerovm MANIFEST` prints the
 * session's report (daemon state 1) and exits, and a detached process
 * serves the requests (spec/runtime.md "Daemon mode").
 *
 * Pipeline position: session-command.ts (and a daemon whose request forked
 * again) -> `startDaemonProcess` -> a new Node process running
 * daemon-entry.js -> `runDaemonProcess` -> src/runtime/daemon.ts.
 *
 * Choices a reader may question:
 * - Node cannot fork itself, so the snapshot (plain data, snapshot.ts)
 *   goes to the new process over its IPC channel with structured cloning;
 *   the new process answers once it listens (or with why it cannot), and
 *   only then does `zerovm MANIFEST` exit: a client may connect as soon as
 *   the command has returned (the original's parent exited before its
 *   daemon had bound the socket).
 * - The daemon detaches (its own session, the working directory '/',
 *   standard streams on /dev/null, umask 0), as the original daemonized.
 * - It serves each request in one of its worker processes
 *   (daemon-workers.ts), so requests overlap as the original's did.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { selectEngine } from '../api/engine-choice.js';
import { listenDaemon, serveRequest } from '../runtime/daemon.js';
import { DaemonWorkers, type FromDaemonWorker, type ToDaemonWorker } from './daemon-workers.js';
import type { SessionSnapshot } from '../runtime/snapshot.js';

/** What the parent sends the daemon process. */
interface DaemonOrder {
  readonly snapshot: SessionSnapshot;
  readonly job: string;
  readonly preallocate: boolean;
}

/** What the daemon process answers: null once listening, else why it cannot. */
type DaemonAnswer = { readonly error: string | null };

/* '../cli/': this module runs from dist/cli/ or from the command's bundle in dist/bundle/ (spec/runtime.md, "Process start") */
const ENTRY = fileURLToPath(new URL('../cli/daemon-entry.js', import.meta.url));

/** Starts a daemon process for `snapshot` on the socket `job`; resolves with null once it listens, else with why it does not. */
export function startDaemonProcess(snapshot: SessionSnapshot, job: string, preallocate: boolean): Promise<string | null> {
  return new Promise((resolveStart) => {
    /* the socket path in the command line names the daemon in `ps` (the original named its process zvm.<socket>) */
    const child = spawn(process.execPath, [ENTRY, job], {
      cwd: '/',
      detached: true,
      stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
      serialization: 'advanced',
    });
    let settled = false;
    const settle = (error: string | null): void => {
      if (settled) return;
      settled = true;
      if (child.connected) child.disconnect();
      child.unref();
      resolveStart(error);
    };
    child.once('message', (answer: DaemonAnswer) => settle(answer.error));
    child.once('error', (error) => settle(`cannot start the daemon process: ${error.message}`));
    child.once('exit', (code) => settle(`the daemon process ended before it listened (exit code ${String(code)})`));
    const order: DaemonOrder = { snapshot, job, preallocate };
    child.send(order);
  });
}

/** The daemon process: takes its order, listens, answers, serves until killed. */
export function runDaemonProcess(): void {
  process.umask(0);
  process.once('message', (order: DaemonOrder) => {
    const answer = (error: string | null): void => {
      const reply: DaemonAnswer = { error };
      process.send?.(reply, () => process.disconnect());
    };
    const engine = selectEngine(order.snapshot.engine);
    if (typeof engine === 'string') {
      answer(engine);
      process.exitCode = 1;
      return;
    }
    const workers = new DaemonWorkers(order.snapshot, order.job, order.preallocate);
    listenDaemon(order.snapshot, order.job, {
      run: { engine, preallocate: order.preallocate },
      serve: (text) => workers.serve(text),
      onFork: (snapshot, job) => startDaemonProcess(snapshot, job, order.preallocate),
    }).then(
      () => answer(null),
      (error: unknown) => {
        answer(`cannot listen on ${order.job}: ${error instanceof Error ? error.message : String(error)}`);
        process.exitCode = 5;
      },
    );
  });
}

/** A daemon's worker process (daemon-workers.ts): takes the snapshot, then serves each request it is sent; ends with its daemon. */
export function runDaemonWorker(): void {
  process.umask(0);
  process.once('disconnect', () => process.exit(0));
  let snapshot: SessionSnapshot | undefined;
  let run: { engine: Exclude<ReturnType<typeof selectEngine>, string>; preallocate: boolean } | undefined;
  process.on('message', (message: ToDaemonWorker) => {
    const send = (answer: FromDaemonWorker): void => void process.send?.(answer);
    if (message.kind === 'snapshot') {
      const engine = selectEngine(message.snapshot.engine);
      if (typeof engine === 'string') return send({ kind: 'error', message: engine });
      snapshot = message.snapshot;
      run = { engine, preallocate: message.preallocate };
      return send({ kind: 'ready' });
    }
    if (snapshot === undefined || run === undefined) return send({ kind: 'error', message: 'a request came before the snapshot' });
    send({ kind: 'outcome', id: message.id, outcome: serveRequest(snapshot, message.text, run) });
  });
}
