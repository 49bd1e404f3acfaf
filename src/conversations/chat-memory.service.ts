import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { AppError } from '../common/errors/app-error.js';
import type { JsonObject } from '../common/json.js';
import type { LlmConfig } from '../llm-configs/llm-config.entity.js';
import { LlmConfigsService } from '../llm-configs/llm-configs.service.js';
import type { PromptVariables } from '../llm-configs/prompt-template.js';
import { isUuid } from '../llm-configs/uuid-param.js';
import { replyFromCompletion, StreamAccumulator, type AssistantReply } from './assistant-reply.js';
import { type HistoryEntry, truncateHistory } from './context-window.js';
import { ConversationTurn, type TurnOutcome } from './conversation-turn.js';
import { type HistoryMessage, MessageStore, type NewMessage } from './message-store.js';
import { fromRequestMessage, isReplayed, toUpstreamMessage } from './stored-message.js';
import { type MessageCounts, TokenCounter, userMessageUpperBound } from './token-counter.js';
import {
  applyConfig,
  clientAskedForUsage,
  replyReserve,
  splitLeadingSystem,
  systemMessages,
} from './upstream-request.js';
import { isPgError, PG_FOREIGN_KEY_VIOLATION } from '../database/pg-error.js';

/** The newest messages a turn reads: the bound on what one request can cost the database. */
export const HISTORY_LIMIT = 512;
/** Truncation cuts on multiples of this many seqs (about 8 turns), see `truncateHistory`. */
export const TRUNCATION_CHUNK = 16;
/** How long shutdown waits for replies still being stored. */
const SHUTDOWN_WAIT_MS = 10_000;

export interface ChatRequestContext {
  /** The gateway's request id, stored with the turn's messages. */
  requestId: string;
  /** performance.now() when the request arrived: the start of the stored TTFT and duration. */
  receivedAt: number;
}

export interface ResolvedChatRequest {
  /** Exactly what vLLM should receive (the extension fields removed). */
  body: JsonObject;
  /** Keeps a conversation on one upstream, for its prefix cache. */
  stickyKey?: string;
  /** A conversation turn to settle once the response has ended. */
  turn?: ConversationTurn;
}

/** True when the request uses a gateway extension that needs resolving; a plain request needs none. */
export function usesChatMemory(body: JsonObject): boolean {
  return isPresent(body['conversation_id']) || isPresent(body['llm_config_id']);
}

function isPresent(value: unknown): boolean {
  return value !== undefined && value !== null;
}

/**
 * Chat with memory: applies an LLM config to a chat request and turns a request on a conversation into a turn
 * (stored history + the new messages, truncated to the context window). The request's messages are stored before
 * vLLM is called; the reply when the response has ended, whatever the end.
 */
@Injectable()
export class ChatMemoryService implements OnApplicationShutdown {
  private readonly logger = new Logger(ChatMemoryService.name);
  /** Replies being stored; graceful shutdown waits for them before the database pool closes. */
  private readonly writes = new Set<Promise<void>>();

  constructor(
    private readonly configs: LlmConfigsService,
    private readonly store: MessageStore,
    private readonly tokens: TokenCounter,
  ) {}

