// The soak's clients: each one sends its next request when the previous one is over, until the deadline, picking the
// kind from a fixed mix with a seeded generator. Requests use the bench's client (`send`, `requestJson`) and SSE
// splitter; only the client that hangs up mid-stream is written here.

import { type Agent, request } from 'node:http';
import { type Endpoint, errorMessage, requestJson, send } from '../bench/client.js';
import { SseSplitter } from '../bench/sse.js';
import { Samples } from '../bench/stats.js';
import { mulberry32 } from '../vllm-sim/generation.js';

export type Kind = 'stream' | 'plain' | 'conversation' | 'disconnect';
export const KINDS: readonly Kind[] = ['stream', 'plain', 'conversation', 'disconnect'];

/** Out of 100: streams are most of real traffic; a client hanging up is frequent enough to find a leak in minutes. */
const MIX: readonly (readonly [Kind, number])[] = [
  ['stream', 40],
  ['plain', 25],
  ['conversation', 20],
  ['disconnect', 15],
];
/** A conversation's turns before its client starts a new one, so the history each turn reads stays short. */
const TURNS_PER_CONVERSATION = 8;
const REQUEST_TIMEOUT_MS = 30_000;
const PROMPT = 'Summarise in two sentences why a gateway should stream tokens through as they arrive.';

export interface Counters {
  sent: number;
  completed: number;
  failed: number;
  inFlight: number;
  byKind: Record<Kind, { ok: number; failed: number }>;
  /** Error message → how often; at most `ERROR_KINDS` distinct messages, the rest counted under "other". */
  errors: Map<string, number>;
  /** Per second since the start: requests that ended ok, and that failed. */
  okPerSecond: number[];
  failedPerSecond: number[];
}

const ERROR_KINDS = 20;

export function newCounters(): Counters {
  return {
    sent: 0,
    completed: 0,
    failed: 0,
    inFlight: 0,
    byKind: {
      stream: { ok: 0, failed: 0 },
      plain: { ok: 0, failed: 0 },
      conversation: { ok: 0, failed: 0 },
      disconnect: { ok: 0, failed: 0 },
    },
    errors: new Map(),
    okPerSecond: [],
    failedPerSecond: [],
  };
}

export function pickKind(random: () => number): Kind {
  let roll = random() * 100;
  for (const [kind, weight] of MIX) {
    roll -= weight;
    if (roll < 0) return kind;
  }
  return 'stream';
}

export interface TrafficOptions {
  gateway: URL;
  agent: Agent;
  headers: Readonly<Record<string, string>>;
  model: string;
  outputTokens: number;
  concurrency: number;
  /** performance.now() at which no new request starts. */
  deadline: number;
  /** performance.now() of the start, for the per-second counts. */
  startedAt: number;
  seed: number;
}

/** Runs every client until the deadline and resolves when the last request is over. */
export async function runTraffic(options: TrafficOptions, counters: Counters): Promise<void> {
  const clients = Array.from({ length: options.concurrency }, (_, i) =>
    runClient(options, counters, mulberry32(options.seed * 1000 + i)),
  );
  await Promise.all(clients);
}

async function runClient(options: TrafficOptions, counters: Counters, random: () => number): Promise<void> {
  const endpoint: Endpoint = { url: options.gateway, agent: options.agent, headers: options.headers };
  let conversation: { id: string; turns: number } | undefined;
  while (performance.now() < options.deadline) {
    const kind = pickKind(random);
    counters.sent++;
    counters.inFlight++;
    let error: string | undefined;
    try {
      switch (kind) {
        case 'stream':
        case 'plain':
          error = (
            await send(
              endpoint,
              '/v1/chat/completions',
              chatBody(options, kind === 'stream'),
              kind === 'stream',
              new Samples(16),
              REQUEST_TIMEOUT_MS,
            )
          ).error;
          break;
        case 'conversation': {
          if (conversation === undefined || conversation.turns >= TURNS_PER_CONVERSATION) {
            conversation = { id: await createConversation(options), turns: 0 };
          }
          conversation.turns++;
          const stream = conversation.turns % 2 === 0;
          const body = chatBody(options, stream, { conversation_id: conversation.id });
          error = (await send(endpoint, '/v1/chat/completions', body, stream, new Samples(16), REQUEST_TIMEOUT_MS))
            .error;
          break;
        }
        case 'disconnect':
          error = await hangUpMidStream(options, 1 + Math.floor(random() * Math.max(1, options.outputTokens / 2)));
          break;
      }
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
    }
    counters.inFlight--;
    record(counters, options.startedAt, kind, error);
  }
}

function record(counters: Counters, startedAt: number, kind: Kind, error: string | undefined): void {
  const second = Math.max(0, Math.floor((performance.now() - startedAt) / 1000));
  const series = error === undefined ? counters.okPerSecond : counters.failedPerSecond;
  while (series.length <= second) series.push(0);
  series[second] = (series[second] ?? 0) + 1;
  if (error === undefined) {
    counters.completed++;
    counters.byKind[kind].ok++;
    return;
  }
  counters.failed++;
  counters.byKind[kind].failed++;
  const key = counters.errors.has(error) || counters.errors.size < ERROR_KINDS ? error : 'other';
  counters.errors.set(key, (counters.errors.get(key) ?? 0) + 1);
}

function chatBody(options: TrafficOptions, stream: boolean, extra: Record<string, unknown> = {}): Buffer {
  return Buffer.from(
    JSON.stringify({
      model: options.model,
      messages: [{ role: 'user', content: PROMPT }],
      max_completion_tokens: options.outputTokens,
      ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
      ...extra,
    }),
  );
}

async function createConversation(options: TrafficOptions): Promise<string> {
  const res = await requestJson(options.gateway, 'POST', '/v1/conversations', { title: 'soak' }, options.headers);
  const id = (res.body as { id?: unknown } | undefined)?.id;
  if (res.status !== 201 || typeof id !== 'string') {
    throw new Error(`POST /v1/conversations: HTTP ${res.status}: ${errorMessage(res.text)}`);
  }
  return id;
}

/**
 * A streamed chat request whose client hangs up after `afterEvents` data events, as a closed browser tab does; the
 * gateway must abort the upstream request and free everything it held. An error only when the stream did not start.
 */
function hangUpMidStream(options: TrafficOptions, afterEvents: number): Promise<string | undefined> {
  const body = chatBody(options, true);
  return new Promise((resolve) => {
    let settled = false;
    const settle = (error: string | undefined): void => {
      if (settled) return;
      settled = true;
      resolve(error);
    };
    const req = request(new URL('/v1/chat/completions', options.gateway), {
      method: 'POST',
      agent: options.agent,
      headers: { ...options.headers, 'content-type': 'application/json', 'content-length': body.length },
      timeout: REQUEST_TIMEOUT_MS,
    });
    req.on('timeout', () => req.destroy(new Error(`no response within ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', (err) => settle(err.message));
    req.on('response', (res) => {
      res.setEncoding('utf8');
      if (res.statusCode !== 200) {
        let text = '';
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => settle(`HTTP ${res.statusCode ?? '?'}: ${errorMessage(text)}`));
        return;
      }
      const splitter = new SseSplitter();
      let events = 0;
      res.on('data', (chunk: string) => {
        splitter.push(chunk, () => events++);
        if (events >= afterEvents && !settled) {
          settle(undefined);
          req.destroy();
        }
      });
      res.on('error', () => undefined);
      // A reply shorter than the chosen point ended normally: still a served request.
      res.on('end', () => settle(undefined));
      res.on('close', () => settle(events > 0 ? undefined : 'connection closed before any event'));
    });
    req.end(body);
  });
}
