import { Injectable, Logger } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { Cancellation } from '../common/cancellation.js';
import { AppError, mapAppError } from '../common/errors/app-error.js';
import { isDatabaseUnavailable } from '../common/errors/pg-error.js';
import { DATABASE_RETRY_AFTER_SECONDS } from '../common/filters/error-response.js';
import { GatewayShutdown, ShutdownService, shuttingDown } from '../common/shutdown/shutdown.service.js';
import { AppConfig } from '../config/app-config.js';
import type { SseEvent } from '../vllm/sse-parser.js';
import { UpstreamCancelledError, VllmService } from '../vllm/vllm.service.js';
import type { RelayPath, UpstreamJson, UpstreamResponse, UpstreamStream } from '../vllm/vllm.types.js';
import type { RelayOutcome, ReplyRecorder } from '../vllm/relay-outcome.js';
import { CompletionAccounting } from './completion-accounting.js';
import type { RequestContext, RelayPlan } from './relay.types.js';

const SSE_HEADERS = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache',
  // nginx and similar proxies buffer event streams unless told not to.
  'X-Accel-Buffering': 'no',
  Connection: 'keep-alive',
} as const;

const DONE_FRAME = 'data: [DONE]\n\n';

/**
 * Relays one request to vLLM and its answer to the client, for every OpenAI route: JSON bytes as vLLM sent them,
 * SSE events written one by one as they arrive, never re-serialised. A client disconnect (the response closing
 * before it finished) aborts the upstream call at once, before the first token included.
 */
@Injectable()
export class RelayService {
  private readonly logger = new Logger(RelayService.name);

  constructor(
    private readonly vllm: VllmService,
    private readonly config: AppConfig,
    private readonly accounting: CompletionAccounting,
    private readonly shutdown: ShutdownService,
  ) {}

  async relay(path: RelayPath, plan: RelayPlan, exchange: RequestContext): Promise<void> {
    const { res } = exchange;
    const { recorder } = plan;
    const cancellation = new Cancellation();
    // `req` also emits 'close' once its body is read, so only the response's early close means the client left.
    const onClose = (): void => {
      if (!res.writableFinished) cancellation.abort();
    };
    res.once('close', onClose);
    // The client may have left while its body was being read, before this listener existed.
    if (exchange.req.socket.destroyed) cancellation.abort();
    // Shutdown aborts the relays still running when its grace period is over, and waits for their replies' commits.
    const release = this.shutdown.track(cancellation);
    const outcome: RelayOutcome = { status: 'complete' };
    const commit = recorder === undefined ? undefined : once(() => recorder.commit(outcome));
    try {
      let answer: UpstreamResponse;
      try {
        answer = await this.vllm.send(path, plan.payload ?? plan.body, cancellation, {
          requestId: exchange.requestId,
          stickyKey: plan.stickyKey,
        });
      } catch (err) {
        if (err instanceof UpstreamCancelledError || cancellation.aborted) {
          outcome.status = 'aborted';
          if (stoppedByShutdown(cancellation)) await this.refuseForShutdown(commit);
          return;
        }
        outcome.status = 'error';
        outcome.error = err;
        // The failed reply is stored before the client hears of it; the upstream's error is the answer either way.
        await this.storeBeforeError(commit, 'failed');
        // Nothing was sent yet: the global filter writes the status and error body.
        throw err;
      }
      outcome.upstream = answer.upstream;
      outcome.attemptId = answer.attemptId;
      if (cancellation.aborted) {
        // The client left while the answer was arriving.
        if (answer.kind === 'stream') answer.cancel();
        outcome.status = 'aborted';
        if (stoppedByShutdown(cancellation)) await this.refuseForShutdown(commit);
        return;
      }
      if (answer.kind === 'json') await this.sendJson(answer, exchange, outcome, commit);
      else await this.sendStream(answer, exchange, cancellation, plan, outcome, commit);
    } finally {
      res.off('close', onClose);
      if (recorder !== undefined && commit !== undefined) this.settle(recorder, commit, outcome, release);
      else release();
      this.accounting.completed(path, plan, exchange, outcome);
    }
  }