  /**
   * Resolves `llm_config_id`, `conversation_id` and `prompt_variables`; undefined when the request has neither id,
   * so a plain request costs no database work. Fields the request sets win over the config's.
   */
  async resolveChatRequest(body: JsonObject, context: ChatRequestContext): Promise<ResolvedChatRequest | undefined> {
    if (!usesChatMemory(body)) return undefined;
    const conversationId = idField(body, 'conversation_id');
    const configId = idField(body, 'llm_config_id');
    const variables = (body['prompt_variables'] ?? undefined) as PromptVariables | undefined;
    const messages = body['messages'] as JsonObject[];
    const { system: requestSystem, rest } = splitLeadingSystem(messages);
    // A request that names its model (which then wins over any config's) has its new messages counted while the
    // history loads, instead of after: the /tokenize call leaves the turn's critical path. Not when the turn may
    // prove to fit without counting them (see `fitsUncounted`): then no /tokenize call is made before the chat call.
    const requestModel = body['model'];
    const earlyCounts =
      conversationId !== undefined &&
      typeof requestModel === 'string' &&
      rest.length > 0 &&
      !this.mayFitUncounted(requestModel, rest)
        ? this.tokens.countMessages(requestModel, rest, context.requestId, conversationId)
        : undefined;
    earlyCounts?.catch(() => undefined);

    const [requestConfig, turnContext] = await Promise.all([
      configId === undefined ? undefined : this.requireConfig(configId),
      conversationId === undefined ? undefined : this.store.loadTurnContext(conversationId, HISTORY_LIMIT),
    ]);

    if (conversationId === undefined || turnContext === undefined) {
      const upstream = applyConfig(body, requestConfig ?? null);
      upstream['messages'] = [...systemMessages(requestSystem, requestConfig ?? null, variables), ...rest];
      return { body: upstream };
    }
    if (turnContext === null) throw conversationNotFound(conversationId);
    if (rest.length === 0) {
      throw new AppError('bad_request', 'A conversation turn needs a new message besides system messages', {
        param: 'messages',
      });
    }
    const config = requestConfig ?? (await this.conversationConfig(turnContext.llmConfigId));
    const upstream = applyConfig(body, config);
    const system = systemMessages(requestSystem, config, variables);
    const history = turnContext.history.filter(isReplayed);
    const newMessages: NewMessage[] = rest.map((m) => ({ ...fromRequestMessage(m), tokenCount: null }));
    const kept = await this.fitToContext(upstream, system, history, rest, newMessages, turnContext.complete, {
      requestId: context.requestId,
      conversationId,
      earlyCounts: upstream['model'] === requestModel ? earlyCounts : undefined,
    });
    upstream['messages'] = [...system, ...kept.map(toUpstreamMessage), ...rest];

    const stream = upstream['stream'] === true;
    const hideUsageChunk = stream && !clientAskedForUsage(body);
    if (hideUsageChunk) {
      const options = upstream['stream_options'];
      upstream['stream_options'] = { ...(typeof options === 'object' ? options : {}), include_usage: true };
    }

    const replySeq = await this.store.appendTurn(conversationId, newMessages, context.requestId);
    if (replySeq === null) throw conversationNotFound(conversationId);
    const model = typeof upstream['model'] === 'string' ? upstream['model'] : undefined;
    // New messages stored without a count (the turn fit without one, or vLLM could not count) are counted after the
    // response, like the reply, so that the next turn has exact counts. appendTurn gave them the seqs before the reply's.
    const uncounted = rest.flatMap((message, i) =>
      newMessages[i]?.tokenCount === null ? [{ seq: replySeq - rest.length + i, message }] : [],
    );
    const turn = new ConversationTurn(hideUsageChunk, (outcome) =>
      this.track(this.storeReply(conversationId, replySeq, model, context, outcome, uncounted)),
    );
    return { body: upstream, stickyKey: conversationId, turn };
  }

