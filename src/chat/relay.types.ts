import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal } from '../auth/principal.js';
import type { SseEvent } from '../vllm/sse-parser.js';

/** One client request as the relay sees it. */
export interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  requestId: string;
  /** performance.now() when the gateway started handling the request. */
  receivedAt: number;
  /** The body's bytes as the client sent them, when the fast lane read them (Express' body parser keeps none). */
  rawBody?: Buffer;
  /** Who the request acts for, as the global guard established it. */
  principal?: Principal;
}

/** Everything the relay needs to know about one upstream call, decided before it starts. */
export interface RelayPlan {
  /** What vLLM receives. */
  body: Record<string, unknown>;
  /**
   * The client's own bytes, sent instead of `body` when `body` is the client's object unchanged: they parse to it, and
   * forwarding them spares a JSON.stringify per request (vLLM gets exactly what the client sent).
   */
  payload?: Buffer;
  /** Keeps a conversation on one upstream (its KV cache); omitted for one-off requests. */
  stickyKey?: string;
  /** Keep the relayed events in the outcome (e.g. to store the assistant reply); off by default: no retention. */
  collectEvents?: boolean;
  /**
   * Events vLLM sent that the client must not see (the usage chunk the gateway asked for on its behalf). They are
   * still collected; only their bytes are not written.
   */
  hideEvent?: (event: SseEvent) => boolean;
  /**
   * Runs once per request after the response has ended, whatever the end: after the client's last byte, never before.
   * Its errors are logged, never sent to the client.
   */
  onSettled?: (outcome: RelayOutcome) => void | Promise<void>;
}

export interface RelayOutcome {
  /**
   * complete: vLLM answered and the client got all of it; aborted: the client went away;
   * error: the gateway or vLLM failed (before the headers, or inside the stream).
   */
  status: 'complete' | 'aborted' | 'error';
  /** The upstream that answered, once one did. */
  upstream?: string;
  /** The X-Request-Id vLLM got (its completion id is derived from it). */
  attemptId?: string;
  /** The non-streamed answer, as relayed. */
  body?: Buffer;
  /** The events relayed so far, when the plan asked to collect them. */
  events?: SseEvent[];
  /** vLLM's in-stream `{"error": …}` event, relayed to the client as is. */
  errorEvent?: SseEvent;
  /** The failure the gateway reported (as the response, or as a final error event). */
  error?: unknown;
  /** performance.now() of the first and last relayed events of a stream (TTFT and duration without extra timers). */
  firstEventAt?: number;
  lastEventAt?: number;
}
