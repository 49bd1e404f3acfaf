import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import axios, { type AxiosInstance } from 'axios';
import { randomBytes } from 'node:crypto';
import type { Agent, ClientRequest, IncomingMessage } from 'node:http';
import type { Agent as HttpsAgent } from 'node:https';
import { AppError } from '../common/errors/app-error.js';
import { AppConfig } from '../config/app-config.js';
import { CONNECT_TIMEOUT_CODE, createUpstreamAgent } from './http-agent.js';
import { post, RequestFailure } from './http-post.js';
import { type SseEvent, SseParser } from './sse-parser.js';
import { upstreamError } from './upstream-error.js';
import { type Upstream, UpstreamPool } from './upstream-pool.js';
import type {
  ModelCard,
  ModelList,
  RelayPath,
  TokenizeResponse,
  UpstreamCallOptions,
  UpstreamHealth,
  UpstreamJson,
  UpstreamResponse,
} from './vllm.types.js';

const HEALTH_TIMEOUT_MS = 2_000;
const MODELS_CACHE_MS = 5_000;
const TOKENIZE_TIMEOUT_MS = 5_000;
/** For calls no client can cancel (token counting): their bound is a timeout, which an abort would misreport. */
const NEVER_ABORTED = new AbortController().signal;

/** Errors that mean no connection was made: nothing reached vLLM, so another upstream may take the request. */
const CONNECT_ERROR_CODES = new Set([
  'ECONNREFUSED',
  CONNECT_TIMEOUT_CODE,
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
]);

/** Thrown (or raised by a stream's iteration) once the caller's signal has aborted: the client has gone. */
export class UpstreamCancelledError extends Error {
  constructor() {
    super('The client went away; the upstream request was aborted');
    this.name = 'UpstreamCancelledError';
  }
}

/** An attempt that failed before any byte was exchanged; `retrySame` marks a stale keep-alive socket. */
class ConnectFailure extends Error {
  constructor(
    readonly code: string,
    readonly retrySame: boolean,
  ) {
    super(code);
  }
}

/**
 * The only code that talks to vLLM. One upstream call = one `Attempt`: an AbortController that the client's signal
 * and the single timer both trip, the upstream's in-flight slot, and the response stream. Whoever finishes first
 * (end of body, error, timeout, client gone) releases all of it exactly once.
 */
