import {
  type Agent,
  type ClientRequest,
  type IncomingMessage,
  type RequestOptions,
  request as httpRequest,
} from 'node:http';
import { request as httpsRequest } from 'node:https';
import { urlToHttpOptions } from 'node:url';

// The gateway's one HTTP client for vLLM, on node:http: `post` for the relay's hot path, `getBody` for the occasional
// GETs (health probes, model lists). Both run on the caller's agents (http-agent.ts), so they share its pools.

/**
 * Options of one POST to vLLM, resolved with the response as a stream once its headers arrive. The request options
 * of each upstream URL are computed once, so a request costs only what node:http itself does (axios' per-request
 * config merge, header normalisation and adapter were about 15 % of the gateway's CPU; BENCHMARKS.md has the
 * side-by-side figures).
 */
export interface PostOptions {
  headers: Record<string, string | number>;
  agent: Agent;
}

/**
 * The request, for the caller to `destroy()` when it gives up (no AbortSignal: Node's signal plumbing, an
 * AbortController and listeners per request, was about 10 % of the gateway's CPU at c32), and its response.
 */
export interface PendingPost {
  request: ClientRequest;
  response: Promise<IncomingMessage>;
}

/** A request that failed before a response: keeps the socket error's code and whether the socket was a pooled one. */
export class RequestFailure extends Error {
  readonly code: string | undefined;

  constructor(
    cause: Error,
    readonly reusedSocket: boolean,
  ) {
    super(cause.message, { cause });
    this.name = 'RequestFailure';
    const code = (cause as { code?: unknown }).code;
    this.code = typeof code === 'string' ? code : undefined;
  }
}

interface Target {
  options: RequestOptions;
  https: boolean;
}

/** Parsed once per URL (a handful: upstreams × routes). */
const targets = new Map<string, Target>();

function target(url: string): Target {
  let found = targets.get(url);
  if (found === undefined) {
    const parsed = new URL(url);
    const { protocol, hostname, port, path } = urlToHttpOptions(parsed);
    found = { options: { protocol, hostname, port, path, method: 'POST' }, https: parsed.protocol === 'https:' };
    targets.set(url, found);
  }
  return found;
}

export function post(url: string, payload: Buffer, options: PostOptions): PendingPost {
  const { options: base, https } = target(url);
  const request = (https ? httpsRequest : httpRequest)({ ...base, headers: options.headers, agent: options.agent });
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    // Stays attached after the response: a later socket error is reported by the response stream, and a rejection of
    // the settled promise is a no-op.
    request.on('error', (err) => reject(new RequestFailure(err, request.reusedSocket)));
    request.on('response', resolve);
  });
  request.end(payload);
  return { request, response };
}

/** Error code of a GET that had no complete answer in time; the connect timeout has its own code. */
export const GET_TIMEOUT_CODE = 'ETIMEDOUT';

export interface GetOptions {
  headers?: Record<string, string>;
  agent: Agent;
  /** Bounds the whole exchange, connect to last byte: these answers are small, so a slow one is a sick upstream. */
  timeoutMs: number;
}

export interface GetAnswer {
  status: number;
  body: Buffer;
}

/** One GET to vLLM, resolved with the whole body: URL parsing per call is nothing at this rate. */
export function getBody(url: string, options: GetOptions): Promise<GetAnswer> {
  return new Promise((resolve, reject) => {
    const request = (url.startsWith('https:') ? httpsRequest : httpRequest)(url, {
      method: 'GET',
      headers: options.headers,
      agent: options.agent,
    });
    const timer = setTimeout(() => {
      const err = Object.assign(new Error(`vLLM did not answer within ${options.timeoutMs} ms`), {
        code: GET_TIMEOUT_CODE,
      });
      // Rejects first: whatever error the destroyed socket reports afterwards must not replace the timeout.
      fail(err);
      request.destroy(err);
    }, options.timeoutMs);
    function fail(err: Error): void {
      clearTimeout(timer);
      reject(err);
    }
    request.on('error', fail);
    request.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', fail);
      res.on('close', () => {
        if (!res.complete) fail(new Error('vLLM closed the connection before the answer was complete'));
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) });
      });
    });
    request.end();
  });
}