  /** Waits for replies still being written; runs after the HTTP server stopped, before the pool closes. */
  async onApplicationShutdown(): Promise<void> {
    if (this.writes.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), SHUTDOWN_WAIT_MS);
    });
    const result = await Promise.race([Promise.allSettled([...this.writes]), timeout]);
    clearTimeout(timer);
    if (result === 'timeout') this.logger.error(`${this.writes.size} conversation replies were not stored in time`);
  }

  private async requireConfig(id: string): Promise<Readonly<LlmConfig>> {
    const config = await this.configs.findCached(id);
    if (config === null) {
      throw new AppError('not_found', `No LLM config with id '${id}'`, { param: 'llm_config_id' });
    }
    return config;
  }

  /** The conversation's own config, else the default one, else none. */
  private async conversationConfig(id: string | null): Promise<Readonly<LlmConfig> | null> {
    const own = id === null ? null : await this.configs.findCached(id);
    return own ?? (await this.configs.findDefaultCached());
  }

  /**
   * Whether the new messages alone may fit by their upper bound, with the model's constants already known: only then
   * is it worth not counting them early, since the whole turn may then fit without counting them at all.
   */
  private mayFitUncounted(model: string, rest: readonly JsonObject[]): boolean {
    const known = this.tokens.known(model);
    if (known === undefined) return false;
    const bound = upperBound(rest, known.userOverhead);
    return bound !== undefined && bound + known.generationPromptTokens < known.maxModelLen;
  }

  /**
   * The history to send when the turn provably needs no more cutting than it would with unlimited room, decided
   * without calling vLLM; undefined when that cannot be shown from what is already known (then the exact path).
   *
   * Everything but the new messages is an exact count (the cached system prompt and generation prompt, the stored
   * history counts); the new messages count at their upper bound (`userMessageUpperBound`). `truncateHistory` keeps
   * the first cut point that fits; if the first candidate fits with the bound, it fits with the exact count, which
   * is no larger, so the exact path would have chosen the same cut: the prefix is the one it would have sent.
   */
  private fitsUncounted(
    model: string | undefined,
    upstream: JsonObject,
    system: readonly JsonObject[],
    history: readonly HistoryMessage[],
    rest: readonly JsonObject[],
    windowComplete: boolean,
  ): HistoryMessage[] | undefined {
    const known = this.tokens.known(model);
    if (known === undefined || system.length > 1) return undefined;
    const systemTokens = system[0] === undefined ? 0 : this.tokens.cachedSystemPrompt(model, system[0]);
    const newTokens = upperBound(rest, known.userOverhead);
    if (systemTokens === undefined || newTokens === undefined) return undefined;
    const entries: HistoryEntry[] = [];
    for (const m of history) {
      if (m.tokenCount === null) return undefined;
      entries.push({ seq: m.seq, role: m.role, tokens: m.tokenCount });
    }
    const options = { chunkSize: TRUNCATION_CHUNK, windowComplete };
    const budget = {
      maxModelLen: known.maxModelLen,
      fixedTokens: systemTokens + newTokens + known.generationPromptTokens,
      reserveTokens: replyReserve(upstream),
    };
    const bounded = truncateHistory(entries, budget, options);
    const roomiest = truncateHistory(
      entries,
      { maxModelLen: Number.MAX_SAFE_INTEGER, fixedTokens: 0, reserveTokens: 0 },
      options,
    );
    if (!bounded.fits || !roomiest.fits || bounded.start !== roomiest.start) return undefined;
    return history.slice(bounded.start);
  }

  /**
   * Counts the turn with vLLM's tokenizer, stores the counts on the new messages, and returns the history that fits
   * beside the system prompt, the new messages and the reply's reserve. When vLLM cannot count (an old server, the
   * upstream down), the turn goes out whole and vLLM is the judge: a count is never guessed.
   */
  private async fitToContext(
    upstream: JsonObject,
    system: JsonObject[],
    history: HistoryMessage[],
    rest: JsonObject[],
    newMessages: NewMessage[],
    windowComplete: boolean,
    ids: { requestId: string; conversationId: string; earlyCounts: Promise<MessageCounts> | undefined },
  ): Promise<HistoryMessage[]> {
    const model = typeof upstream['model'] === 'string' ? upstream['model'] : undefined;
    const { requestId, conversationId: sticky } = ids;
    // The common case: the turn provably fits, so the new messages are not counted before the chat call (they are
    // stored uncounted and counted after the response). An early count already under way is used instead.
    if (ids.earlyCounts === undefined) {
      const kept = this.fitsUncounted(model, upstream, system, history, rest, windowComplete);
      if (kept !== undefined) return kept;
    }
    const uncounted = history.filter((m) => m.tokenCount === null);
    let counts: [MessageCounts, number, number, number[]];
    try {
      counts = await Promise.all([
        ids.earlyCounts ?? this.tokens.countMessages(model, rest, requestId, sticky),
        system.length === 1 && system[0] !== undefined
          ? this.tokens.countSystemPrompt(model, system[0], requestId, sticky).then((c) => c.counts[0] ?? 0)
          : this.tokens.countMessages(model, system, requestId, sticky).then((c) => sum(c.counts)),
        this.tokens.generationPromptTokens(model, requestId, sticky),
        this.tokens.countMessages(model, uncounted.map(toUpstreamMessage), requestId, sticky).then((c) => c.counts),
      ]);
    } catch (err) {
      this.logger.warn(`Conversation ${sticky}: vLLM could not count tokens, history sent untruncated: ${String(err)}`);
      return history;
    }
    const [fresh, systemTokens, generationPrompt, backfilled] = counts;
    fresh.counts.forEach((count, i) => {
      const message = newMessages[i];
      if (message !== undefined) message.tokenCount = count;
    });
    uncounted.forEach((message, i) => (message.tokenCount = backfilled[i] ?? null));

    if (fresh.maxModelLen === undefined) return history;
    const budget = {
      maxModelLen: fresh.maxModelLen,
      fixedTokens: systemTokens + sum(fresh.counts) + generationPrompt,
      reserveTokens: replyReserve(upstream),
    };
    const entries = history.map((m) => ({ seq: m.seq, role: m.role, tokens: m.tokenCount ?? 0 }));
    const result = truncateHistory(entries, budget, { chunkSize: TRUNCATION_CHUNK, windowComplete });
    if (!result.fits) {
      throw new AppError(
        'context_length_exceeded',
        `This model's maximum context length is ${budget.maxModelLen} tokens. However, this conversation turn ` +
          `needs ${result.required} tokens (system prompt, new messages and room for the reply) even with all ` +
          `earlier messages left out. Please reduce the length of the messages or max_tokens.`,
        { param: 'messages' },
      );
    }
    return history.slice(result.start);
  }

  private track(write: Promise<void>): Promise<void> {
    const tracked = write.finally(() => this.writes.delete(tracked));
    this.writes.add(tracked);
    return tracked;
  }

  private async storeReply(
    conversationId: string,
    seq: number,
    requestedModel: string | undefined,
    context: ChatRequestContext,
    outcome: TurnOutcome,
    uncounted: readonly { seq: number; message: JsonObject }[],
  ): Promise<void> {
    const reply = readReply(outcome);
    const status = reply.error !== null ? 'error' : outcome.status;
    const end = outcome.lastEventAt ?? performance.now();
    // The new messages' counts are written before the reply, so whoever sees the reply sees them too.
    const [tokenCount] = await Promise.all([
      this.countReply(reply, reply.model ?? requestedModel, context.requestId, conversationId),
      this.fillCounts(conversationId, uncounted, requestedModel, context.requestId),
    ]);
    try {
      await this.store.insertReply({
        conversationId,
        seq,
        status,
        content: reply.content,
        reasoning: reply.reasoning,
        toolCalls: reply.toolCalls,
        finishReason: reply.finishReason,
        promptTokens: reply.promptTokens,
        completionTokens: reply.completionTokens,
        model: reply.model,
        requestId: context.requestId,
        ttftMs: outcome.firstEventAt === undefined ? null : Math.round(outcome.firstEventAt - context.receivedAt),
        durationMs: Math.round(end - context.receivedAt),
        tokenCount,
      });
    } catch (err) {
      // The conversation was deleted while its turn ran: there is nothing left to attach the reply to.
      if (isPgError(err, PG_FOREIGN_KEY_VIOLATION)) return;
      throw err;
    }
  }

  /** Counts and stores the new messages a turn stored uncounted; on failure the next turn counts them itself. */
  private async fillCounts(
    conversationId: string,
    uncounted: readonly { seq: number; message: JsonObject }[],
    model: string | undefined,
    requestId: string,
  ): Promise<void> {
    if (uncounted.length === 0) return;
    try {
      const messages = uncounted.map((u) => u.message);
      const { counts } = await this.tokens.countMessages(model, messages, requestId, conversationId);
      const rows = uncounted.flatMap((u, i) => {
        const tokenCount = counts[i];
        return tokenCount === undefined ? [] : [{ seq: u.seq, tokenCount }];
      });
      await this.store.fillTokenCounts(conversationId, rows);
    } catch (err) {
      this.logger.warn(`Conversation ${conversationId}: new messages left uncounted: ${String(err)}`);
    }
  }

  /** The reply's own prompt size for later turns; counted after the client has it, so off the hot path. */
  private async countReply(
    reply: AssistantReply,
    model: string | undefined,
    requestId: string,
    sticky: string,
  ): Promise<number | null> {
    if (reply.content === '' && reply.toolCalls === null) return 0;
    const message = toUpstreamMessage({
      role: 'assistant',
      content: reply.content,
      contentParts: null,
      toolCalls: reply.toolCalls,
      toolCallId: null,
      name: null,
    });
    try {
      const { counts } = await this.tokens.countMessages(model, [message], requestId, sticky);
      return counts[0] ?? null;
    } catch {
      // Counted lazily by the next turn that needs it.
      return null;
    }
  }
}

function readReply(outcome: TurnOutcome): AssistantReply {
  if (outcome.events !== undefined) {
    const accumulator = new StreamAccumulator();
    for (const event of outcome.events) accumulator.push(event.data);
    return accumulator.result();
  }
  if (outcome.body !== undefined && outcome.status !== 'error') {
    try {
      return replyFromCompletion(JSON.parse(outcome.body.toString('utf8')));
    } catch {
      // Not JSON: stored as an empty reply with the outcome's status.
    }
  }
  return new StreamAccumulator().result();
}

function idField(body: JsonObject, field: 'conversation_id' | 'llm_config_id'): string | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || !isUuid(value)) {
    throw new AppError('bad_request', `'${field}' must be a UUID`, { param: field });
  }
  return value;
}

function conversationNotFound(id: string): AppError {
  return new AppError('not_found', `No conversation with id '${id}'`, { param: 'conversation_id' });
}

/** The upper bound of the messages' tokens, or undefined when any of them is not covered by the bound. */
function upperBound(messages: readonly JsonObject[], userOverhead: number): number | undefined {
  let total = 0;
  for (const message of messages) {
    const bound = userMessageUpperBound(message, userOverhead);
    if (bound === undefined) return undefined;
    total += bound;
  }
  return total;
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}
