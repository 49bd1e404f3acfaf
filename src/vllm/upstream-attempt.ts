import type { ClientRequest, IncomingMessage } from 'node:http';
import type { Cancellation } from '../common/cancellation.js';
import { AppError } from '../common/errors/app-error.js';
import type { AppConfig } from '../config/app-config.js';
import { CONNECT_TIMEOUT_CODE } from './http-agent.js';
import { RequestFailure } from './http-client.js';
import { type SseEvent, SseParser } from './sse-parser.js';
import { UpstreamCancelledError } from './upstream-error.js';
import type { Upstream, UpstreamPool } from './upstream-pool.js';

/** Errors that mean no connection was made: nothing reached vLLM, so another upstream may take the request. */
const CONNECT_ERROR_CODES = new Set([
  'ECONNREFUSED',
  CONNECT_TIMEOUT_CODE,
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
]);

/** An attempt that failed before any byte was exchanged; `retrySame` marks a stale keep-alive socket. */
export class ConnectFailure extends Error {
  constructor(
    readonly code: string,
    readonly retrySame: boolean,
  ) {
    super(code);
  }
}

export type TimeoutConfig = Pick<AppConfig['vllm'], 'firstByteTimeoutMs' | 'idleTimeoutMs'>;

/**
 * One upstream request. A single timer covers it: the first-byte timeout until the first body byte, then the idle
 * timeout, re-armed with `refresh()` per chunk (no timer per event, no total timeout: long streams live on).
 */
export class Attempt {
  private request: ClientRequest | undefined;
  /** `stalled`: the idle timeout ran out while the consumer was not asking for more (a client that stopped reading). */
  private cause: 'client' | 'timeout' | 'stalled' | undefined;
  private idle = false;
  private timer: NodeJS.Timeout;
  private released = false;
  private stream: IncomingMessage | undefined;
  private ended = false;
  private error: unknown;
  private wake: (() => void) | undefined;
  private draining = false;

  constructor(
    private readonly upstream: Upstream,
    private readonly pool: UpstreamPool,
    private readonly cancellation: Cancellation,
    private readonly timeouts: TimeoutConfig,
    private readonly onRelease: () => void,
  ) {
    pool.acquire(upstream);
    this.timer = setTimeout(this.onTimeout, timeouts.firstByteTimeoutMs);
    if (cancellation.aborted) this.onClientAbort();
    else cancellation.on(this.onClientAbort);
  }

  /** The upstream request, destroyed when the attempt is given up before its response arrived. */
  bind(request: ClientRequest): void {
    this.request = request;
    if (this.cause !== undefined) request.destroy(new Error(`vLLM request aborted (${this.cause})`));
  }

  /** Takes the response body over; listeners go on at once so an error can never be unhandled. */
  adopt(stream: IncomingMessage): void {
    this.stream = stream;
    stream.on('readable', this.onReadable);
    stream.on('error', (err) => {
      this.error ??= err;
      this.notify();
    });
    stream.on('end', () => {
      this.ended = true;
      this.finish();
      this.notify();
    });
    stream.on('close', () => {
      if (!this.ended) this.error ??= new Error('vLLM closed the connection before the response was complete');
      this.finish();
      this.notify();
    });
    // Aborted before the body was adopted: the listener above never saw the stream.
    if (this.cause !== undefined) stream.destroy();
  }

