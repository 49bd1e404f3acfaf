import { Injectable, RequestMethod, type Type } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants.js';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { PinoLogger } from 'nestjs-pino';
import { AccessPolicy } from '../auth/access-policy.js';
import { requirementOf } from '../auth/auth.guard.js';
import { joinPath } from '../auth/route-access.js';
import '../auth/request-principal.js';
import type { AuthRequirement } from '../common/decorators/auth.decorator.js';
import { sendError } from '../common/filters/all-exceptions.filter.js';
import { sendContinue } from '../common/http/expect-continue.js';
import { BodyAbortedError, plainJsonLength, readJsonBody } from '../common/http/json-body.js';
import type { HeaderList } from '../common/http/security-headers.js';
import { bodyLogFields, handlerName } from '../common/interceptors/route-log.interceptor.js';
import { addRouteLogFields, type RequestLogger } from '../common/logging/http-logger.js';
import { AppConfig } from '../config/app-config.js';
import { FAST_LANE, type FastLaneHandler } from './fast-lane.decorator.js';

/** A body that starts with `{` carries no BOM or leading space: its bytes can go to vLLM as they are. */
const OPEN_BRACE = 0x7b;

/** One `@FastLane()` handler, as read from its controller's metadata. */
export interface FastLaneRoute {
  /** `/v1/chat/completions`: the path Express would route, and the route template logged for it. */
  readonly path: string;
  /** `ChatController.chatCompletions` */
  readonly handler: string;
  readonly requirement: AuthRequirement;
  readonly serve: FastLaneHandler;
}

/**
 * The OpenAI routes served on node:http ahead of Express: the `@FastLane()` handlers (`POST /v1/chat/completions`,
 * `/v1/completions`, `/v1/embeddings`) with a plain JSON body. Express' router, body parser and Nest's route pipeline
 * cost about as much CPU per request as the whole relay (BENCHMARKS.md, "Fast lane"), and these routes use none of
 * them: the body stays a plain object and the relay writes the response itself.
 *
 * Nothing about the routes is written here: their paths, access requirements and handlers are read from the
 * controllers' metadata at start-up, and the access policy is the guard's own (`AccessPolicy`), so both paths admit
 * exactly the same requests. The other steps are the Express path's, in the same order and with the same code
 * (request logger, access policy, the interceptor's log fields, logging context, the controller's handler,
 * `sendError`). Whatever the lane does not take (other routes, methods or media types, chunked or compressed bodies,
 * a body over BODY_LIMIT, a path Express would match only loosely) goes to Express untouched. `fast-lane.e2e-spec.ts`
 * sends each case both ways and compares the answers; the route walk checks that the lane serves exactly the marked
 * handlers.
 */
@Injectable()
export class ChatFastLane {
  private routes: ReadonlyMap<string, FastLaneRoute> | undefined;
  /** The security headers Express' helmet middleware sets, precomputed (security-headers.ts). */
  private headers: HeaderList = [];

  constructor(
    private readonly config: AppConfig,
    private readonly pino: PinoLogger,
    private readonly policy: AccessPolicy,
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
  ) {}

  /** The routes the lane serves, read once from the controllers (throws when a marked handler cannot be served). */
  served(): ReadonlyMap<string, FastLaneRoute> {
    this.routes ??= this.discover();
    return this.routes;
  }

  /**
   * Puts the lane in front of the server's request listener (Express). `requestLogger` is the instance Express runs
   * first, so both paths log the same two lines with the same request id.
   */
  install(server: Server, requestLogger: RequestLogger, headers: HeaderList = []): void {
    this.served();
    this.headers = headers;
    const fallbacks = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
    server.removeAllListeners('request');
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      if (this.serveIfOwn(req, res, requestLogger)) return;
      for (const fallback of fallbacks) fallback(req, res);
    });
  }

  /** Serves the request and returns true, or returns false without having touched it. */
  serveIfOwn(req: IncomingMessage, res: ServerResponse, requestLogger: RequestLogger): boolean {
    if (req.method !== 'POST') return false;
    const url = req.url ?? '';
    const query = url.indexOf('?');
    const route = this.served().get(query === -1 ? url : url.slice(0, query));
    if (route === undefined) return false;
    if (plainJsonLength(req, this.config.bodyLimitBytes) === undefined) return false;
    // A cross-origin browser call goes through Express' CORS middleware (only when CORS_ORIGINS is set).
    if (this.config.corsOrigins.length > 0 && req.headers.origin !== undefined) return false;
    requestLogger(req, res, () => {
      for (const [name, value] of this.headers) res.setHeader(name, value);
      // Before the body is read, as the guard would: a refused client costs no body parsing.
      try {
        req.principal = this.policy.authorize(route.requirement, req.headers.authorization, res);
      } catch (err) {
        sendError(err, res);
        return;
      }
      sendContinue(req, res);
      addRouteLogFields(req, { route: route.path, handler: route.handler });
      // The request logger has set the id (a string); the fallback keeps a stray value out of vLLM's request id.
      const requestId = typeof req.id === 'string' ? req.id : randomUUID();
      // The logging context nestjs-pino's middleware gives Express requests: lines logged by services carry the id.
      void this.pino.runInContext(() => this.serve(req, res, route, requestId), {
        bindings: { request_id: requestId },
      });
    });
    return true;
  }

  private async serve(
    req: IncomingMessage,
    res: ServerResponse,
    route: FastLaneRoute,
    requestId: string,
  ): Promise<void> {
    try {
      const { value, raw } = await readJsonBody(req, this.config.limits.jsonMaxDepth);
      addRouteLogFields(req, bodyLogFields(value));
      const principal = req.principal;
      if (principal === undefined) throw new Error('fast lane: the access policy left no principal');
      await route.serve(value, {
        req,
        res,
        requestId,
        receivedAt: performance.now(),
        rawBody: raw[0] === OPEN_BRACE ? raw : undefined,
        principal,
      });
    } catch (err) {
      // A client gone before its body arrived gets nothing; its end log line says "request aborted".
      if (!(err instanceof BodyAbortedError)) sendError(err, res);
    }
  }

  private discover(): Map<string, FastLaneRoute> {
    const routes = new Map<string, FastLaneRoute>();
    for (const wrapper of this.discovery.getControllers()) {
      const instance: unknown = wrapper.instance;
      const controller = wrapper.metatype as Type | null;
      if (typeof instance !== 'object' || instance === null || typeof controller !== 'function') continue;
      const prototype = Object.getPrototypeOf(instance) as Record<string, unknown>;
      for (const name of this.scanner.getAllMethodNames(prototype)) {
        const method = prototype[name];
        if (typeof method !== 'function' || this.reflector.get<boolean>(FAST_LANE, method) !== true) continue;
        const handler = handlerName(controller, { name });
        const requirement = requirementOf(this.reflector, method, controller);
        // The guard would refuse such a handler on every request; the lane refuses to start instead.
        if (requirement === undefined) throw new Error(`${handler} is marked @FastLane() but declares no access`);
        if (this.reflector.get<RequestMethod>(METHOD_METADATA, method) !== RequestMethod.POST) {
          throw new Error(`${handler} is marked @FastLane() but is not a POST route`);
        }
        const path = joinPath(
          this.reflector.get<unknown>(PATH_METADATA, controller),
          this.reflector.get<unknown>(PATH_METADATA, method),
        );
        const serve = (method as FastLaneHandler).bind(instance);
        routes.set(path, { path, handler, requirement, serve });
      }
    }
    return routes;
  }
}
