import type { StoredMessage } from './message-store.js';

/**
 * The stored messages a later turn sends back to the model, so that a thread stays well-formed after failures.
 *
 * Every turn is stored as it happened: its user message and its reply, `complete`, `aborted` or `error`. What goes
 * back to the model is decided per exchange, an exchange being a user message and what follows it up to the next one:
 * - an exchange with no reply the model can be shown (failed, aborted before any content, or still in flight on
 *   another request) is left out whole, its user message included. Sending it would put two user messages in a row,
 *   which strict chat templates (Gemma's, Mistral's and others) reject; the client's retry carries the question again.
 * - inside an exchange that is kept, a failed reply, or one aborted before any content, is left out: it is not
 *   something the model said, and an empty assistant message is not a turn.
 * Messages before the first user message (a conversation that starts with an assistant greeting) follow the second
 * rule alone.
 */
export function replayedHistory(history: readonly StoredMessage[]): StoredMessage[] {
  const kept: StoredMessage[] = [];
  let exchange: StoredMessage[] = [];
  let answered = true;
  const close = (): void => {
    if (answered) for (const message of exchange) if (isShownReply(message)) kept.push(message);
    exchange = [];
  };
  for (const message of history) {
    if (message.role === 'user') {
      close();
      answered = false;
    }
    exchange.push(message);
    if (message.role === 'assistant' && isShownReply(message)) answered = true;
  }
  close();
  return kept;
}

/** False for an assistant row the model did not really say: failed, or aborted before any content. */
function isShownReply(message: StoredMessage): boolean {
  if (message.role !== 'assistant' || message.status === 'complete') return true;
  if (message.status === 'error') return false;
  return message.content !== '' || message.toolCalls !== null || message.contentParts !== null;
}
