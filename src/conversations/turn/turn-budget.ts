import { Injectable, Logger } from '@nestjs/common';
import { AppError } from '../../common/errors/app-error.js';
import type { JsonObject } from '../../common/json.js';
import { toUpstreamMessage } from '../stored-message.js';
import { type ContextBudget, planContext } from './context-window.js';
import type { StoredMessage } from './message-store.js';
import { TokenCounter, TokenizeLimiter, userMessageUpperBound } from './token-counter.js';

export interface BudgetInput {
  model: string | undefined;
  /** Tokens the reply may take (`replyReserve`). */
  reserveTokens: number;
  system: readonly JsonObject[];
  /** The replayed history from the conversation's context start, oldest first. */
  history: readonly StoredMessage[];
  /** Whether `history` reaches the context start (the read's bounds left nothing out). */
  complete: boolean;
  /** The conversation's highest seq at read time: a cut that keeps nothing starts after it. */
  lastSeq: number;
  /** The request's new messages. */
  rest: readonly JsonObject[];
  requestId: string;
  conversationId: string;
}

export interface BudgetResult {
  /** The history to send. */
  kept: StoredMessage[];
  /** The conversation's new context start when this turn cut, else undefined. */
  newContextStart: number | undefined;
  /** The new messages' exact counts when they were counted (in order), else null each. */
  newCounts: (number | null)[];
  /** Exact counts taken now for stored messages that had none, to be written after the response. */
  historyCounts: { seq: number; tokenCount: number }[];
}

/**
 * Step 2 of a turn: decides how much history fits in the model's context window, from exact counts (vLLM's
 * `/tokenize`, stored per message). An upper bound of the new messages (their UTF-8 size plus the template's
 * overhead) is used only to skip `/tokenize` when it proves the whole history fits; any other decision is made on
 * exact counts. At most `TOKENIZE_CONCURRENCY` `/tokenize` calls are in flight for one request, and each uncounted
 * message is counted once.
 */
@Injectable()
export class TurnBudget {
  private readonly logger = new Logger(TurnBudget.name);

  constructor(private readonly tokens: TokenCounter) {}

  async fit(input: BudgetInput): Promise<BudgetResult> {
    const untouched: BudgetResult = {
      kept: [...input.history],
      newContextStart: undefined,
      newCounts: input.rest.map(() => null),
      historyCounts: [],
    };
    if (input.complete && this.provablyFits(input)) return untouched;

    const { model, requestId, conversationId: sticky } = input;
    const uncounted = input.history.filter((m) => m.tokenCount === null);
    const limiter = new TokenizeLimiter();
    let counted: [number[], number[], number, number, number | undefined];
    try {
      const [fresh, backfilled, system, generationPrompt] = await Promise.all([
        this.tokens.countMessages(model, input.rest, requestId, sticky, limiter),
        this.tokens.countMessages(model, uncounted.map(toUpstreamMessage), requestId, sticky, limiter),
        this.countSystem(model, input.system, requestId, sticky, limiter),
        this.tokens.generationPromptTokens(model, requestId, sticky, limiter),
      ]);
      counted = [fresh.counts, backfilled.counts, system, generationPrompt, fresh.maxModelLen];
    } catch (err) {
      this.logger.warn(`Conversation ${sticky}: vLLM could not count tokens, history sent untruncated: ${String(err)}`);
      return untouched;
    }
    const [newCounts, backfilled, systemTokens, generationPrompt, maxModelLen] = counted;
    const counts = new Map<number, number>();
    uncounted.forEach((m, i) => {
      const count = backfilled[i];
      if (count !== undefined) counts.set(m.seq, count);
    });
    const historyCounts = [...counts].map(([seq, tokenCount]) => ({ seq, tokenCount }));
    if (maxModelLen === undefined) return { ...untouched, newCounts, historyCounts };

    const budget: ContextBudget = {
      maxModelLen,
      fixedTokens: systemTokens + sum(newCounts) + generationPrompt,
      reserveTokens: input.reserveTokens,
    };
    const entries = input.history.map((m) => ({
      seq: m.seq,
      role: m.role,
      tokens: m.tokenCount ?? counts.get(m.seq) ?? 0,
    }));
    const plan = planContext(entries, budget, input.complete);
    if (!plan.fits) {
      throw new AppError(
        'context_length_exceeded',
        `This model's maximum context length is ${maxModelLen} tokens. However, this conversation turn needs ` +
          `${plan.required} tokens (system prompt, new messages and room for the reply) even with all earlier ` +
          `messages left out. Please reduce the length of the messages or max_tokens.`,
        { param: 'messages' },
      );
    }
    const kept = input.history.slice(plan.start);
    const newContextStart = plan.cut ? (kept[0]?.seq ?? input.lastSeq + 1) : undefined;
    return { kept, newContextStart, newCounts, historyCounts };
  }

  /**
   * True when the whole history provably fits without calling vLLM: every stored message has its exact count, the
   * system prompt's and the model's constants are known, and the new messages fit even at their upper bound. The
   * exact count can only be smaller, so the exact decision would be the same: send everything.
   */
  private provablyFits(input: BudgetInput): boolean {
    const known = this.tokens.known(input.model);
    if (known === undefined || input.system.length > 1) return false;
    const first = input.system[0];
    const systemTokens = first === undefined ? 0 : this.tokens.cachedSystemPrompt(input.model, first);
    if (systemTokens === undefined) return false;
    let total = systemTokens + known.generationPromptTokens + input.reserveTokens;
    for (const message of input.rest) {
      const bound = userMessageUpperBound(message, known.userOverhead);
      if (bound === undefined) return false;
      total += bound;
    }
    for (const message of input.history) {
      if (message.tokenCount === null) return false;
      total += message.tokenCount;
    }
    return total <= known.maxModelLen;
  }

  private async countSystem(
    model: string | undefined,
    system: readonly JsonObject[],
    requestId: string,
    sticky: string,
    limiter: TokenizeLimiter,
  ): Promise<number> {
    const [only] = system;
    if (system.length === 1 && only !== undefined) {
      const { counts } = await this.tokens.countSystemPrompt(model, only, requestId, sticky, limiter);
      return counts[0] ?? 0;
    }
    const { counts } = await this.tokens.countMessages(model, system, requestId, sticky, limiter);
    return sum(counts);
  }
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}
