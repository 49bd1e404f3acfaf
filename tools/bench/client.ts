// One chat completion over node:http, timed the way `vllm bench serve` times it. The client must stay cheap: it
// shares the machine's two cores with the simulator and the gateway it measures.

import { type Agent, request } from 'node:http';
import { StreamMeter } from './sse.js';
import type { RequestRecord, Samples } from './stats.js';

export interface Endpoint {
  /** Base URL, e.g. http://127.0.0.1:8080 */
  url: URL;
  agent: Agent;
  /** Sent with every request (Authorization, …). */
  headers: Readonly<Record<string, string>>;
}

export interface Outcome extends RequestRecord {
  /** Why the request failed; undefined when ok. */
  error: string | undefined;
}

const ERROR_BODY_LIMIT = 2048;

/**
 * Sends one POST with a ready-made JSON body and resolves when the response is over; never rejects. Time runs from
 * just before the request is handed to the agent (so time spent waiting for a free socket counts, as in vLLM).
 * Stream gaps go straight into `itl`.
 */
export function send(
  endpoint: Endpoint,
  path: string,
  body: Buffer,
  stream: boolean,
  itl: Samples,
  timeoutMs: number,
): Promise<Outcome> {
  return new Promise<Outcome>((resolve) => {
    const started = performance.now();
    let settled = false;
    const fail = (error: string): void => {
      if (settled) return;
      settled = true;
      resolve({ ok: false, ttftMs: undefined, e2elMs: performance.now() - started, outputTokens: 0, error });
    };
    const succeed = (record: RequestRecord): void => {
      if (settled) return;
      settled = true;
      resolve({ ...record, error: undefined });
    };
    const req = request({
      protocol: endpoint.url.protocol,
      hostname: endpoint.url.hostname,
      port: endpoint.url.port,
      path,
      method: 'POST',
      agent: endpoint.agent,
      headers: { ...endpoint.headers, 'content-type': 'application/json', 'content-length': body.length },
      timeout: timeoutMs,
    });
    req.on('timeout', () => {
      req.destroy(new Error(`no response within ${timeoutMs} ms`));
    });
    req.on('error', (err) => fail(err.message));
    req.on('response', (res) => {
      res.setEncoding('utf8');
      if (res.statusCode !== 200) {
        let text = '';
        res.on('data', (chunk: string) => {
          if (text.length < ERROR_BODY_LIMIT) text += chunk;
        });
        res.on('end', () => fail(`HTTP ${res.statusCode ?? '?'}: ${errorMessage(text)}`));
        res.on('error', (err) => fail(err.message));
        return;
      }
      if (stream) {
        const meter = new StreamMeter(itl);
        res.on('data', (chunk: string) => meter.push(chunk, performance.now() - started));
        res.on('end', () => {
          if (meter.error !== undefined) fail(meter.error);
          else if (meter.ttftMs === undefined || meter.lastEventMs === undefined) fail('stream without any token');
          else if (!meter.done) fail('stream ended without [DONE]');
          else {
            meter.commitItl();
            succeed({ ok: true, ttftMs: meter.ttftMs, e2elMs: meter.lastEventMs, outputTokens: meter.outputTokens });
          }
        });
      } else {
        let text = '';
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => {
          const e2elMs = performance.now() - started;
          const tokens = completionTokens(text);
          if (tokens === undefined) fail('response is not a completion with usage');
          else succeed({ ok: true, ttftMs: undefined, e2elMs, outputTokens: tokens });
        });
      }
      res.on('error', (err) => fail(err.message));
      res.on('close', () => {
        if (!res.complete) fail('connection closed before the response ended');
      });
    });
    req.end(body);
  });
}

function completionTokens(text: string): number | undefined {
  try {
    const parsed = JSON.parse(text) as { usage?: { completion_tokens?: unknown } } | null;
    const tokens = parsed?.usage?.completion_tokens;
    return typeof tokens === 'number' ? tokens : undefined;
  } catch {
    return undefined;
  }
}

/** OpenAI's `{"error":{"message"}}`, else the start of the body. */
export function errorMessage(text: string): string {
  try {
    const parsed = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown } | null;
    const error = parsed?.error;
    const message = typeof error === 'object' ? error.message : (error ?? parsed?.message);
    if (typeof message === 'string') return message.slice(0, 200);
  } catch {
    // not JSON
  }
  return text.slice(0, 200).trim() || '(empty body)';
}

/** A small JSON request outside the measured load (probes, conversation set-up); rejects on a transport error. */
export function requestJson(
  base: URL,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  headers: Readonly<Record<string, string>> = {},
): Promise<{ status: number; body: unknown; text: string }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = request(new URL(path, base), {
      method,
      headers: {
        ...headers,
        ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': payload.length }),
      },
      timeout: 30_000,
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no response within 30 s`)));
    req.on('error', reject);
    req.on('response', (res) => {
      res.setEncoding('utf8');
      let text = '';
      res.on('data', (chunk: string) => (text += chunk));
      res.on('error', reject);
      res.on('end', () => {
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
        resolve({ status: res.statusCode ?? 0, body: parsed, text });
      });
    });
    req.end(payload);
  });
}
