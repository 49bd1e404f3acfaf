import { Injectable, Logger } from '@nestjs/common';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Cancellation } from '../cancellation.js';
import { AppError } from '../errors/app-error.js';
import { sendError } from '../filters/all-exceptions.filter.js';
import type { RequestLogger } from '../logging/http-logger.js';

/**
 * The abort reason of a relay that shutdown stopped. A relay tells it apart from a client that went away: this
 * client is still connected and must hear why its stream ends.
 */
export class GatewayShutdown extends Error {
  override name = 'GatewayShutdown';
  constructor() {
    super('the gateway is shutting down');
  }
}

/** What a client is told when shutdown refuses or ends its request: retryable, on another process. */
export function shuttingDown(): AppError {
  return new AppError('service_unavailable', 'The gateway is shutting down; please retry.', { retryAfterSeconds: 1 });
}

/**
 * After the grace period the relays left are aborted; this bounds the wait for them to store their partial replies
 * and end their streams. Requests that are still open after it (not relays) have their sockets destroyed.
 */
const ABORT_SETTLE_MS = 5_000;

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Graceful shutdown of the HTTP side. It sits in front of every request listener (the chat fast lane and Express), so
 * it sees every response, and relays register their cancellation with it. `drain(graceMs)`:
 *
 * 1. stops accepting: every new request (a new connection, or the next one on a keep-alive socket) gets 503 in
 *    OpenAI's shape with `Connection: close`, and idle keep-alive sockets are closed;
 * 2. waits up to `graceMs` for the open responses, and for the relays' reply commits, to finish;
 * 3. aborts the relays left: each stops its upstream call, stores its partial reply as `aborted`, and ends its stream
 *    with an error event and `[DONE]` (a response whose headers are not sent yet gets the 503);
 * 4. closes the listener and every socket left, so `app.close()` does not wait on a client.
 *
 * The rest (usage queue, conversation writes, log, database pool) is flushed by the app's shutdown hooks, which
 * `app.close()` runs afterwards.
 */
@Injectable()
export class ShutdownService {
  private readonly logger = new Logger(ShutdownService.name);
  private server: Server | undefined;
  private draining = false;
  private drained: Promise<void> | undefined;
  private aborting = false;
  private readonly open = new Set<ServerResponse>();
  /** Relays from their start until their reply is stored (which may be after their response ended). */
  private readonly relays = new Set<Cancellation>();
  private readonly idleWaiters = new Set<() => void>();

  /** Responses not finished yet and relays not settled yet, for logs and tests. */
  pending(): { responses: number; relays: number } {
    return { responses: this.open.size, relays: this.relays.size };
  }

  /**
   * Puts the gate in front of the server's request listeners; installed last, so it runs before the fast lane.
   * `requestLogger` gives a refused request its id and its two log lines, like any other.
   */
  install(server: Server, requestLogger: RequestLogger): void {
    this.server = server;
    const listeners = server.listeners('request') as RequestListener[];
    server.removeAllListeners('request');
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      if (this.draining) {
        refuse(req, res, requestLogger);
        return;
      }
      this.open.add(res);
      res.once('close', () => {
        this.open.delete(res);
        // Its keep-alive socket is idle from the next turn on: closed then, not at the end of the grace period.
        if (this.draining) setImmediate(() => server.closeIdleConnections());
        this.notifyIfIdle();
      });
      for (const listener of listeners) listener(req, res);
    });
  }

  /**
   * Registers a relay's cancellation; the returned function releases it once the relay's reply is stored. A relay that
   * starts after the grace period is aborted at once.
   */
  track(relay: Cancellation): () => void {
    if (this.aborting) relay.abort(new GatewayShutdown());
    this.relays.add(relay);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.relays.delete(relay);
      this.notifyIfIdle();
    };
  }

  /** Runs the steps above once; a second call gets the same promise. */
  drain(graceMs: number): Promise<void> {
    this.drained ??= this.run(graceMs);
    return this.drained;
  }

  private async run(graceMs: number): Promise<void> {
    this.draining = true;
    const server = this.server;
    // The sockets between requests would otherwise stay open until their keep-alive timeout.
    server?.closeIdleConnections();
    // Responses still being computed close their connection when they are sent.
    for (const res of this.open) if (!res.headersSent) res.setHeader('Connection', 'close');
    this.logger.log({ ...this.pending(), grace_ms: graceMs }, 'shutting down: draining in-flight requests');
    if (!(await this.idleWithin(graceMs))) {
      this.logger.warn(this.pending(), 'grace period over: aborting the relays left');
      this.aborting = true;
      for (const relay of this.relays) relay.abort(new GatewayShutdown());
      if (!(await this.idleWithin(ABORT_SETTLE_MS))) {
        this.logger.error(this.pending(), 'requests still open after the relays were aborted: closing their sockets');
      }
    }
    if (server !== undefined) {
      // Nothing is in flight any more: whatever socket is left only holds a finished or refused exchange.
      server.close();
      server.closeAllConnections();
    }
  }

  private idle(): boolean {
    return this.open.size === 0 && this.relays.size === 0;
  }

  private notifyIfIdle(): void {
    if (!this.idle()) return;
    for (const wake of this.idleWaiters) wake();
    this.idleWaiters.clear();
  }

  /** True once nothing is pending, false if `ms` passed first. */
  private idleWithin(ms: number): Promise<boolean> {
    if (this.idle()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.idleWaiters.delete(wake);
        resolve(false);
      }, ms);
      this.idleWaiters.add(wake);
    });
  }
}

function refuse(req: IncomingMessage, res: ServerResponse, requestLogger: RequestLogger): void {
  requestLogger(req, res, () => {
    // The socket closes after this answer: the client's next request opens a connection to a process that serves it.
    res.setHeader('Connection', 'close');
    sendError(shuttingDown(), res);
  });
}
