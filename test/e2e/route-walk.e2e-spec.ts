import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, Module, RequestMethod, type Type } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants.js';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { requirementOf } from '../../src/auth/auth.guard.js';
import { RouteAccess } from '../../src/auth/route-access.js';
import { ChatFastLane } from '../../src/chat/chat-fast-lane.js';
import { FAST_LANE } from '../../src/chat/fast-lane.decorator.js';
import type { AuthRequirement } from '../../src/common/decorators/auth.decorator.js';
import { type RunningGateway, startGateway } from '../helpers/gateway.js';

interface RouteHandler {
  /** `GET /v1/models` */
  route: string;
  /** `ModelsController.list` */
  handler: string;
  requirement: AuthRequirement | undefined;
  fastLane: boolean;
}

function joinPath(...parts: unknown[]): string {
  const segments = parts.flatMap((p) => (typeof p === 'string' ? p.split('/') : [])).filter((s) => s !== '');
  return `/${segments.join('/')}`;
}

/** Every handler Nest registered, from the controllers' metadata: what the guard and the fast lane read. */
function walk(app: NestExpressApplication): RouteHandler[] {
  const discovery = app.get(DiscoveryService);
  const scanner = app.get(MetadataScanner);
  const reflector = app.get(Reflector);
  const handlers: RouteHandler[] = [];
  for (const wrapper of discovery.getControllers()) {
    const controller = wrapper.metatype as Type | null;
    if (controller === null) continue;
    const prototype = controller.prototype as Record<string, unknown>;
    for (const name of scanner.getAllMethodNames(prototype)) {
      const method = prototype[name];
      if (typeof method !== 'function') continue;
      const path: unknown = reflector.get(PATH_METADATA, method);
      if (path === undefined) continue;
      const verb = RequestMethod[reflector.get<RequestMethod>(METHOD_METADATA, method)];
      handlers.push({
        route: `${verb} ${joinPath(reflector.get(PATH_METADATA, controller), path)}`,
        handler: `${controller.name}.${name}`,
        requirement: requirementOf(reflector, method, controller),
        fastLane: reflector.get<boolean | undefined>(FAST_LANE, method) === true,
      });
    }
  }
  return handlers.sort((a, b) => a.route.localeCompare(b.route));
}

interface ExpressLayer {
  route?: { path: string; methods: Record<string, boolean> };
}

/** The routes Express actually serves (Nest's and anything else mounted on its router), as `GET /path`, in order. */
function expressRoutes(app: NestExpressApplication): string[] {
  const express = app.getHttpAdapter().getInstance() as { router: { stack: ExpressLayer[] } };
  return express.router.stack.flatMap((layer) =>
    layer.route === undefined
      ? []
      : Object.keys(layer.route.methods).map((m) => `${m.toUpperCase()} ${layer.route?.path ?? ''}`),
  );
}

/** Swagger's pages are mounted outside Nest's controllers; the catch-all is Nest's not-found answer. */
const notAController = (route: string): boolean => / (\/docs|\{\/\*splat\})/.test(route);

/** A controller that forgot to declare who may call it. */
@Controller('__undeclared')
class UndeclaredController {
  @Get()
  get(): { secret: string } {
    return { secret: 'should never be served' };
  }
}

@Module({ controllers: [UndeclaredController] })
class UndeclaredModule {}

/** Handlers anyone may call: each one is a decision, so a new one must be added here on purpose. */
const PUBLIC_HANDLERS = [
  'AdminAuthController.login',
  'AdminUiController.asset',
  'AdminUiController.page',
  'HealthController.check',
  'HealthController.root',
  // Scrapers carry no key; METRICS_TOKEN, when set, is checked by the handler itself.
  'MetricsController.scrape',
  // The playground's static files; the page calls /v1 with the key the user enters.
  'PlaygroundController.asset',
  'PlaygroundController.page',
];

