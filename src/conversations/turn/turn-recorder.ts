import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { JsonObject } from '../../common/json.js';
import { isPgError, PG_FOREIGN_KEY_VIOLATION } from '../../common/errors/pg-error.js';
import type { RelayOutcome, ReplyRecorder } from '../../vllm/relay-outcome.js';
import { conversationNotFound } from './request-resolver.js';
import { type AssistantReply, isUsageOnlyChunk, replyFromCompletion, StreamAccumulator } from './assistant-reply.js';
import { MessageStore, type NewMessage } from './message-store.js';
import { toUpstreamMessage } from '../stored-message.js';
import { TokenCounter } from './token-counter.js';

/** How long shutdown waits for token counts still being written. */
const SHUTDOWN_WAIT_MS = 10_000;
const EMPTY_CHOICES = Buffer.from('"choices":[]');

/** One turn as the recorder needs it once its messages are stored. */
export interface StoredTurn {
  conversationId: string;
  /** The seq reserved for the reply, right after the new messages'. */
  replySeq: number;
  /** The new messages, in order, as vLLM gets them, with the counts taken before the call (null: not counted). */
  newMessages: readonly JsonObject[];
  newCounts: readonly (number | null)[];
  /** Counts the budget took for stored messages that had none. */
  historyCounts: readonly { seq: number; tokenCount: number }[];
  /** The model the request asked for (undefined: vLLM's only model). */
  model: string | undefined;
  requestId: string;
  /** performance.now() when the request arrived: the start of the stored TTFT and duration. */
  receivedAt: number;
  /** The gateway asked vLLM for the usage chunk the client did not ask for; that chunk must not reach the client. */
  hideUsageChunk: boolean;
}

/**
 * Step 5 of a turn (the last; 4 is the relay): stores the request's messages before vLLM is called, and the reply as
 * it happened (complete, aborted, error) before the client's final bytes, so the next turn, on any process, reads
 * it. Token counts that need `/tokenize` come after the response, into rows that already exist.
 */
@Injectable()
export class TurnRecorder implements OnApplicationShutdown {
  private readonly logger = new Logger(TurnRecorder.name);
  /** Reply commits and after-response writes; graceful shutdown waits for them before the database pool closes. */
  private readonly writes = new Set<Promise<void>>();

  constructor(
    private readonly store: MessageStore,
    private readonly tokens: TokenCounter,
  ) {}

  /**
   * Appends the new messages (reserving the reply's seq) and moves the context start when the budget cut; one
   * statement. Returns the reply's seq.
   */
  async storeRequest(
    conversationId: string,
    messages: readonly NewMessage[],
    requestId: string,
    newContextStart: number | undefined,
  ): Promise<number> {
    const replySeq = await this.store.appendTurn(conversationId, messages, requestId, newContextStart ?? 0);
    if (replySeq === null) throw conversationNotFound(conversationId);
    return replySeq;
  }

  /** The relay's hooks for one stored turn. */
  recorder(turn: StoredTurn): ReplyRecorder {
    // Read once: a stream's reply is rebuilt from all its events.
    let reply: AssistantReply | undefined;
    const replyOf = (outcome: RelayOutcome): AssistantReply => (reply ??= readReply(outcome));
    return {
      // Called for every relayed event: a byte search first (vLLM writes compact JSON), a parse only for a candidate.
      hidesEvent: (event) => turn.hideUsageChunk && event.raw.includes(EMPTY_CHOICES) && isUsageOnlyChunk(event.data),
      // Tracked too: an aborted turn's reply is committed after its client left, possibly while the app closes.
      commit: (outcome) => this.track(this.commitReply(turn, outcome, replyOf(outcome))),
      afterResponse: (outcome) => this.track(this.fillCounts(turn, replyOf(outcome))),
    };
  }

