import { type HttpServer, Injectable, RequestMethod, type Type } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants.js';
import { DiscoveryService, HttpAdapterHost, MetadataScanner, Reflector } from '@nestjs/core';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuthRequirement } from '../common/decorators/auth.decorator.js';
import { sendError } from '../common/filters/all-exceptions.filter.js';
import { awaitsContinue, sendContinue } from '../common/http/expect-continue.js';
import { addRouteLogFields } from '../common/logging/http-logger.js';
import { AccessPolicy, closedRoute } from './access-policy.js';
import { requirementOf } from './auth.guard.js';

/** One route Nest registers on Express, with the access its handler declares. */
export interface AccessRoute {
  /** `GET /v1/conversations/:id`: the method and the path template, as the route walk and Express spell them. */
  readonly route: string;
  /** `/v1/conversations/:id` */
  readonly template: string;
  /** `GET`, or `ALL` for a handler of every method. */
  readonly method: string;
  readonly requirement: AuthRequirement | undefined;
  /** The template's segments (lower-cased when routing ignores case); null stands for a `:param`. */
  readonly segments: readonly (string | null)[];
}

export type ContinueGate = (req: IncomingMessage, res: ServerResponse, next: () => void) => void;

/** How the router matches a path (the part of Nest's `RouteMatchingOptions` that Express' router varies). */
export interface PathMatching {
  /** Whether `/Users` and `/users` are different paths. */
  readonly caseSensitive: boolean;
  /** Whether `/users/` is served by the `/users` route. */
  readonly ignoreTrailingSlash: boolean;
}

const PARAM_SEGMENT = /^:[A-Za-z_$][\w$]*$/;
/** path-to-regexp's syntax characters: a segment without them matches only itself. */
const STATIC_SEGMENT = /^[^:*?+!(){}[\]\\]*$/;
/** Matching as strict as a router can be, for an adapter that does not say how it matches. */
const EXACT: PathMatching = { caseSensitive: true, ignoreTrailingSlash: false };

function templates(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((part): part is string => typeof part === 'string');
  return typeof value === 'string' ? [value] : [''];
}

/** A route's path from its controller's and its handler's `PATH_METADATA`: `/v1/conversations/:id`. */
export function joinPath(...parts: unknown[]): string {
  const segments = parts
    .flatMap((part) => (typeof part === 'string' ? part.split('/') : []))
    .filter((segment) => segment !== '');
  return `/${segments.join('/')}`;
}

function segmentsOf(path: string): string[] {
  return path === '/' ? [] : path.slice(1).split('/');
}

/**
 * Which route Express will dispatch a request to, and what that route requires, matched the way Express' router
 * matches (path-to-regexp's `/static` and `/:param` segments; case and trailing slash as the adapter reports them):
 * the first route, in registration order, whose path matches and which handles the method (`HEAD` by a `GET` route).
 */
export class RouteTable {
  constructor(
    readonly routes: readonly AccessRoute[],
    private readonly options: PathMatching,
  ) {}

  /** Builds the table; throws at start for a template it could not match as Express does. */
  static of(declared: readonly Omit<AccessRoute, 'segments'>[], options: PathMatching): RouteTable {
    const routes = declared.map((route) => ({
      ...route,
      segments: segmentsOf(route.template).map((segment) => {
        if (PARAM_SEGMENT.test(segment)) return null;
        if (!STATIC_SEGMENT.test(segment)) {
          throw new Error(`${route.route}: the route access table matches only /static and /:param path segments`);
        }
        return options.caseSensitive ? segment : segment.toLowerCase();
      }),
    }));
    return new RouteTable(routes, options);
  }

  /** The route a request goes to; undefined when none matches (or the target is not a plain path). */
  match(method: string, url: string): AccessRoute | undefined {
    const query = url.indexOf('?');
    let path = query === -1 ? url : url.slice(0, query);
    if (!path.startsWith('/')) return undefined;
    if (this.options.ignoreTrailingSlash && path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
    const segments = segmentsOf(this.options.caseSensitive ? path : path.toLowerCase());
    return this.routes.find(
      (route) =>
        (route.method === method || route.method === 'ALL' || (method === 'HEAD' && route.method === 'GET')) &&
        route.segments.length === segments.length &&
        route.segments.every((segment, i) => (segment === null ? segments[i] !== '' : segment === segments[i])),
    );
  }
}

/**
 * `Expect: 100-continue` for the requests Express serves. Express' body parser reads the body before Nest's guard
 * runs, so this gate, in front of the parser, checks the access the target route declares with the guard's own
 * policy first: a refused client gets its error without `100 Continue` and never uploads its body; an admitted one is
 * told to go on, and the guard takes the principal it was admitted as. A request that did not send `Expect` costs
 * one WeakSet lookup here.
 */
@Injectable()
export class RouteAccess {
  private built: RouteTable | undefined;

  constructor(
    private readonly policy: AccessPolicy,
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  /** Every route of Nest's controllers, read once, in Express' dispatch order (the route walk checks it). */
  table(): RouteTable {
    this.built ??= RouteTable.of(this.discover(), this.matching());
    return this.built;
  }

  /** The Express middleware; it goes before the body parser, after the request logger and the response headers. */
  continueGate(): ContinueGate {
    const table = this.table();
    return (req, res, next) => {
      if (!awaitsContinue(req)) {
        next();
        return;
      }
      const route = table.match(req.method ?? '', req.url ?? '');
      // No route of ours: Express answers as it would without Expect (its 404, an automatic OPTIONS, the Swagger pages
      // mounted outside the controllers, which a 404 from here would break). No handler runs, so no credential is due.
      if (route !== undefined && route.requirement?.kind !== 'public') {
        try {
          if (route.requirement === undefined) throw closedRoute();
          this.policy.authorizeAhead(route.requirement, req, res);
        } catch (err) {
          // Express never matched the route; the metric labels the refusal with its template all the same.
          addRouteLogFields(req, { route: route.template });
          sendError(err, res);
          return;
        }
      }
      sendContinue(req, res);
      next();
    };
  }

  private matching(): PathMatching {
    const server: HttpServer = this.adapterHost.httpAdapter;
    return server.getRouteMatchingOptions?.() ?? EXACT;
  }

  private discover(): Omit<AccessRoute, 'segments'>[] {
    const routes: Omit<AccessRoute, 'segments'>[] = [];
    for (const wrapper of this.discovery.getControllers()) {
      const controller = wrapper.metatype as Type | null;
      if (typeof controller !== 'function') continue;
      const prototype = controller.prototype as Record<string, unknown>;
      const prefixes = templates(this.reflector.get<unknown>(PATH_METADATA, controller));
      for (const name of this.scanner.getAllMethodNames(prototype)) {
        const handler = prototype[name];
        if (typeof handler !== 'function') continue;
        const paths: unknown = this.reflector.get(PATH_METADATA, handler);
        if (paths === undefined) continue;
        const method = RequestMethod[this.reflector.get<RequestMethod>(METHOD_METADATA, handler)];
        const requirement = requirementOf(this.reflector, handler, controller);
        for (const prefix of prefixes) {
          for (const path of templates(paths)) {
            const template = joinPath(prefix, path);
            routes.push({ route: `${method} ${template}`, template, method, requirement });
          }
        }
      }
    }
    return routes;
  }
}
