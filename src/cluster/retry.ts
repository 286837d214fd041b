/**
 * Retries of NATS operations through a server's death (spec/cluster.md,
 * "A NATS server dies"): while the client reconnects to another server and
 * JetStream elects new leaders for the streams that lost theirs (about 2-7
 * s on a 3-node cluster), requests fail with a timeout, "no responders" or
 * "JetStream not enabled" (the 503 of a stream without a leader). These are
 * transient: the same request is sent again, with a growing pause, until a
 * deadline. Anything else (a refusal, a closed connection, bad input) is
 * thrown at once.
 *
 * Where: src/cluster, around the front end's task publishes and blob puts
 * and the worker's result puts. Each retried operation is idempotent: a
 * task publish carries a message id (JetStream's duplicate window drops a
 * second copy), a blob is named by its content, a result key holds the one
 * deterministic result.
 */
import { ClosedConnectionError, ConnectionError, NoRespondersError, RequestError, TimeoutError } from '@nats-io/transport-node';

/** How long an operation is retried through an outage. Default 60 s (leader elections take seconds; a longer outage is not transient). */
export const DEFAULT_RETRY_FOR_MS = 60_000;

export function isTransientNatsError(error: unknown): boolean {
  if (error instanceof ClosedConnectionError) return false;
  if (error instanceof TimeoutError || error instanceof NoRespondersError || error instanceof ConnectionError || error instanceof RequestError) return true;
  const message = error instanceof Error ? error.message : String(error);
  return /timeout|timed out|no responders|jetstream is not enabled|temporarily unavailable|no suitable peers|leader|offline|disconnect|heartbeats missed|503/i.test(message);
}

/**
 * `operation` until it succeeds, a non-transient error, or `forMs` passed
 * (then the last error is thrown). `onRetry` hears each transient failure.
 */
export async function retryingNats<T>(operation: () => Promise<T>, options: { readonly forMs?: number; readonly onRetry?: (error: Error, attempt: number) => void } = {}): Promise<T> {
  const deadline = Date.now() + (options.forMs ?? DEFAULT_RETRY_FOR_MS);
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      if (!isTransientNatsError(error) || Date.now() >= deadline) throw error;
      options.onRetry?.(error as Error, attempt);
      await new Promise((r) => setTimeout(r, Math.min(1000, 50 * 2 ** Math.min(attempt, 5))));
    }
  }
}
