import type { Simulator } from '../../tools/vllm-sim/simulator.js';
import { request, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body exactly as received (chunked framing removed by Node, nothing else). */
  body: string;
}

/** A response's status, headers and whole body as text. */
export function readRaw(res: IncomingMessage): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (chunk: Buffer) => chunks.push(chunk));
    res.on('error', reject);
    res.on('end', () =>
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
    );
  });
}

export interface SendOptions {
  /** Send the body with Transfer-Encoding: chunked instead of a Content-Length: the Express path. */
  chunked?: boolean;
  headers?: Record<string, string>;
}

/**
 * POSTs a JSON body with a Content-Length (the chat fast lane takes it) or, with `chunked`, framed as chunks (Express
 * and the body parser take it), and returns the raw answer.
 */
export function send(
  baseUrl: string,
  path: string,
  body: Buffer | string,
  options: SendOptions = {},
): Promise<RawResponse> {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  const headers: Record<string, string> = { 'content-type': 'application/json', ...options.headers };
  if (options.chunked !== true) headers['content-length'] = String(bytes.length);
  return new Promise((resolve, reject) => {
    const req = request(`${baseUrl}${path}`, { method: 'POST', headers });
    req.on('error', reject);
    req.on('response', (res) => void readRaw(res).then(resolve, reject));
    endBody(req, bytes, options.chunked === true);
  });
}

/** Sends `body` and ends the request; `chunked`: in two writes, so node:http frames it as chunks, no Content-Length. */
export function endBody(req: ClientRequest, body: Buffer, chunked: boolean): void {
  if (!chunked) {
    req.end(body);
    return;
  }
  const half = Math.floor(body.length / 2);
  req.write(body.subarray(0, half));
  req.write(body.subarray(half));
  req.end();
}

/** POSTs a JSON body with node:http and returns the raw answer: no client library between the test and the bytes. */
export function post(
  baseUrl: string,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(`${baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
    });
    req.on('error', reject);
    req.on('response', (res) => void readRaw(res).then(resolve, reject));
    req.end(typeof body === 'string' ? body : JSON.stringify(body));
  });
}

export function get(baseUrl: string, path: string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(`${baseUrl}${path}`, { method: 'GET' });
    req.on('error', reject);
    req.on('response', (res) => void readRaw(res).then(resolve, reject));
    req.end();
  });
}

export interface OpenRequest {
  req: ClientRequest;
  /** Resolves with the response once its headers arrive. */
  response: Promise<IncomingMessage>;
  /** Everything received so far. */
  received(): string;
}

/** Starts a POST and hands back the live request, so a test can hang up at a moment of its choosing. */
export function open(baseUrl: string, path: string, body: unknown): OpenRequest {
  let text = '';
  const req = request(`${baseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' } });
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    req.on('error', (err: NodeJS.ErrnoException) => {
      // Our own hang-up surfaces as ECONNRESET / "socket hang up" on the request: expected.
      if (!req.destroyed) reject(err);
    });
    req.on('response', (res) => {
      res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      res.on('error', () => undefined);
      resolve(res);
    });
  });
  response.catch(() => undefined);
  req.end(JSON.stringify(body));
  return { req, response, received: () => text };
}

/** Polls `condition` every few ms until it holds, failing with `what` after `timeoutMs`. Never a fixed sleep. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The `data:` payloads of an SSE body, in order. */
export function sseData(body: string): string[] {
  return body
    .split('\n\n')
    .filter((block) => block.startsWith('data: '))
    .map((block) => block.slice('data: '.length));
}

/** The bodies of the chat completions the simulator received, oldest first. */
export function chatBodiesOf(sim: Pick<Simulator, 'received'>): Record<string, unknown>[] {
  return sim
    .received()
    .filter((r) => r.path === '/v1/chat/completions')
    .map((r) => r.body as Record<string, unknown>);
}

/** The conversation specs' simulator before each test: echo replies, no latency, no failure, a 4,096 window. */
export function resetEchoSimulator(sim: Pick<Simulator, 'configure' | 'resetStats'>): void {
  sim.configure({ outputMode: 'echo', itlMs: 0, failure: null, maxModelLen: 4096 });
  sim.resetStats();
}

/** The reply text a client assembles from a chat stream's `data:` payloads (a cut-off last event is skipped). */
export function contentOf(payloads: readonly string[]): string {
  let text = '';
  for (const data of payloads) {
    if (data === '[DONE]') continue;
    try {
      const chunk = JSON.parse(data) as { choices?: { delta?: { content?: string } }[] };
      text += chunk.choices?.[0]?.delta?.content ?? '';
    } catch {
      // A partial last event of an interrupted stream.
    }
  }
  return text;
}

/** `created` is the second the server built the chunk; two runs of one request may straddle a second boundary. */
export function withoutCreated(text: string): string {
  return text.replace(/"created":\d+/g, '"created":0');
}