  /**
   * The whole body, for JSON answers and error bodies; with `maxBytes`, at most that much: the rest is not read (the
   * connection is closed), so an upstream cannot make the gateway buffer an endless error body.
   */
  async readAll(maxBytes = Infinity): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let received = 0;
    for (;;) {
      const chunk = this.read();
      if (chunk !== null) {
        chunks.push(chunk);
        received += chunk.length;
        if (received >= maxBytes) {
          this.cancel();
          return Buffer.concat(chunks, received).subarray(0, maxBytes);
        }
        continue;
      }
      if (this.error !== undefined) throw this.failure(this.error);
      if (this.ended) return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      await this.next();
    }
  }

  /**
   * The body as SSE events, in one batch per chunk read. After `[DONE]` the rest of the body is drained so the socket
   * goes back to the pool. An event over `maxEventBytes` ends the iteration with `bad_gateway`.
   */
  async *batches(maxEventBytes: number): AsyncGenerator<readonly SseEvent[], void, undefined> {
    const parser = new SseParser(maxEventBytes);
    try {
      for (;;) {
        const chunk = this.read();
        if (chunk !== null) {
          const batch = parser.push(chunk);
          if (batch.length > 0) yield batch;
          if (parser.done) return;
          continue;
        }
        if (this.error !== undefined) throw this.failure(this.error);
        if (this.ended) {
          if (parser.hasPartial) throw new AppError('bad_gateway', 'vLLM ended the stream in the middle of an event');
          return;
        }
        await this.next();
      }
    } finally {
      if (parser.done && !this.ended && this.error === undefined) this.drain();
      else this.cancel();
    }
  }

  cancel(): void {
    if (this.stream !== undefined && !this.stream.destroyed && !this.ended) this.stream.destroy();
    this.finish();
  }

  /** Releases the in-flight slot, the timer and the cancellation listener; idempotent. */
  finish(): void {
    if (this.released) return;
    this.released = true;
    clearTimeout(this.timer);
    this.cancellation.off(this.onClientAbort);
    this.pool.release(this.upstream);
    this.onRelease();
  }

  /** Maps whatever ended the attempt to what the caller should see. */
  failure(err: unknown): Error {
    if (this.cause === 'client') return new UpstreamCancelledError();
    if (this.cause === 'stalled') {
      return new AppError(
        'gateway_timeout',
        `The client read nothing for ${this.timeouts.idleTimeoutMs} ms; the vLLM request was aborted`,
      );
    }
    if (this.cause === 'timeout') {
      this.pool.recordFailure(this.upstream);
      return this.idle
        ? new AppError('gateway_timeout', `vLLM sent nothing for ${this.timeouts.idleTimeoutMs} ms`)
        : new AppError('gateway_timeout', `vLLM did not answer within ${this.timeouts.firstByteTimeoutMs} ms`);
    }
    if (err instanceof AppError) return err;
    const code = errorCode(err);
    if (this.stream === undefined && code !== undefined) {
      if (CONNECT_ERROR_CODES.has(code)) return new ConnectFailure(code, false);
      // A pooled socket the server closed just as we reused it: the request never reached vLLM.
      if (code === 'ECONNRESET' && isReusedSocket(err)) return new ConnectFailure(code, true);
    }
    this.pool.recordFailure(this.upstream);
    const reason = err instanceof Error ? err.message : String(err);
    return new AppError('bad_gateway', `vLLM connection failed: ${code ?? reason}`, { cause: err });
  }

  private readonly onClientAbort = (): void => {
    this.cause ??= 'client';
    this.abort();
  };

  private readonly onTimeout = (): void => {
    // The timer is refreshed only when the consumer reads. When it is not waiting for data (the relay is blocked on a
    // client that does not read), vLLM was not the one that went quiet: still abort, so it frees the request, but do
    // not count it against the upstream, or slow clients would eject a healthy vLLM.
    const consumerWaiting = this.wake !== undefined;
    this.cause ??= this.idle && !consumerWaiting && !this.draining ? 'stalled' : 'timeout';
    this.abort();
  };

  private abort(): void {
    // Before the response, destroying the request rejects the pending post; after it, destroying the response stream
    // closes the connection. Never both: once the response is ours, the request's socket is not ours to close.
    if (this.stream === undefined) this.request?.destroy(new Error(`vLLM request aborted (${this.cause ?? 'client'})`));
    else this.stream.destroy();
    this.notify();
  }

  private readonly onReadable = (): void => {
    if (this.draining) {
      while (this.stream?.read() != null);
      return;
    }
    this.notify();
  };

  private read(): Buffer | null {
    const chunk = this.stream?.read() as Buffer | null | undefined;
    if (chunk == null) return null;
    if (this.idle) this.timer.refresh();
    else {
      this.idle = true;
      clearTimeout(this.timer);
      this.timer = setTimeout(this.onTimeout, this.timeouts.idleTimeoutMs);
    }
    return chunk;
  }

  private next(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private drain(): void {
    this.draining = true;
    this.onReadable();
  }
}

export function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  const cause = (err as { cause?: unknown }).cause;
  return cause === undefined ? undefined : errorCode(cause);
}

function isReusedSocket(err: unknown): boolean {
  return err instanceof RequestFailure && err.reusedSocket;
}
