import type { SseEvent } from './sse-parser.js';

export interface UpstreamHealth {
  /** The upstream's base URL as configured (never carries credentials). */
  url: string;
  status: 'up' | 'down';
  latency_ms: number;
  error?: string;
}

/** vLLM's OpenAI routes the gateway relays. */
export type RelayPath = '/v1/chat/completions' | '/v1/completions' | '/v1/embeddings';

export interface UpstreamCallOptions {
  /** The gateway's request id; vLLM gets it as X-Request-Id (suffixed `-2`, `-3`… on retries). */
  requestId: string;
  /** Requests with the same key go to the same upstream while it is up (a conversation id). */
  stickyKey?: string;
  /** Replaces VLLM_FIRST_BYTE_TIMEOUT_MS for this call: a short bound for calls that generate nothing. */
  firstByteTimeoutMs?: number;
}

interface UpstreamAnswer {
  status: number;
  /** vLLM's Content-Type, to relay as is. */
  contentType: string;
  /** Base URL of the upstream that answered. */
  upstream: string;
  /** The X-Request-Id this attempt carried: vLLM's completion id is derived from it. */
  attemptId: string;
  /** performance.now() when the first attempt was dispatched: the end of the gateway's pre-upstream work. */
  dispatchedAt: number;
  /** performance.now() when the upstream's response headers arrived. */
  headersAt: number;
}

/** A complete, successful (2xx) non-streamed answer, its bytes untouched. */
export interface UpstreamJson extends UpstreamAnswer {
  kind: 'json';
  body: Buffer;
  /** performance.now() when the last byte arrived. */
  receivedAt: number;
}

/** A successful (2xx) `text/event-stream` answer whose events are read as the consumer iterates. */
export interface UpstreamStream extends UpstreamAnswer {
  kind: 'stream';
  /**
   * The events as they arrive: one array per upstream read, holding every event that read completed, so a relay can
   * write them with one call (and flush the first at once). Ends after `[DONE]` or when vLLM closes the stream.
   * Iteration throws an `AppError` (gateway_timeout, bad_gateway) when the upstream stalls or breaks, and
   * `UpstreamCancelledError` after the caller's cancellation.
   */
  batches: AsyncIterable<readonly SseEvent[]>;
  /** Stops reading and closes the upstream connection, which makes vLLM abort the request. Idempotent. */
  cancel(): void;
}

export type UpstreamResponse = UpstreamJson | UpstreamStream;

/** An entry of `/v1/models` (tools/vllm-sim/CONTRACT.md §6); extra fields are kept as vLLM sent them. */
export interface ModelCard {
  id: string;
  object: 'model';
  [field: string]: unknown;
}

export interface ModelList {
  object: 'list';
  data: ModelCard[];
}

/** `/tokenize` answer (tools/vllm-sim/CONTRACT.md §1). */
export interface TokenizeResponse {
  count: number;
  max_model_len: number;
  tokens: number[];
  token_strs?: string[];
}
