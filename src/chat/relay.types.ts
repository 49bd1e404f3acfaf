import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal } from '../common/principal.js';
import type { ReplyRecorder } from '../vllm/relay-outcome.js';

/** One client request as the relay sees it. */
export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  requestId: string;
  /** performance.now() when the gateway started handling the request. */
  receivedAt: number;
  /** The body's bytes as the client sent them, when the fast lane read them (Express' body parser keeps none). */
  rawBody?: Buffer;
  /** Who the request acts for, as the global guard established it. */
  principal: Principal;
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
  /** A conversation turn's hooks: set only when the reply is stored. */
  recorder?: ReplyRecorder;
  /** The LLM config applied, if any (usage accounting). */
  llmConfigId?: string;
  /** The conversation of a turn (usage accounting). */
  conversationId?: string;
}
