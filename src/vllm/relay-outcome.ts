import type { SseEvent } from './sse-parser.js';

/**
 * What a conversation turn needs from the relay. The relayed events are kept for it; the reply is committed before the
 * client's final bytes (the JSON body, the write carrying `[DONE]`, an error answer), so a client that sends its next
 * turn at once, to any gateway process, finds the reply stored.
 */
export interface ReplyRecorder {
  /**
   * Events vLLM sent that the client must not see (the usage chunk the gateway asked for on its behalf). They are
   * still kept; only their bytes are not written.
   */
  hidesEvent(event: SseEvent): boolean;
  /**
   * Stores the reply as the outcome says; awaited before the final bytes. Called once per request. A rejection means
   * the reply is not stored: the client then gets an error, never a silent success.
   */
  commit(outcome: RelayOutcome): Promise<void>;
  /** After the response has ended, whatever the end (token counts for later turns); its errors are only logged. */
  afterResponse(outcome: RelayOutcome): Promise<void>;
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
  /** Data events a stream relayed ([DONE] aside), and the last of them: vLLM's usage chunk when it sent one. */
  dataEvents?: number;
  lastDataEvent?: SseEvent;
  /** Time the relay loop spent writing a stream's events (waiting for vLLM or for the client's reads aside). */
  relayMs?: number;
  /** The gateway's own time before the client's first byte, as in the Server-Timing header. */
  overheadMs?: number;
}
