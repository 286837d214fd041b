/**
 * When an ended session's engine sandbox is released: at once (the
 * default), or, in a thread that asked for it, after the thread has handed
 * the session's outcome on (spec/serving.md, "Executing jobs").
 *
 * Where: runtime. runStages (session.ts) hands each engine session here
 * when it ends, and calls finishTeardown() before it creates the next one.
 * A job executor's thread (src/jobs/worker.ts) defers: it posts a node's
 * result first and then finishes the teardown, so the caller does not wait
 * for the sandbox's pages to be dropped (on the native engine about 70 us
 * for a warm Lua request: the copy-on-write pages it wrote).
 *
 * Nothing of the outcome depends on the release: the report, the etags
 * (the memory etag is taken before) and the outputs (host channels,
 * closed before) are made before. A deferred session is never used again;
 * the views of its memory that runStages made are dropped with it.
 *
 * The state is this thread's (each worker thread has its own module
 * instance), as the native engine's kept sandbox reservation is.
 */
import type { EngineSession } from './engine.js';

/** Ended sessions not released yet, oldest first. */
const pending: EngineSession[] = [];
let deferring = false;

/** Defer (true) or not (false: what is pending is released now) the release of this thread's ended sessions. */
export function deferTeardown(on: boolean): void {
  deferring = on;
  if (!on) finishTeardown();
}

/** Releases an ended session now, or later when this thread defers. */
export function endEngineSession(session: EngineSession): void {
  if (deferring) pending.push(session);
  else session.dispose();
}

/** Releases every ended session this thread deferred (before the next session reuses the sandbox's reservation). */
export function finishTeardown(): void {
  for (let session = pending.shift(); session !== undefined; session = pending.shift()) session.dispose();
}

/** Ended sessions waiting for finishTeardown(). */
export function pendingTeardowns(): number {
  return pending.length;
}
