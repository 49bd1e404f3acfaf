import type { RequestHandler } from 'express';
import helmet from 'helmet';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** JSON answers load nothing and are never framed. The web UIs set their own, page-specific policy (static-ui.ts). */
const API_CSP = { directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"] } };

/** Swagger UI's page needs its own scripts, styles and inline images; it still may not be framed. */
const DOCS_CSP = {
  directives: {
    defaultSrc: ["'self'"],
    imgSrc: ["'self'", 'data:'],
    styleSrc: ["'self'", "'unsafe-inline'"],
    frameAncestors: ["'none'"],
  },
};

export type HeaderList = readonly (readonly [name: string, value: string])[];

/**
 * helmet's headers on every Express response, and the same headers as a list computed once for the chat fast lane,
 * which answers without Express: there they cost a few `setHeader` calls, not a middleware run per request.
 */
export function securityHeaders(): { middleware: RequestHandler; fastLane: HeaderList } {
  const api = helmet({ contentSecurityPolicy: API_CSP });
  const docs = helmet({ contentSecurityPolicy: DOCS_CSP });
  const middleware: RequestHandler = (req, res, next) => {
    if (req.path === '/docs' || req.path.startsWith('/docs/') || req.path.startsWith('/docs-')) docs(req, res, next);
    else api(req, res, next);
  };
  return { middleware, fastLane: headersSetBy(api) };
}

/** Runs a helmet middleware once on a recording response; helmet's headers do not depend on the request. */
function headersSetBy(handler: (req: IncomingMessage, res: ServerResponse, next: () => void) => void): HeaderList {
  const headers: [string, string][] = [];
  const recorder = {
    setHeader: (name: string, value: string | number | readonly string[]) => {
      headers.push([name, Array.isArray(value) ? value.join(', ') : String(value)]);
    },
    removeHeader: () => undefined,
  } as unknown as ServerResponse;
  handler({ headers: {} } as IncomingMessage, recorder, () => undefined);
  return Object.freeze(headers.map((pair) => Object.freeze(pair)));
}

const PREFLIGHT_MAX_AGE_SECONDS = 600;

/**
 * CORS for the origins in CORS_ORIGINS (`*`: any). With none configured there is no middleware at all: no
 * Access-Control-* header is ever sent, so browsers on other origins cannot read any answer. A preflight from an
 * allowed origin gets 204; from any other origin it falls through (and gets no CORS header).
 */
export function corsMiddleware(origins: readonly string[]): RequestHandler | undefined {
  if (origins.length === 0) return undefined;
  const any = origins.includes('*');
  const allowed = new Set(origins);
  return (req, res, next) => {
    const origin = req.headers.origin;
    if (origin === undefined || !(any || allowed.has(origin))) {
      next();
      return;
    }
    res.setHeader('Access-Control-Allow-Origin', any ? '*' : origin);
    res.setHeader('Access-Control-Expose-Headers', 'x-request-id, retry-after, server-timing');
    if (!any) res.append('Vary', 'Origin');
    if (req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined) {
      res.setHeader('Access-Control-Allow-Methods', 'GET, POST, PATCH, DELETE');
      res.setHeader('Access-Control-Allow-Headers', 'authorization, content-type, x-request-id');
      res.setHeader('Access-Control-Max-Age', String(PREFLIGHT_MAX_AGE_SECONDS));
      res.statusCode = 204;
      res.end();
      return;
    }
    next();
  };
}