describe('route walk: every handler declares its access, and the fast lane serves the marked ones (e2e)', () => {
  let gateway: RunningGateway;
  let handlers: RouteHandler[];

  beforeAll(async () => {
    gateway = await startGateway({ VLLM_BASE_URL: 'http://127.0.0.1:9' });
    handlers = walk(gateway.app);
  });

  afterAll(async () => {
    await gateway?.close();
  });

  it("finds every route Express serves, apart from the Swagger docs and Nest's not-found catch-all", () => {
    const walked = handlers.map((h) => h.route).sort();
    const served = expressRoutes(gateway.app)
      .filter((route) => !notAController(route))
      .sort();
    expect(served).toEqual(walked);
    // A sanity floor: the walk is not vacuously passing on an empty list.
    expect(handlers.length).toBeGreaterThan(25);
  });

  it('finds no handler that declares nothing', () => {
    const table = handlers.map((h) => `${h.route.padEnd(40)} ${h.handler.padEnd(45)} ${JSON.stringify(h.requirement)}`);
    expect({ undeclared: handlers.filter((h) => h.requirement === undefined).map((h) => h.handler), table }).toEqual({
      undeclared: [],
      table,
    });
  });

  it('opens only the intended handlers, keeps /v1 to client keys and /admin to the admin token', () => {
    const publicOnes = handlers.filter((h) => h.requirement?.kind === 'public').map((h) => h.handler);
    expect(publicOnes.sort()).toEqual(PUBLIC_HANDLERS);
    for (const { route, handler, requirement } of handlers) {
      const path = route.split(' ')[1] ?? '';
      if (path.startsWith('/v1/')) expect({ handler, kind: requirement?.kind }).toEqual({ handler, kind: 'api-key' });
      if (path.startsWith('/admin/') && !PUBLIC_HANDLERS.includes(handler)) {
        expect({ handler, kind: requirement?.kind }).toEqual({ handler, kind: 'admin' });
      }
    }
  });

  it('has the fast lane serve exactly the handlers marked for it, with their own path and requirement', () => {
    const marked = handlers.filter((h) => h.fastLane);
    expect(marked.map((h) => h.handler).sort()).toEqual([
      'ChatController.chatCompletions',
      'ChatController.completions',
      'ChatController.embeddings',
    ]);
    const served = [...gateway.app.get(ChatFastLane).served().values()].map((route) => ({
      route: `POST ${route.path}`,
      handler: route.handler,
      requirement: route.requirement,
      fastLane: true,
    }));
    expect(served.sort((a, b) => a.route.localeCompare(b.route))).toEqual(marked);
  });

  it("has the Expect: 100-continue gate see Express' routes in its dispatch order, each with its handler's requirement", () => {
    const table = gateway.app.get(RouteAccess).table().routes;
    // In Express' order: of two routes that match a request, the gate must check the one Express dispatches to.
    expect(table.map((r) => r.route)).toEqual(expressRoutes(gateway.app).filter((route) => !notAController(route)));
    const declared = new Map(handlers.map((h) => [h.route, h.requirement]));
    expect(table.map((r) => [r.route, r.requirement])).toEqual(table.map((r) => [r.route, declared.get(r.route)]));
  });

  it('catches a handler that declares nothing, and the guard refuses it on every request', async () => {
    const withGap = await startGateway({ VLLM_BASE_URL: 'http://127.0.0.1:9' }, [UndeclaredModule]);
    try {
      expect(walk(withGap.app).filter((h) => h.requirement === undefined)).toEqual([
        { route: 'GET /__undeclared', handler: 'UndeclaredController.get', requirement: undefined, fastLane: false },
      ]);
      // Authentication off, so only the missing declaration can be the reason.
      const res = await fetch(`${withGap.url}/__undeclared`);
      expect(res.status).toBe(403);
      const text = await res.text();
      expect(JSON.parse(text)).toMatchObject({ error: { type: 'permission_error' } });
      expect(text).not.toContain('should never be served');
    } finally {
      await withGap.close();
    }
  });
});
