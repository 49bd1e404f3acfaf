import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import type { Agent, IncomingMessage } from 'node:http';
import type { Agent as HttpsAgent } from 'node:https';
import { type Cancellation, NEVER_CANCELLED } from '../common/cancellation.js';
import { AppError } from '../common/errors/app-error.js';
import { AppConfig } from '../config/app-config.js';
import { createUpstreamAgent } from './http-agent.js';
import { getBody, post } from './http-client.js';
import { Attempt, ConnectFailure, errorCode, type TimeoutConfig } from './upstream-attempt.js';
import { UpstreamCancelledError, upstreamError } from './upstream-error.js';
// Part of this service's contract (a caller tells a client that went away from a failure by it).
export { UpstreamCancelledError } from './upstream-error.js';
import { type Upstream, UpstreamPool } from './upstream-pool.js';
import type {
  ModelCard,
  ModelList,
  RelayPath,
  TokenizeResponse,
  UpstreamCallOptions,
  UpstreamHealth,
  UpstreamResponse,
} from './vllm.types.js';

const HEALTH_TIMEOUT_MS = 2_000;
const MODELS_CACHE_MS = 5_000;
const TOKENIZE_TIMEOUT_MS = 5_000;
/**
 * Appended to every request id sent to vLLM, which uses it as its engine request id: two gateway processes relaying
 * the same client id (a retry landing elsewhere, a client reusing ids) must not collide in one engine. The client
 * still gets its own id back in `x-request-id`.
 */
const PROCESS_ID_SUFFIX = randomBytes(4).toString('hex');
/** The `X-Request-Id` vLLM gets for a client's request id: its attempt number after the first, then the suffix. */
export function upstreamRequestId(clientId: string, attempt = 1): string {
  return attempt === 1 ? `${clientId}-${PROCESS_ID_SUFFIX}` : `${clientId}-${attempt}-${PROCESS_ID_SUFFIX}`;
}

/**
 * The only code that talks to vLLM. One upstream call = one `Attempt` (upstream-attempt.ts): the single timer, the
 * upstream's in-flight slot and the response stream, released exactly once by whoever finishes first.
 *
 * One HTTP client for vLLM, node:http (http-client.ts), on this service's agents: the relay's POSTs go through `post`
 * (request options computed once per URL; axios' per-request config merging was about 15 % of the gateway's CPU per
 * request, see BENCHMARKS.md), the occasional GETs (health probes, model lists) through `getBody`.
 */
@Injectable()
export class VllmService implements OnApplicationShutdown {
  private readonly logger = new Logger(VllmService.name);
  private readonly httpAgent: Agent;
  private readonly httpsAgent: HttpsAgent;
  /** Unpooled: for the retry after a stale pooled socket, which must not land on another stale one. */
  private readonly freshHttpAgent: Agent;
  private readonly freshHttpsAgent: HttpsAgent;
  private readonly authorization: string | undefined;
  /** Attempt ids in flight: vLLM uses the id as its engine request id, so two live requests must never share one. */
  private readonly liveIds = new Set<string>();
  private models: { at: number; list: Promise<ModelList> } | undefined;
  readonly pool: UpstreamPool;

  constructor(private readonly config: AppConfig) {
    const { connectTimeoutMs } = config.vllm;
    this.httpAgent = createUpstreamAgent('http', { connectTimeoutMs });
    this.httpsAgent = createUpstreamAgent('https', { connectTimeoutMs });
    this.freshHttpAgent = createUpstreamAgent('http', { connectTimeoutMs, keepAlive: false });
    this.freshHttpsAgent = createUpstreamAgent('https', { connectTimeoutMs, keepAlive: false });
    this.authorization = config.vllm.apiKey === undefined ? undefined : `Bearer ${config.vllm.apiKey}`;
    this.pool = new UpstreamPool(config.vllm.baseUrls, {
      probe: async (url) => (await this.checkHealth(url)).status === 'up',
      onEject: (url) => this.logger.warn(`vLLM upstream ${url} ejected after repeated failures`),
      onReadmit: (url) => this.logger.log(`vLLM upstream ${url} is healthy again`),
    });
  }

