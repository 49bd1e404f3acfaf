import type { Principal } from './principal.js';

/**
 * One finished completion (chat, text or embeddings), as the relay saw it: what metrics and usage accounting record
 * after the response. Times are `performance.now()` values; token counts are vLLM's own usage when it sent one.
 */
export interface CompletionRecord {
  /** The route template, e.g. `/v1/chat/completions`. */
  readonly route: string;
  /** The model named in the body sent to vLLM (after an LLM config applied), if any. */
  readonly model: string | undefined;
  /** complete: answered in full; aborted: the client went away; error: vLLM or the gateway failed. */
  readonly status: 'complete' | 'aborted' | 'error';
  readonly streamed: boolean;
  readonly principal: Principal;
  readonly conversationId: string | undefined;
  readonly llmConfigId: string | undefined;
  readonly receivedAt: number;
  /** A stream's first relayed event (what the client sees as its first token). */
  readonly firstEventAt: number | undefined;
  /** The last byte relayed, or the moment the relay gave up. */
  readonly endedAt: number;
  /** Wall-clock time of the accounting, in epoch milliseconds: the usage row's `created_at`. */
  readonly recordedAt: number;
  /** The gateway's own time before the client's first byte (the Server-Timing value); unset when vLLM never answered. */
  readonly overheadMs: number | undefined;
  /** A stream's events relayed, and the time the relay loop spent on them (reading aside). */
  readonly events: number;
  readonly relayMs: number;
  readonly inputTokens: number | null;
  readonly outputTokens: number | null;
}
