// Raw node:http client for the simulator's specs: they check bytes on the wire, so no SDK or fetch in between.

import { request, type ClientRequest, type IncomingHttpHeaders } from 'node:http';

export interface Exchange {
  status: number | null;
  headers: IncomingHttpHeaders;
  /** The body as received, concatenated. */
  body: string;
  /** Data chunks in arrival order, each stamped with a global sequence number (ordering, not timing). */
  chunks: { seq: number; data: string }[];
  /** The response arrived in full (false when the server dropped the connection mid-body). */
  complete: boolean;
  /** A request-level error (e.g. "socket hang up" before any response). */
  error: Error | null;
}

export interface Pending {
  req: ClientRequest;
  done: Promise<Exchange>;
  /** Resolves with the first body chunk. */
  firstChunk: Promise<string>;
  /** Resolves with the status once the response headers arrive. */
  headers: Promise<number>;
}

let sequence = 0;

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  /** A string is sent as is; anything else is JSON-encoded. */
  body?: unknown;
}

export function send(baseUrl: string, path: string, opts: RequestOptions = {}): Pending {
  const url = new URL(path, baseUrl);
  const payload =
    opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
  const headers: Record<string, string> = { ...opts.headers };
  if (payload !== undefined) {
    headers['content-length'] = String(Buffer.byteLength(payload));
    headers['content-type'] ??= 'application/json';
  }
  const result: Exchange = { status: null, headers: {}, body: '', chunks: [], complete: false, error: null };
  let onFirst: (s: string) => void = () => undefined;
  let onFirstFail: (e: Error) => void = () => undefined;
  const firstChunk = new Promise<string>((resolve, reject) => {
    onFirst = resolve;
    onFirstFail = reject;
  });
  // Nobody has to await it; a rejection must not become an unhandled one.
  firstChunk.catch(() => undefined);
  let onHeaders: (status: number) => void = () => undefined;
  const headersArrived = new Promise<number>((resolve) => (onHeaders = resolve));
  // agent: false gives every request its own connection, so a dropped socket never leaks into the next test.
  const req = request(url, { method: opts.method ?? (payload === undefined ? 'GET' : 'POST'), headers, agent: false });
  const done = new Promise<Exchange>((resolve) => {
    req.on('response', (res) => {
      result.status = res.statusCode ?? null;
      result.headers = res.headers;
      onHeaders(res.statusCode ?? 0);
      res.setEncoding('utf8');
      res.on('data', (data: string) => {
        if (result.chunks.length === 0) onFirst(data);
        result.chunks.push({ seq: ++sequence, data });
        result.body += data;
      });
      res.on('error', (e) => (result.error ??= e));
      res.on('close', () => {
        result.complete = res.complete;
        onFirstFail(new Error('response ended without data'));
        resolve(result);
      });
    });
    req.on('error', (e) => {
      result.error ??= e;
      onFirstFail(e);
      if (result.status === null) resolve(result);
    });
    // A request destroyed by the test before any response emits only 'close'.
    req.on('close', () => {
      if (result.status === null) resolve(result);
    });
  });
  req.end(payload);
  return { req, done, firstChunk, headers: headersArrived };
}

export function get(baseUrl: string, path: string, headers?: Record<string, string>): Promise<Exchange> {
  return send(baseUrl, path, { headers }).done;
}

export function post(
  baseUrl: string,
  path: string,
  body: unknown,
  headers?: Record<string, string>,
): Promise<Exchange> {
  return send(baseUrl, path, { body, headers }).done;
}

export function json<T>(ex: Exchange): T {
  return JSON.parse(ex.body) as T;
}

/**
 * Splits an SSE body into its data payloads, asserting vLLM's framing on the way: nothing but
 * `data: <one line>\n\n` events, back to back (no event:/id: lines, no comments, no stray bytes).
 */
export function sseEvents(body: string): string[] {
  const framed = /^(?:data: [^\n]+\n\n)*$/;
  if (!framed.test(body)) throw new Error(`body is not strict SSE data framing: ${JSON.stringify(body.slice(0, 300))}`);
  return [...body.matchAll(/data: ([^\n]+)\n\n/g)].map((m) => m[1] ?? '');
}

/** Waits until `cond` holds, checking every few ms; fails after `timeoutMs` instead of hanging the suite. */
export async function pollUntil(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Reads one sample from a Prometheus text body, e.g. metricValue(text, 'vllm:num_requests_waiting'). */
export function metricValue(text: string, name: string, labelsContain = ''): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(name + '{') || line.startsWith(name + ' ')) {
      if (labelsContain && !line.includes(labelsContain)) continue;
      return Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return undefined;
}