  /**
   * Sends one OpenAI-style request, retrying on another upstream only when no connection could be made (nothing
   * reached vLLM and nothing reached the client). 4xx/5xx answers become `upstream_error` with vLLM's status, type
   * and message. The answer's kind follows vLLM's Content-Type, so a stream is relayed as one whatever was asked.
   * `body` is serialised as JSON, unless it is a Buffer of JSON already (a client's body forwarded as it came).
   */
  async send(
    path: RelayPath | '/tokenize',
    body: object | Buffer,
    cancellation: Cancellation,
    options: UpstreamCallOptions,
  ): Promise<UpstreamResponse> {
    const payload = body instanceof Buffer ? body : Buffer.from(JSON.stringify(body));
    const timeouts =
      options.firstByteTimeoutMs === undefined
        ? this.config.vllm
        : { ...this.config.vllm, firstByteTimeoutMs: options.firstByteTimeoutMs };
    // Made on the first failure only: nearly every request succeeds at once.
    let tried: Set<Upstream> | undefined;
    const dispatchedAt = performance.now();
    let attempt = 0;
    let lastFailure: ConnectFailure | undefined;
    // Set after a stale pooled socket: the same upstream is tried again once, on a new connection.
    let freshTo: Upstream | undefined;
    for (;;) {
      if (cancellation.aborted) throw new UpstreamCancelledError();
      const fresh = freshTo !== undefined;
      const upstream = freshTo ?? this.pool.pick(options.stickyKey, tried);
      freshTo = undefined;
      if (upstream === undefined) break;
      attempt++;
      const id = upstreamRequestId(options.requestId, attempt);
      try {
        return await this.attempt(upstream, path, payload, cancellation, timeouts, id, dispatchedAt, fresh);
      } catch (err) {
        if (!(err instanceof ConnectFailure)) throw err;
        // A closed pooled socket says nothing about the upstream; only a new connection does.
        if (err.retrySame && !fresh) {
          freshTo = upstream;
          continue;
        }
        lastFailure = err;
        (tried ??= new Set()).add(upstream);
        this.pool.recordFailure(upstream);
      }
    }
    throw new AppError(
      'service_unavailable',
      `No vLLM upstream could be reached${lastFailure === undefined ? '' : ` (${lastFailure.code})`}`,
    );
  }

  /** The merged model list of every upstream in rotation, deduplicated by id, cached for a few seconds. */
  listModels(): Promise<ModelList> {
    const now = performance.now();
    if (this.models === undefined || now - this.models.at > MODELS_CACHE_MS) {
      const list = this.fetchModels();
      this.models = { at: now, list };
      // A failed fetch is not cached: the next caller tries again.
      list.catch(() => {
        if (this.models?.list === list) this.models = undefined;
      });
    }
    return this.models.list;
  }

  /** vLLM's `/tokenize` (prompt or chat form), on the conversation's upstream when a sticky key is given. */
  async tokenize(body: object, options: UpstreamCallOptions): Promise<TokenizeResponse> {
    // Counting can sit before a conversation turn's chat call: a wedged vLLM must not hold the turn for the long
    // first-byte timeout meant for generations. Its own short timeout is a timeout (504, counted against the
    // upstream), not a cancellation.
    // No client can cancel a count: its bound is a timeout, which a cancellation would misreport.
    const answer = await this.send('/tokenize', body, NEVER_CANCELLED, {
      ...options,
      firstByteTimeoutMs: TOKENIZE_TIMEOUT_MS,
    });
    if (answer.kind !== 'json') {
      answer.cancel();
      throw new AppError('bad_gateway', 'vLLM answered /tokenize with an event stream');
    }
    return parseJson(answer.body, '/tokenize') as TokenizeResponse;
  }

  /** Probes each upstream's `/health` (never a completion: probes must cost no GPU work). */
  health(): Promise<UpstreamHealth[]> {
    return Promise.all(this.config.vllm.baseUrls.map((url) => this.checkHealth(url)));
  }

  onApplicationShutdown(): void {
    this.close();
  }

  /** Stops the health prober and closes pooled connections. Runs after the HTTP server stopped taking requests. */
  close(): void {
    this.pool.close();
    for (const agent of [this.httpAgent, this.httpsAgent, this.freshHttpAgent, this.freshHttpsAgent]) agent.destroy();
  }

  private agentFor(url: string, fresh: boolean): Agent {
    if (url.startsWith('https:')) return fresh ? this.freshHttpsAgent : this.httpsAgent;
    return fresh ? this.freshHttpAgent : this.httpAgent;
  }

  /** One `/health` GET; also the pool's re-admission probe. Never rejects. */
  private async checkHealth(url: string): Promise<UpstreamHealth> {
    const started = performance.now();
    const latency = (): number => Math.round(performance.now() - started);
    try {
      const res = await getBody(`${url}/health`, { agent: this.agentFor(url, false), timeoutMs: HEALTH_TIMEOUT_MS });
      if (res.status === 200) return { url, status: 'up', latency_ms: latency() };
      return { url, status: 'down', latency_ms: latency(), error: `HTTP ${res.status}` };
    } catch (err) {
      return {
        url,
        status: 'down',
        latency_ms: latency(),
        error: errorCode(err) ?? (err instanceof Error ? err.message : String(err)),
      };
    }
  }

