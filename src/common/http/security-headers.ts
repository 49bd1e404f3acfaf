import type { RequestHandler } from 'express';
import helmet from 'helmet';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * JSON answers are never rendered as documents, so the headers that only mean something for a page (COOP,
 * Origin-Agent-Cluster, Referrer-Policy, X-DNS-Prefetch-Control, X-Download-Options, X-Permitted-Cross-Domain-Policies,
 * X-XSS-Protection) are left out there, as OWASP's REST security cheat sheet does; what is kept stops a browser from
 * sniffing, framing or cross-origin-embedding an answer, and pins HTTPS. Every API response carries these, so the
 * dozen of helmet's defaults were over half the bytes of a chat completion's headers and a measurable share of the
 * gateway's and its clients' CPU (BENCHMARKS.md, 2026-12-01).
 */
const API_HEADERS = {
  contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
  xFrameOptions: { action: 'deny' },
  crossOriginOpenerPolicy: false,
  originAgentCluster: false,
  referrerPolicy: false,
  xDnsPrefetchControl: false,
  xDownloadOptions: false,
  xPermittedCrossDomainPolicies: false,
  xXssProtection: false,
} as const;

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

/** Paths of HTML pages and their assets: helmet's full document set (the web UIs set their own CSP, static-ui.ts). */
function documentMatcher(uiPrefixes: readonly string[]): (path: string) => boolean {
  const pages = new Set(uiPrefixes);
  const assets = uiPrefixes.map((prefix) => `${prefix}/ui/`);
  return (path) => pages.has(path) || assets.some((prefix) => path.startsWith(prefix));
}

function isDocs(path: string): boolean {
  return path === '/docs' || path.startsWith('/docs/') || path.startsWith('/docs-');
}

/**
 * helmet's headers on every Express response: the API set on JSON routes, helmet's defaults on the pages under
 * `uiPrefixes` and Swagger UI's; and the API set as a list computed once for the chat fast lane, which answers without
 * Express: there they cost a few `setHeader` calls, not a middleware run per request.
 */
export function securityHeaders(uiPrefixes: readonly string[]): { middleware: RequestHandler; fastLane: HeaderList } {
  const api = helmet(API_HEADERS);
  const documents = helmet();
  const docs = helmet({ contentSecurityPolicy: DOCS_CSP });
  const isDocument = documentMatcher(uiPrefixes);
  const middleware: RequestHandler = (req, res, next) => {
    if (isDocs(req.path)) docs(req, res, next);
    else if (isDocument(req.path)) documents(req, res, next);
    else api(req, res, next);
  };
  return { middleware, fastLane: headersSetBy(api) };
}

/** Runs a helmet middleware once on a recording response; helmet's headers do not depend on the request. */
function headersSetBy(handler: (req: IncomingMessage, res: ServerResponse, next: () => void) => void): HeaderList {
  const headers: [string, string][] = [];
  const recorder = {
    setHeader: (name: string, value: string | number | readonly string[]) => {
      // Lower-cased once here: setHeader lower-cases every name it is given, which costs nothing for one already so.
      headers.push([name.toLowerCase(), Array.isArray(value) ? value.join(', ') : String(value)]);
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