  private async sendJson(
    answer: UpstreamJson,
    exchange: RequestContext,
    outcome: RelayOutcome,
    commit: (() => Promise<void>) | undefined,
  ): Promise<void> {
    const { res } = exchange;
    outcome.body = answer.body;
    if (commit !== undefined) {
      try {
        await commit();
      } catch (err) {
        outcome.status = 'error';
        outcome.error = err;
        // The headers are not sent: the filter answers 503, and the client knows the turn was not kept.
        throw replyNotStored(err);
      }
    }
    const overhead = answer.dispatchedAt - exchange.receivedAt + (performance.now() - answer.receivedAt);
    outcome.overheadMs = overhead;
    const ms = formatMs(overhead);
    res.writeHead(answer.status, {
      'Content-Type': answer.contentType,
      'Content-Length': answer.body.length,
      'Server-Timing': `gateway;dur=${ms}`,
      'X-Gateway-Overhead-Ms': ms,
    });
    res.end(answer.body);
  }

  private async sendStream(
    answer: UpstreamStream,
    exchange: RequestContext,
    cancellation: Cancellation,
    plan: RelayPlan,
    outcome: RelayOutcome,
    commit: (() => Promise<void>) | undefined,
  ): Promise<void> {
    const { res } = exchange;
    const { recorder } = plan;
    const events: SseEvent[] | undefined = recorder === undefined ? undefined : [];
    outcome.events = events;
    // The stream's headers carry the time spent before the upstream call; what follows is per event and tiny.
    const pre = answer.dispatchedAt - exchange.receivedAt + (performance.now() - answer.headersAt);
    outcome.overheadMs = pre;
    res.writeHead(answer.status, { ...SSE_HEADERS, 'Server-Timing': `gateway;dur=${formatMs(pre)}` });
    // The headers leave with the first events when those are already here (one write, one wake-up of the client),
    // else on their own as soon as this turn of the event loop is over, without waiting for the first token.
    let wrote = false;
    // Counted per upstream read, not per event: one addition and one clock read per batch.
    let dataEvents = 0;
    let relayMs = 0;
    let lastDataEvent: SseEvent | undefined;
    this.accounting.streamStarted();
    const flushHeaders = setImmediate(() => {
      if (!wrote) res.flushHeaders();
    });
    try {
      // Events that arrived in one upstream read leave in one write: node:http corks a response until the next tick,
      // so writing them one by one would hold the first back until the last was relayed, at a chunk frame each.
      for await (const batch of answer.batches) {
        const now = performance.now();
        outcome.firstEventAt ??= now;
        outcome.lastEventAt = now;
        const tail = batch[batch.length - 1];
        if (tail?.done === true) {
          dataEvents += batch.length - 1;
          lastDataEvent = batch[batch.length - 2] ?? lastDataEvent;
        } else {
          dataEvents += batch.length;
          lastDataEvent = tail ?? lastDataEvent;
        }
        const out: Buffer[] = [];
        for (const event of batch) {
          events?.push(event);
          if (event.isError) {
            outcome.status = 'error';
            outcome.errorEvent = event;
          }
          if (recorder?.hidesEvent(event) !== true) out.push(event.raw);
        }
        if (out.length > 0) {
          wrote = true;
          const chunk = out.length === 1 ? out[0] : Buffer.concat(out);
          // The read that brings [DONE] ends the response in the same write (chunk and terminator in one system call,
          // one wake-up of the client); the upstream body's rest is drained when the loop leaves the iterator.
          if (batch[batch.length - 1]?.done === true) {
            // A conversation's reply is committed before the write that carries [DONE]: that write tells the client
            // the turn is over, and its next turn must find the reply.
            // The reply's commit is database time, not relay time: the clock is read around it.
            relayMs += performance.now() - now;
            if (commit !== undefined && !(await this.commitBeforeEnd(commit, res, outcome))) return;
            const endAt = performance.now();
            res.end(chunk);
            relayMs += performance.now() - endAt;
            return;
          }
          const flowing = res.write(chunk);
          relayMs += performance.now() - now;
          if (!flowing) await drained(res, cancellation, this.config.vllm.idleTimeoutMs);
        }
        if (cancellation.aborted) break;
      }
      if (cancellation.aborted) {
        outcome.status = 'aborted';
        answer.cancel();
        await this.endForShutdown(res, cancellation, commit);
        return;
      }
      if (commit !== undefined && !(await this.commitBeforeEnd(commit, res, outcome))) return;
      res.end();
    } catch (err) {
      answer.cancel();
      if (err instanceof UpstreamCancelledError || cancellation.aborted) {
        outcome.status = 'aborted';
        await this.endForShutdown(res, cancellation, commit);
        return;
      }
      // The status line is gone: the failure becomes a final error event, then [DONE], as vLLM itself does.
      outcome.status = 'error';
      outcome.error = err;
      const appError =
        err instanceof AppError ? err : new AppError('internal', 'Internal server error', { cause: err });
      await this.storeBeforeError(commit, 'failed');
      endWithError(res, appError);
    } finally {
      clearImmediate(flushHeaders);
      this.accounting.streamEnded();
      outcome.dataEvents = dataEvents;
      outcome.relayMs = relayMs;
      outcome.lastDataEvent = lastDataEvent;
    }
  }

