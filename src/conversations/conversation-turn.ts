import { isUsageOnlyChunk } from './assistant-reply.js';

const EMPTY_CHOICES = Buffer.from('"choices":[]');

/**
 * How a relayed request ended, as the relay reports it (the chat module's `RelayOutcome` fits this shape). Only
 * what the reply's row needs is read.
 */
export interface TurnOutcome {
  status: 'complete' | 'aborted' | 'error';
  /** The non-streamed answer, as relayed. */
  body?: Buffer;
  /** The relayed events of a stream; `data` is each event's payload text. */
  events?: readonly { readonly data: string }[];
  /** performance.now() of the first and last relayed events of a stream. */
  firstEventAt?: number;
  lastEventAt?: number;
  error?: unknown;
}

/**
 * One conversation turn in flight: the request's messages are stored, the reply's seq is reserved. The chat path
 * settles it exactly once, after the client got the response (whatever its end), and the reply is stored then.
 */
export class ConversationTurn {
  private settled = false;

  constructor(
    /**
     * The gateway asked vLLM for the usage chunk the client did not ask for (it is how an aborted or streamed
     * reply gets its token counts); that chunk must not reach the client.
     */
    readonly hideUsageChunk: boolean,
    private readonly store: (outcome: TurnOutcome) => Promise<void>,
  ) {}

  /**
   * Whether the relay should skip writing this event's bytes to the client. Called for every relayed event, so the
   * common case is a byte search (vLLM writes compact JSON), with a parse only for the one candidate.
   */
  hidesEvent(event: { readonly raw: Buffer; readonly data: string }): boolean {
    return this.hideUsageChunk && event.raw.includes(EMPTY_CHOICES) && isUsageOnlyChunk(event.data);
  }

  /** Stores the reply. A second call is ignored: one turn, one reply row. */
  settle(outcome: TurnOutcome): Promise<void> {
    if (this.settled) return Promise.resolve();
    this.settled = true;
    return this.store(outcome);
  }
}
