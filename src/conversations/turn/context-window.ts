import type { StoredMessage } from './message-store.js';

/** One stored message as truncation sees it: its size in tokens is known, stored or counted by this turn. */
export type HistoryEntry = Readonly<Pick<StoredMessage, 'seq' | 'role'> & { tokens: number }>;

export interface ContextBudget {
  /** The model's context window (`max_model_len`). */
  readonly maxModelLen: number;
  /** Tokens that are always sent: the system prompt, the request's new messages and the generation prompt. */
  readonly fixedTokens: number;
  /** Room the reply needs: the request's max_tokens / max_completion_tokens, else 1 (vLLM needs prompt < window). */
  readonly reserveTokens: number;
}

export type ContextPlan =
  | {
      readonly fits: true;
      /** Index into `history` of the first message sent. */
      readonly start: number;
      /** True when this turn moved the conversation's start: the caller stores the new start seq. */
      readonly cut: boolean;
    }
  | { readonly fits: false; /** prompt tokens with no history at all, plus the reserve */ readonly required: number };

/**
 * Chooses which stored messages a conversation turn sends, with hysteresis. `history` starts at the conversation's
 * current start (the stored `context_start_seq`). While it fits beside the turn's fixed tokens, all of it goes, so
 * every turn repeats the previous turn's prompt as its prefix (vLLM's prefix cache keeps hitting). When it overflows,
 * the oldest turns are dropped down to about half of the room there is, so the next turns grow into the other half
 * with an unchanged prefix again; the caller stores the new start, and nothing moves until the window overflows
 * again. Dropping one turn per request instead would change the prefix, and miss the cache, on every turn.
 *
 * A cut always lands on a user message, so a kept history never starts with an assistant reply or a tool result whose
 * call was dropped. The half is a target, not a floor: when even the newest turn is larger than half, the most that
 * fits is kept, so a turn never sends less history than fits. `complete` is false when the bounded read (rows and
 * bytes) did not reach the start: then the start must move forward, and it moves past the older half of what was
 * read too, so the next turns' reads fit their bound again instead of sliding the start by one turn each time.
 */
export function planContext(history: readonly HistoryEntry[], budget: ContextBudget, complete: boolean): ContextPlan {
  const available = budget.maxModelLen - budget.fixedTokens - budget.reserveTokens;
  if (available < 0) return { fits: false, required: budget.fixedTokens + budget.reserveTokens };

  // suffix[i]: tokens of history[i..]; suffix[length] = 0.
  const suffix = new Array<number>(history.length + 1).fill(0);
  for (let i = history.length - 1; i >= 0; i--) suffix[i] = (suffix[i + 1] ?? 0) + (history[i]?.tokens ?? 0);
  if (complete && (suffix[0] ?? 0) <= available) return { fits: true, start: 0, cut: false };

  const target = Math.floor(available / 2);
  let mostThatFits = history.length;
  // The earliest cut point within the target wins; failing that, the earliest one that fits at all.
  for (let i = complete ? 0 : Math.floor(history.length / 2); i < history.length; i++) {
    if (history[i]?.role !== 'user') continue;
    const kept = suffix[i] ?? 0;
    if (kept <= target) return { fits: true, start: i, cut: true };
    if (kept <= available && mostThatFits === history.length) mostThatFits = i;
  }
  return { fits: true, start: mostThatFits, cut: true };
}