@Injectable()
export class VllmService implements OnApplicationShutdown {
  private readonly logger = new Logger(VllmService.name);
  private readonly httpAgent: Agent;
  private readonly httpsAgent: HttpsAgent;
  /** Unpooled: for the retry after a stale pooled socket, which must not land on another stale one. */
  private readonly freshHttpAgent: Agent;
  private readonly freshHttpsAgent: HttpsAgent;
  private readonly http: AxiosInstance;
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
    // For the occasional calls (health probes, model lists). The relay's POSTs go through `post` (node:http, options
    // computed once per URL): axios' per-request config merging was about 15 % of the gateway's CPU per request.
    this.http = axios.create({
      httpAgent: this.httpAgent,
      httpsAgent: this.httpsAgent,
      // Native http without follow-redirects, no proxy discovery from the environment, bytes as they come.
      proxy: false,
      maxRedirects: 0,
      decompress: false,
      maxBodyLength: Infinity,
      maxContentLength: -1,
      validateStatus: () => true,
      // axios would JSON.parse a string body to "validate" it: a full parse of every prompt for nothing.
      transformRequest: [(data: unknown) => data],
      transformResponse: [(data: unknown) => data],
    });
    this.authorization = config.vllm.apiKey === undefined ? undefined : `Bearer ${config.vllm.apiKey}`;
    this.pool = new UpstreamPool(config.vllm.baseUrls, {
      probe: (url) => this.probe(url),
      onEject: (url) => this.logger.warn(`vLLM upstream ${url} ejected after repeated failures`),
      onReadmit: (url) => this.logger.log(`vLLM upstream ${url} is healthy again`),
    });
  }

  /** Non-streamed chat completion; `body.stream` must not be true. */
  async chatCompletion(body: object, signal: AbortSignal, options: UpstreamCallOptions): Promise<UpstreamJson> {
    const answer = await this.send('/v1/chat/completions', body, signal, options);
    if (answer.kind === 'json') return answer;
    answer.cancel();
    throw new AppError('bad_gateway', 'vLLM answered a non-streamed request with an event stream');
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
    signal: AbortSignal,
    options: UpstreamCallOptions,
  ): Promise<UpstreamResponse> {
    const payload = body instanceof Buffer ? body : Buffer.from(JSON.stringify(body));
    const timeouts =
      options.firstByteTimeoutMs === undefined
        ? this.config.vllm
        : { ...this.config.vllm, firstByteTimeoutMs: options.firstByteTimeoutMs };
    const tried = new Set<Upstream>();
    const dispatchedAt = performance.now();
    let attempt = 0;
    let lastFailure: ConnectFailure | undefined;
    // Set after a stale pooled socket: the same upstream is tried again once, on a new connection.
    let freshTo: Upstream | undefined;
    for (;;) {
      if (signal.aborted) throw new UpstreamCancelledError();
      const fresh = freshTo !== undefined;
      const upstream = freshTo ?? this.pool.pick(options.stickyKey, tried);
      freshTo = undefined;
      if (upstream === undefined) break;
      attempt++;
      const id = attempt === 1 ? options.requestId : `${options.requestId}-${attempt}`;
      try {
        return await this.attempt(upstream, path, payload, signal, timeouts, id, dispatchedAt, fresh);
      } catch (err) {
        if (!(err instanceof ConnectFailure)) throw err;
        // A closed pooled socket says nothing about the upstream; only a new connection does.
        if (err.retrySame && !fresh) {
          freshTo = upstream;
          continue;
        }
        lastFailure = err;
        tried.add(upstream);
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
    const answer = await this.send('/tokenize', body, NEVER_ABORTED, {
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
    return Promise.all(
      this.config.vllm.baseUrls.map(async (url): Promise<UpstreamHealth> => {
        const started = performance.now();
        try {
          await this.http.get(`${url}/health`, {
            timeout: HEALTH_TIMEOUT_MS,
            responseType: 'arraybuffer',
            validateStatus: (s) => s === 200,
          });
          return { url, status: 'up', latency_ms: Math.round(performance.now() - started) };
        } catch (err) {
          const error = axios.isAxiosError(err) ? (err.code ?? `HTTP ${err.response?.status}`) : String(err);
          return { url, status: 'down', latency_ms: Math.round(performance.now() - started), error };
        }
      }),
    );
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

  private async probe(url: string): Promise<boolean> {
    try {
      const res = await this.http.get(`${url}/health`, { timeout: HEALTH_TIMEOUT_MS, responseType: 'arraybuffer' });
      return res.status === 200;
    } catch {
      return false;
    }
  }

  private async attempt(
    upstream: Upstream,
    path: string,
    payload: Buffer,
    signal: AbortSignal,
    timeouts: TimeoutConfig,
    wantedId: string,
    dispatchedAt: number,
    fresh: boolean,
  ): Promise<UpstreamResponse> {
    const id = this.liveIds.has(wantedId) ? `${wantedId}-${randomBytes(4).toString('hex')}` : wantedId;
    const call = new Attempt(upstream, this.pool, signal, timeouts, () => this.liveIds.delete(id));
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
    if (status >= 400) {
      const body = await call.readAll();
      if (status >= 500) this.pool.recordFailure(upstream);
      else this.pool.recordSuccess(upstream);
      throw upstreamError(status, body);
    }
    this.pool.recordSuccess(upstream);
    const answer = { status, contentType, upstream: upstream.url, attemptId: id, dispatchedAt, headersAt };
    if (contentType.startsWith('text/event-stream')) {
      const batches = call.batches();
      return { kind: 'stream', ...answer, batches, cancel: () => call.cancel() };
    }
    const body = await call.readAll();
    return { kind: 'json', ...answer, body, receivedAt: performance.now() };
  }

  private async fetchModels(): Promise<ModelList> {
    const upstreams = this.pool.upstreams.filter((u) => !u.ejected);
    if (upstreams.length === 0) throw new AppError('service_unavailable', 'No vLLM upstream is available');
    const results = await Promise.allSettled(
      upstreams.map(async (u) => {
        const res = await this.http.get<Buffer>(`${u.url}/v1/models`, {
          timeout: HEALTH_TIMEOUT_MS,
          responseType: 'arraybuffer',
          headers: this.authorization === undefined ? {} : { Authorization: this.authorization },
        });
        if (res.status !== 200) throw upstreamError(res.status, res.data);
        return parseJson(res.data, '/v1/models') as Partial<ModelList>;
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

type TimeoutConfig = Pick<AppConfig['vllm'], 'firstByteTimeoutMs' | 'idleTimeoutMs'>;

/**
 * One upstream request. A single timer covers it: the first-byte timeout until the first body byte, then the idle
 * timeout, re-armed with `refresh()` per chunk (no timer per event, no total timeout: long streams live on).
 */
class Attempt {
  private request: ClientRequest | undefined;
  /** `stalled`: the idle timeout ran out while the consumer was not asking for more (a client that stopped reading). */
  private cause: 'client' | 'timeout' | 'stalled' | undefined;
  private idle = false;
  private timer: NodeJS.Timeout;
  private released = false;
  private stream: IncomingMessage | undefined;
  private ended = false;
  private error: unknown;
  private wake: (() => void) | undefined;
  private draining = false;

  constructor(
    private readonly upstream: Upstream,
    private readonly pool: UpstreamPool,
    private readonly signal: AbortSignal,
    private readonly timeouts: TimeoutConfig,
    private readonly onRelease: () => void,
  ) {
    pool.acquire(upstream);
    this.timer = setTimeout(this.onTimeout, timeouts.firstByteTimeoutMs);
    if (signal.aborted) this.onClientAbort();
    else signal.addEventListener('abort', this.onClientAbort, { once: true });
  }

  /** The upstream request, destroyed when the attempt is given up before its response arrived. */
  bind(request: ClientRequest): void {
    this.request = request;
    if (this.cause !== undefined) request.destroy(new Error(`vLLM request aborted (${this.cause})`));
  }

  /** Takes the response body over; listeners go on at once so an error can never be unhandled. */
  adopt(stream: IncomingMessage): void {
    this.stream = stream;
    stream.on('readable', this.onReadable);
    stream.on('error', (err) => {
      this.error ??= err;
      this.notify();
    });
    stream.on('end', () => {
      this.ended = true;
      this.finish();
      this.notify();
    });
    stream.on('close', () => {
      if (!this.ended) this.error ??= new Error('vLLM closed the connection before the response was complete');
      this.finish();
      this.notify();
    });
    // Aborted before the body was adopted: the listener above never saw the stream.
    if (this.cause !== undefined) stream.destroy();
  }

  /** The whole body, for JSON answers and error bodies. */
  async readAll(): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for (;;) {
      const chunk = this.read();
      if (chunk !== null) {
        chunks.push(chunk);
        continue;
      }
      if (this.error !== undefined) throw this.failure(this.error);
      if (this.ended) return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      await this.next();
    }
  }

  /**
   * The body as SSE events, in one batch per chunk read. After `[DONE]` the rest of the body is drained so the socket
   * goes back to the pool.
   */
  async *batches(): AsyncGenerator<readonly SseEvent[], void, undefined> {
    const parser = new SseParser();
    try {
      for (;;) {
        const chunk = this.read();
        if (chunk !== null) {
          const batch = parser.push(chunk);
          if (batch.length > 0) yield batch;
          if (parser.done) return;
          continue;
        }
        if (this.error !== undefined) throw this.failure(this.error);
        if (this.ended) {
          if (parser.hasPartial) throw new AppError('bad_gateway', 'vLLM ended the stream in the middle of an event');
          return;
        }
        await this.next();
      }
    } finally {
      if (parser.done && !this.ended && this.error === undefined) this.drain();
      else this.cancel();
    }
  }

  cancel(): void {
    if (this.stream !== undefined && !this.stream.destroyed && !this.ended) this.stream.destroy();
    this.finish();
  }

  /** Releases the in-flight slot, the timer and the signal listener; idempotent. */
  finish(): void {
    if (this.released) return;
    this.released = true;
    clearTimeout(this.timer);
    this.signal.removeEventListener('abort', this.onClientAbort);
    this.pool.release(this.upstream);
    this.onRelease();
  }

  /** Maps whatever ended the attempt to what the caller should see. */
  failure(err: unknown): Error {
    if (this.cause === 'client') return new UpstreamCancelledError();
    if (this.cause === 'stalled') {
      return new AppError(
        'gateway_timeout',
        `The client read nothing for ${this.timeouts.idleTimeoutMs} ms; the vLLM request was aborted`,
      );
    }
    if (this.cause === 'timeout') {
      this.pool.recordFailure(this.upstream);
      return this.idle
        ? new AppError('gateway_timeout', `vLLM sent nothing for ${this.timeouts.idleTimeoutMs} ms`)
        : new AppError('gateway_timeout', `vLLM did not answer within ${this.timeouts.firstByteTimeoutMs} ms`);
    }
    if (err instanceof AppError) return err;
    const code = errorCode(err);
    if (this.stream === undefined && code !== undefined) {
      if (CONNECT_ERROR_CODES.has(code)) return new ConnectFailure(code, false);
      // A pooled socket the server closed just as we reused it: the request never reached vLLM.
      if (code === 'ECONNRESET' && isReusedSocket(err)) return new ConnectFailure(code, true);
    }
    this.pool.recordFailure(this.upstream);
    const reason = err instanceof Error ? err.message : String(err);
    return new AppError('bad_gateway', `vLLM connection failed: ${code ?? reason}`, { cause: err });
  }

  private readonly onClientAbort = (): void => {
    this.cause ??= 'client';
    this.abort();
  };

  private readonly onTimeout = (): void => {
    // The timer is refreshed only when the consumer reads. When it is not waiting for data (the relay is blocked on a
    // client that does not read), vLLM was not the one that went quiet: still abort, so it frees the request, but do
    // not count it against the upstream, or slow clients would eject a healthy vLLM.
    const consumerWaiting = this.wake !== undefined;
    this.cause ??= this.idle && !consumerWaiting && !this.draining ? 'stalled' : 'timeout';
    this.abort();
  };

  private abort(): void {
    // Before the response, destroying the request rejects the pending post; after it, destroying the response stream
    // closes the connection. Never both: once the response is ours, the request's socket is not ours to close.
    if (this.stream === undefined) this.request?.destroy(new Error(`vLLM request aborted (${this.cause ?? 'client'})`));
    else this.stream.destroy();
    this.notify();
  }

  private readonly onReadable = (): void => {
    if (this.draining) {
      while (this.stream?.read() != null);
      return;
    }
    this.notify();
  };

  private read(): Buffer | null {
    const chunk = this.stream?.read() as Buffer | null | undefined;
    if (chunk == null) return null;
    if (this.idle) this.timer.refresh();
    else {
      this.idle = true;
      clearTimeout(this.timer);
      this.timer = setTimeout(this.onTimeout, this.timeouts.idleTimeoutMs);
    }
    return chunk;
  }

  private next(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private drain(): void {
    this.draining = true;
    this.onReadable();
  }
}

function headerValue(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  const cause = (err as { cause?: unknown }).cause;
  return cause === undefined ? undefined : errorCode(cause);
}

function isReusedSocket(err: unknown): boolean {
  return err instanceof RequestFailure && err.reusedSocket;
}

function parseJson(body: Buffer, what: string): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new AppError('bad_gateway', `vLLM answered ${what} with invalid JSON`, { cause: err });
  }
}