  private async attempt(
    upstream: Upstream,
    path: string,
    payload: Buffer,
    cancellation: Cancellation,
    timeouts: TimeoutConfig,
    wantedId: string,
    dispatchedAt: number,
    fresh: boolean,
  ): Promise<UpstreamResponse> {
    const id = this.liveIds.has(wantedId) ? `${wantedId}-${randomBytes(4).toString('hex')}` : wantedId;
    const call = new Attempt(upstream, this.pool, cancellation, timeouts, () => this.liveIds.delete(id));
    this.liveIds.add(id);
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      Accept: 'application/json, text/event-stream',
      'Accept-Encoding': 'identity',
      'X-Request-Id': id,
    };
    if (this.authorization !== undefined) headers['Authorization'] = this.authorization;

    let res: IncomingMessage;
    try {
      headers['Content-Length'] = String(payload.length);
      const agent = this.agentFor(upstream.url, fresh);
      const pending = post(`${upstream.url}${path}`, payload, { headers, agent });
      call.bind(pending.request);
      res = await pending.response;
    } catch (err) {
      call.finish();
      throw call.failure(err);
    }
    const headersAt = performance.now();
    call.adopt(res);
    const status = res.statusCode ?? 0;
    const contentType = headerValue(res.headers['content-type']) ?? 'application/json';

    if (status < 200 || (status >= 300 && status < 400)) {
      call.cancel();
      this.pool.recordFailure(upstream);
      throw new AppError('bad_gateway', `vLLM answered ${path} with an unexpected HTTP ${status}`);
    }
    const { limits } = this.config;
    if (status >= 400) {
      const body = await call.readAll(limits.upstreamErrorBodyBytes);
      // A 401/403 is the gateway's key being refused: every request will fail alike, as with a dead upstream.
      if (status >= 500 || status === 401 || status === 403) this.pool.recordFailure(upstream);
      else this.pool.recordSuccess(upstream);
      throw upstreamError(status, body, limits.upstreamErrorMessageChars);
    }
    const answer = { status, contentType, upstream: upstream.url, attemptId: id, dispatchedAt, headersAt };
    if (contentType.startsWith('text/event-stream')) {
      this.pool.recordSuccess(upstream);
      const batches = call.batches(limits.maxSseEventBytes);
      return { kind: 'stream', ...answer, batches, cancel: () => call.cancel() };
    }
    const body = await call.readAll();
    // Relayed as it came, so checked cheaply: a proxy's HTML page, an empty or a truncated body is not a success.
    if (!contentType.startsWith('application/json') || !framedAsJsonObject(body)) {
      this.pool.recordFailure(upstream);
      throw new AppError('bad_gateway', `vLLM answered ${path} with HTTP ${status} and a body that is not JSON`);
    }
    this.pool.recordSuccess(upstream);
    return { kind: 'json', ...answer, body, receivedAt: performance.now() };
  }

  private async fetchModels(): Promise<ModelList> {
    const upstreams = this.pool.upstreams.filter((u) => !u.ejected);
    if (upstreams.length === 0) throw new AppError('service_unavailable', 'No vLLM upstream is available');
    const results = await Promise.allSettled(
      upstreams.map(async (u) => {
        const res = await getBody(`${u.url}/v1/models`, {
          agent: this.agentFor(u.url, false),
          timeoutMs: HEALTH_TIMEOUT_MS,
          headers: this.authorization === undefined ? {} : { Authorization: this.authorization },
        });
        if (res.status !== 200) throw upstreamError(res.status, res.body, this.config.limits.upstreamErrorMessageChars);
        return parseJson(res.body, '/v1/models') as Partial<ModelList>;
      }),
    );
    const seen = new Map<string, ModelCard>();
    let firstError: unknown;
    for (const result of results) {
      if (result.status === 'rejected') {
        firstError ??= result.reason;
        continue;
      }
      for (const card of Array.isArray(result.value.data) ? result.value.data : []) {
        if (typeof card?.id === 'string' && !seen.has(card.id)) seen.set(card.id, card);
      }
    }
    if (seen.size === 0 && firstError !== undefined) {
      if (firstError instanceof AppError) throw firstError;
      throw new AppError('service_unavailable', 'No vLLM upstream answered /v1/models', { cause: firstError });
    }
    return { object: 'list', data: [...seen.values()] };
  }
}

/** First and last non-whitespace bytes are `{` and `}`: O(1) on a well-formed answer, unlike a JSON.parse. */
function framedAsJsonObject(body: Buffer): boolean {
  let start = 0;
  let end = body.length - 1;
  while (start <= end && isJsonSpace(body[start])) start++;
  while (end >= start && isJsonSpace(body[end])) end--;
  return end > start && body[start] === 0x7b && body[end] === 0x7d;
}

function isJsonSpace(byte: number | undefined): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

function headerValue(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function parseJson(body: Buffer, what: string): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new AppError('bad_gateway', `vLLM answered ${what} with invalid JSON`, { cause: err });
  }
}
