/** One stored message as truncation sees it: its place in the conversation, its role and its size in tokens. */
export interface HistoryEntry {
  readonly seq: number;
  readonly role: string;
  readonly tokens: number;
}

export interface ContextBudget {
  /** The model's context window (`max_model_len`). */
  readonly maxModelLen: number;
  /** Tokens that are always sent: the system prompt, the request's new messages and the generation prompt. */
  readonly fixedTokens: number;
  /** Room the reply needs: the request's max_tokens / max_completion_tokens, else 1 (vLLM needs prompt < window). */
  readonly reserveTokens: number;
}

export interface TruncationOptions {
  /** Cut points sit on multiples of this many seqs. */
  readonly chunkSize: number;
  /** True when `history` starts at the conversation's first message (the bounded read did not cut anything off). */
  readonly windowComplete: boolean;
}

export type TruncationResult =
  | { readonly fits: true; /** index into `history` of the first message kept */ readonly start: number }
  | { readonly fits: false; /** prompt tokens with no history at all, plus the reserve */ readonly required: number };

/**
 * Chooses which stored messages a conversation turn sends. Older messages are dropped from the front, and only at
 * fixed cut points: the first user message at or after seq `k * chunkSize + 1` for some k. The grid is absolute (it
 * follows seq, which never changes), and the chosen k is the smallest one that fits, so as the conversation grows
 * the cut only ever moves forward, a whole chunk at a time. Between two jumps every request starts with the same
 * messages, which keeps vLLM's prefix cache hitting; dropping one turn per request instead would change the prefix,
 * and miss the cache, on every turn once the window is full.
 *
 * A cut always lands on a user message, so a kept history never starts with an assistant reply or a tool result
 * whose call was dropped. When the bounded read did not reach the conversation's start, the oldest, partly read
 * chunk is never used: otherwise the cut would follow the read window, which slides by one turn per request.
 */
export function truncateHistory(
  history: readonly HistoryEntry[],
  budget: ContextBudget,
  options: TruncationOptions,
): TruncationResult {
  const available = budget.maxModelLen - budget.fixedTokens - budget.reserveTokens;
  if (available < 0) return { fits: false, required: budget.fixedTokens + budget.reserveTokens };
  if (history.length === 0) return { fits: true, start: 0 };

  // suffix[i]: tokens of history[i..]; suffix[length] = 0 (nothing kept always fits once `available` >= 0).
  const suffix = new Array<number>(history.length + 1).fill(0);
  for (let i = history.length - 1; i >= 0; i--) suffix[i] = (suffix[i + 1] ?? 0) + (history[i]?.tokens ?? 0);

  const { chunkSize } = options;
  const firstSeq = history[0]?.seq ?? 1;
  if (options.windowComplete && (suffix[0] ?? 0) <= available) return { fits: true, start: 0 };
  // The first chunk whose every message was read; the conversation's first chunk when the read reached its start.
  let chunk = options.windowComplete ? 1 : Math.ceil((firstSeq - 1) / chunkSize);
  let start = 0;
  for (;;) {
    const boundary = chunk * chunkSize + 1;
    while (start < history.length && ((history[start]?.seq ?? 0) < boundary || history[start]?.role !== 'user')) {
      start++;
    }
    if ((suffix[start] ?? 0) <= available) return { fits: true, start };
    // The next cut point that differs from this one lies in the chunk after the message just rejected.
    chunk = Math.floor(((history[start]?.seq ?? boundary) - 1) / chunkSize) + 1;
  }
}