  /**
   * Shutdown stopped the relay before the headers: the partial reply is stored as aborted, then the client gets the
   * 503 (the filter writes it), so it retries elsewhere.
   */
  private async refuseForShutdown(commit: (() => Promise<void>) | undefined): Promise<never> {
    await this.storeBeforeError(commit, 'aborted');
    throw shuttingDown();
  }

  /**
   * Shutdown stopped a stream whose client is still reading (a client that left needs nothing): its partial reply is
   * stored as aborted, then the stream ends with an error event and [DONE].
   */
  private async endForShutdown(
    res: ServerResponse,
    cancellation: Cancellation,
    commit: (() => Promise<void>) | undefined,
  ): Promise<void> {
    if (!stoppedByShutdown(cancellation) || res.writableEnded) return;
    await this.storeBeforeError(commit, 'aborted');
    endWithError(res, shuttingDown());
  }

  /**
   * Stores a failed or aborted reply before the client gets its error. The error is the answer whether or not that
   * worked, so a store failure is only logged.
   */
  private async storeBeforeError(commit: (() => Promise<void>) | undefined, what: 'failed' | 'aborted'): Promise<void> {
    await commit?.().catch((storeErr: unknown) => this.logger.error(storeErr, `${what} reply not stored`));
  }

  /**
   * Commits the reply before the stream's last write. False when that failed: the stream has then been ended with an
   * error event and [DONE] instead, so the client does not take an unstored reply for a finished turn.
   */
  private async commitBeforeEnd(
    commit: () => Promise<void>,
    res: ServerResponse,
    outcome: RelayOutcome,
  ): Promise<boolean> {
    try {
      await commit();
      return true;
    } catch (err) {
      outcome.status = 'error';
      outcome.error = err;
      endWithError(res, replyNotStored(err));
      return false;
    }
  }

  /**
   * A reply not committed yet (the client went away) is stored now; then the after-response work runs, deferred past
   * the current I/O so it never delays the client's bytes, an error body written by the filter included.
   */
  private settle(
    recorder: ReplyRecorder,
    commit: () => Promise<void>,
    outcome: RelayOutcome,
    release: () => void,
  ): void {
    setImmediate(() => {
      commit()
        .then(() => recorder.afterResponse(outcome))
        .catch((err: unknown) => this.logger.error(err, 'after-response work failed'))
        .finally(release);
    });
  }
}

function stoppedByShutdown(cancellation: Cancellation): boolean {
  return cancellation.reason instanceof GatewayShutdown;
}

/** The stream's status line is gone: a failure becomes a final error event, then [DONE], as vLLM itself does. */
function endWithError(res: ServerResponse, error: AppError): void {
  // The request's end log line reports it, as the exception filter does for errors before the headers.
  res.err = error;
  res.end(`data: ${JSON.stringify(mapAppError(error).body)}\n\n${DONE_FRAME}`);
}

function replyNotStored(cause: unknown): AppError {
  return new AppError('service_unavailable', 'The reply could not be stored in the conversation; please retry.', {
    cause,
    // Like every other 503 of a database outage (error-response.ts), it says when to retry.
    ...(isDatabaseUnavailable(cause) ? { retryAfterSeconds: DATABASE_RETRY_AFTER_SECONDS } : {}),
  });
}

/** The first call runs `run`; later calls get the same promise. */
function once(run: () => Promise<void>): () => Promise<void> {
  let result: Promise<void> | undefined;
  return () => (result ??= run());
}

/**
 * Resolves when the client's socket accepts more, or when the client is gone (then the caller stops). A client that
 * reads nothing for `idleMs` (the upstream's idle timeout, which has then freed vLLM) is disconnected: its 'close'
 * aborts the relay, so neither the socket nor the request's after-response work waits on it forever.
 */
function drained(res: ServerResponse, cancellation: Cancellation, idleMs: number): Promise<void> {
  if (cancellation.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const stalled = setTimeout(() => res.destroy(), idleMs);
    const done = (): void => {
      clearTimeout(stalled);
      res.off('drain', done);
      cancellation.off(done);
      resolve();
    };
    res.on('drain', done);
    cancellation.on(done);
  });
}

function formatMs(ms: number): string {
  return (Math.round(ms * 100) / 100).toString();
}
