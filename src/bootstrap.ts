import type { DynamicModule, ForwardReference, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import type { Server } from 'node:http';
import { AppModule } from './app.module.js';
import { RouteAccess } from './auth/route-access.js';
import { ChatFastLane } from './chat/chat-fast-lane.js';
import { ADMIN_SECURITY, API_KEY_SECURITY } from './common/decorators/auth.decorator.js';
import { OpenAiErrorDto } from './common/errors/error-body.dto.js';
import { createValidationPipe } from './common/errors/validation.js';
import { AllExceptionsFilter, expressErrorHandler } from './common/filters/all-exceptions.filter.js';
import { deferContinue } from './common/http/expect-continue.js';
import { jsonDepthGuard } from './common/http/json-body.js';
import { corsMiddleware, securityHeaders } from './common/http/security-headers.js';
import { createHttpLogger } from './common/logging/http-logger.js';
import { processLogger } from './common/logging/process-logger.js';
import { ShutdownService } from './common/shutdown/shutdown.service.js';
import { completeOpenApiDocument } from './common/openapi.js';
import { MetricsService } from './metrics/metrics.service.js';
import { packageVersion } from './common/package-version.js';
import type { AppConfig } from './config/app-config.js';

/** The web UIs' HTML pages (AdminUiController, PlaygroundController): document headers, not the API's. */
const UI_PAGES = ['/admin', '/playground'];

export type ModuleImport = Type | DynamicModule | Promise<DynamicModule> | ForwardReference;

/**
 * Builds the fully configured application; shared by `main.ts` and the e2e tests so both run the same app.
 * `extraModules` are imported next to the app's own, for test-only controllers (a route that throws, a DTO route).
 */
export async function createApp(config: AppConfig, extraModules: ModuleImport[] = []): Promise<NestExpressApplication> {
  const root = AppModule.forRoot(config);
  const app = await NestFactory.create<NestExpressApplication>(
    extraModules.length === 0 ? root : { ...root, imports: [...(root.imports ?? []), ...extraModules] },
    // abortOnError: false makes a failed start reject (main.ts reports it and exits 1) instead of process.abort().
    { bodyParser: false, bufferLogs: true, abortOnError: false },
  );
  app.useLogger(app.get(Logger));
  // No framework fingerprint in every response.
  app.disable('x-powered-by');

  // Express-level order matters: the request logger gives every request its id (echoed as x-request-id) and its
  // start line before the body parser can reject it; the error handler right after the parser turns malformed JSON
  // and oversized bodies into the same error body as the exception filter.
  const metrics = app.get(MetricsService);
  const laneRoutes = app.get(ChatFastLane).served();
  const requestLogger = createHttpLogger(processLogger(), (req, res, seconds) =>
    metrics.observeHttp(req, res, seconds, laneRoutes),
  );
  app.use(requestLogger);
  const headers = securityHeaders(UI_PAGES);
  app.use(headers.middleware);
  const cors = corsMiddleware(config.corsOrigins);
  if (cors !== undefined) app.use(cors);
  // Expect: 100-continue is answered here, after the route's access check, since the parser would read the body
  // before the guard runs; the answer carries the request id and the security headers like any other.
  app.use(app.get(RouteAccess).continueGate());
  app.useBodyParser('json', { limit: config.bodyLimit });
  // Right after the parser, before anything (class-transformer) recurses over the body; Nest reserves body-parser's
  // `verify` hook, so the parsed value is walked, at most JSON_MAX_DEPTH levels down.
  app.use(jsonDepthGuard(config.limits.jsonMaxDepth));
  app.use(expressErrorHandler);

  app.useGlobalFilters(new AllExceptionsFilter());
  app.useGlobalPipes(createValidationPipe());
  setUpSwagger(app);
  const server = app.getHttpServer();
  applyServerLimits(server, config.limits);
  app.get(ChatFastLane).install(server, requestLogger, headers.fastLane);
  // node would say 100 Continue before any listener runs; the fast lane and the continue gate say it once admitted.
  deferContinue(server);
  // In front of the fast lane and Express: it refuses new requests once shutdown starts. main.ts handles the signals
  // (drain, then app.close(), then exit 0) instead of Nest's shutdown hooks, which re-raise the signal.
  app.get(ShutdownService).install(app.getHttpServer(), requestLogger);
  return app;
}

/**
 * node's own bounds on what a client controls before any handler runs: a slow client (one header byte a second, a
 * body that never finishes) gets 408 and its socket closed; connections past the cap are refused. A response, such
 * as a long stream, is not bounded by either timeout.
 */
function applyServerLimits(server: Server, limits: AppConfig['limits']): void {
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  server.maxConnections = limits.maxConnections;
}

function setUpSwagger(app: NestExpressApplication): void {
  const document = new DocumentBuilder()
    .setTitle('llm-gateway')
    .setDescription('OpenAI-compatible gateway in front of self-hosted vLLM servers')
    .setVersion(packageVersion())
    .addBearerAuth(
      { type: 'http', scheme: 'bearer', description: 'Client API key (sk-gw-… from the admin, or a static API_KEY)' },
      API_KEY_SECURITY,
    )
    .addBearerAuth(
      { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'Admin token from POST /admin/auth/login' },
      ADMIN_SECURITY,
    )
    .build();
  // A factory: the document is built on the first request to /docs, not at every start.
  SwaggerModule.setup(
    'docs',
    app,
    () => completeOpenApiDocument(SwaggerModule.createDocument(app, document, { extraModels: [OpenAiErrorDto] })),
    { jsonDocumentUrl: 'docs-json' },
  );
}