  /** Waits for replies and token counts still being written; runs after the HTTP server stopped, before the pool closes. */
  async onApplicationShutdown(): Promise<void> {
    if (this.writes.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), SHUTDOWN_WAIT_MS);
    });
    const result = await Promise.race([Promise.allSettled([...this.writes]), timeout]);
    clearTimeout(timer);
    if (result === 'timeout') this.logger.error(`${this.writes.size} conversation writes were not finished in time`);
  }

  private async commitReply(turn: StoredTurn, outcome: RelayOutcome, reply: AssistantReply): Promise<void> {
    const end = outcome.lastEventAt ?? performance.now();
    const empty = reply.content === '' && reply.toolCalls === null;
    try {
      await this.store.insertReply({
        conversationId: turn.conversationId,
        seq: turn.replySeq,
        status: reply.error !== null ? 'error' : outcome.status,
        content: reply.content,
        reasoning: reply.reasoning,
        toolCalls: reply.toolCalls,
        finishReason: reply.finishReason,
        promptTokens: reply.promptTokens,
        completionTokens: reply.completionTokens,
        model: reply.model,
        requestId: turn.requestId,
        ttftMs: outcome.firstEventAt === undefined ? null : Math.round(outcome.firstEventAt - turn.receivedAt),
        durationMs: Math.round(end - turn.receivedAt),
        tokenCount: empty ? 0 : null,
      });
    } catch (err) {
      // The conversation was deleted while its turn ran: there is nothing left to attach the reply to.
      if (isPgError(err, PG_FOREIGN_KEY_VIOLATION)) return;
      throw err;
    }
  }

  private track(write: Promise<void>): Promise<void> {
    const tracked = write.finally(() => this.writes.delete(tracked));
    this.writes.add(tracked);
    return tracked;
  }

  /**
   * Writes the exact counts later turns budget with: the reply's and the new messages' not counted before the call
   * (counted now, with one `/tokenize` call each), and those the budget took for older messages. One statement; a
   * failure leaves them NULL, to be counted by the next turn that needs them.
   */
  private async fillCounts(turn: StoredTurn, reply: AssistantReply): Promise<void> {
    const { conversationId, requestId, replySeq } = turn;
    const firstSeq = replySeq - turn.newMessages.length;
    const rows = [...turn.historyCounts];
    const toCount: { seq: number; message: JsonObject }[] = [];
    turn.newMessages.forEach((message, i) => {
      const count = turn.newCounts[i];
      if (count === null || count === undefined) toCount.push({ seq: firstSeq + i, message });
      else rows.push({ seq: firstSeq + i, tokenCount: count });
    });
    if (reply.content !== '' || reply.toolCalls !== null) {
      const message = toUpstreamMessage({
        ...reply,
        role: 'assistant',
        contentParts: null,
        toolCallId: null,
        name: null,
      });
      toCount.push({ seq: replySeq, message });
    }
    try {
      if (toCount.length > 0) {
        // Under the model the turn asked for, the key later turns' budgets look counts up by.
        const { counts } = await this.tokens.countMessages(
          turn.model,
          toCount.map((c) => c.message),
          requestId,
          conversationId,
        );
        toCount.forEach((c, i) => {
          const tokenCount = counts[i];
          if (tokenCount !== undefined) rows.push({ seq: c.seq, tokenCount });
        });
      }
    } catch (err) {
      this.logger.warn(`Conversation ${conversationId}: messages left uncounted: ${String(err)}`);
    }
    await this.store.fillTokenCounts(conversationId, rows);
  }
}

/** The reply as the client received it: rebuilt from the relayed events, or parsed from the JSON body. */
function readReply(outcome: RelayOutcome): AssistantReply {
  if (outcome.events !== undefined) {
    const accumulator = new StreamAccumulator();
    for (const event of outcome.events) accumulator.push(event.data);
    return accumulator.result();
  }
  if (outcome.body !== undefined && outcome.status !== 'error') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(outcome.body.toString('utf8'));
    } catch {
      // A 200 that is not JSON is no reply: stored as a failed one, never as a complete empty answer.
      return { ...new StreamAccumulator().result(), error: 'vLLM answered with a body that is not JSON' };
    }
    return replyFromCompletion(parsed);
  }
  return new StreamAccumulator().result();
}
