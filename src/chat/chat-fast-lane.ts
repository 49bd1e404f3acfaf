import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { PinoLogger } from 'nestjs-pino';
import { ApiKeyService } from '../auth/api-key.service.js';
import { sendError } from '../common/filters/all-exceptions.filter.js';
import { BodyAbortedError, plainJsonLength, readJsonBody } from '../common/http/json-body.js';
import type { RequestLogger } from '../common/logging/http-logger.js';
import { AppConfig } from '../config/app-config.js';
import { ChatService } from './chat.service.js';
import type { Exchange } from './relay.types.js';

/** A body that starts with `{` carries no BOM or leading space: its bytes can go to vLLM as they are. */
const OPEN_BRACE = 0x7b;

type Route = (body: unknown, exchange: Exchange) => Promise<void>;

/**
 * The OpenAI routes served on node:http ahead of Express: `POST /v1/chat/completions`, `/v1/completions` and
 * `/v1/embeddings` with a plain JSON body. Express' router, body parser and Nest's route pipeline cost about as much
 * CPU per request as the whole relay (BENCHMARKS.md, "Fast lane"), and these routes use none of them: the body stays a
 * plain object and the relay writes the response itself. The steps are the ones the Express path takes, in the same
 * order and with the same code (request logger, logging context, ChatService, `sendError`), so both paths answer
 * alike. Whatever the lane does not take (other routes, methods or media types, chunked or compressed bodies, a body
 * over BODY_LIMIT, a path Express would match only loosely) goes to Express untouched, which also keeps
 * `ChatController` as the documented route. Nest's guards, interceptors and pipes do not run here: whatever is added
 * to the Express path of these routes must be called here too, as the API-key check is; `fast-lane.e2e-spec.ts` sends
 * each case both ways and compares the answers.
 */
@Injectable()
export class ChatFastLane {
  private readonly routes: ReadonlyMap<string, Route>;

  constructor(
    chat: ChatService,
    private readonly config: AppConfig,
    private readonly pino: PinoLogger,
    private readonly keys: ApiKeyService,
  ) {
    this.routes = new Map<string, Route>([
      ['/v1/chat/completions', (body, exchange) => chat.chatCompletions(body, exchange)],
      ['/v1/completions', (body, exchange) => chat.completions(body, exchange)],
      ['/v1/embeddings', (body, exchange) => chat.embeddings(body, exchange)],
    ]);
  }

  /**
   * Puts the lane in front of the server's request listener (Express). `requestLogger` is the instance Express runs
   * first, so both paths log the same two lines with the same request id.
   */
  install(server: Server, requestLogger: RequestLogger): void {
    const fallbacks = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
    server.removeAllListeners('request');
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      if (this.take(req, res, requestLogger)) return;
      for (const fallback of fallbacks) fallback(req, res);
    });
  }

  /** Serves the request and returns true, or returns false without having touched it. */
  take(req: IncomingMessage, res: ServerResponse, requestLogger: RequestLogger): boolean {
    if (req.method !== 'POST') return false;
    const url = req.url ?? '';
    const query = url.indexOf('?');
    const route = this.routes.get(query === -1 ? url : url.slice(0, query));
    if (route === undefined) return false;
    if (plainJsonLength(req, this.config.bodyLimitBytes) === undefined) return false;
    requestLogger(req, res, () => {
      if (!this.keys.admits(req, res)) return;
      // The request logger has set the id (a string); the fallback keeps a stray value out of vLLM's request id.
      const requestId = typeof req.id === 'string' ? req.id : randomUUID();
      // The logging context nestjs-pino's middleware gives Express requests: lines logged by services carry the id.
      void this.pino.runInContext(() => this.serve(req, res, route, requestId), {
        bindings: { request_id: requestId },
      });
    });
    return true;
  }

  private async serve(req: IncomingMessage, res: ServerResponse, route: Route, requestId: string): Promise<void> {
    try {
      const { value, raw } = await readJsonBody(req);
      await route(value, {
        req,
        res,
        requestId,
        receivedAt: performance.now(),
        rawBody: raw[0] === OPEN_BRACE ? raw : undefined,
      });
    } catch (err) {
      // A client gone before its body arrived gets nothing; its end log line says "request aborted".
      if (!(err instanceof BodyAbortedError)) sendError(err, res);
    }
  }
}
