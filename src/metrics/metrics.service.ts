import { Injectable } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CompletionRecord } from '../common/completion.js';
import { requestPath } from '../common/logging/http-logger.js';
import { VllmService } from '../vllm/vllm.service.js';
import { ModelLabels } from './model-labels.js';

/** OpenTelemetry's recommended HTTP server duration buckets. */
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
/** GenAI semantic conventions: `gen_ai.server.request.duration` (and the client's operation duration). */
const REQUEST_DURATION_BUCKETS = [
  0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];
/** GenAI semantic conventions: `gen_ai.server.time_to_first_token`. */
const TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
/** GenAI semantic conventions: `gen_ai.server.time_per_output_token`. */
const TPOT_BUCKETS = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5];
/** GenAI semantic conventions: `gen_ai.client.token.usage` (powers of 4). */
const TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];
/** The gateway's own time is sub-millisecond when healthy: buckets from 50 µs. */
const OVERHEAD_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1];
const PER_EVENT_BUCKETS = [0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.005];

/** Methods outside this list are one `_OTHER` series, as OpenTelemetry's HTTP conventions ask. */
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT']);
/** `http_route` of a request no route matched (a 404, or one refused before its route was known): never the URL. */
export const UNMATCHED_ROUTE = 'unmatched';

type Outcome = 'ok' | 'error' | 'aborted';
const OUTCOME: Readonly<Record<CompletionRecord['status'], Outcome>> = {
  complete: 'ok',
  error: 'error',
  aborted: 'aborted',
};

interface PerModelLabels {
  readonly byOutcome: Readonly<Record<Outcome, { gen_ai_request_model: string; outcome: Outcome }>>;
  readonly byTokenType: Readonly<
    Record<'input' | 'output', { gen_ai_request_model: string; gen_ai_token_type: 'input' | 'output' }>
  >;
}

/**
 * Every Prometheus series the gateway exposes, on its own registry. Label values come from fixed sets (methods, route
 * templates, the models the upstreams serve, outcomes, upstream URLs from the config): never an id, a key or a raw
 * path. Updates are a few histogram observations per request, after the response; upstream state is read only when
 * scraped.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  private readonly models = new ModelLabels();
  /** Label objects reused by every observation: one allocation per label set, not per request. */
  private readonly perModel = new Map<string, PerModelLabels>();
  private readonly perRoute = new Map<string, { http_route: string }>();

  private readonly httpDuration = new Histogram({
    name: 'http_server_request_duration_seconds',
    help: 'Duration of HTTP server requests, until the last byte (a stream: its end)',
    labelNames: ['http_request_method', 'http_route', 'http_response_status_code'] as const,
    buckets: HTTP_BUCKETS,
    registers: [this.registry],
  });
  private readonly requestDuration = new Histogram({
    name: 'gen_ai_server_request_duration_seconds',
    help: 'GenAI request duration as the gateway clients see it: arrival to the last byte relayed',
    labelNames: ['gen_ai_request_model', 'outcome'] as const,
    buckets: REQUEST_DURATION_BUCKETS,
    registers: [this.registry],
  });
  private readonly timeToFirstToken = new Histogram({
    name: 'gen_ai_server_time_to_first_token_seconds',
    help: "Time from a streamed request's arrival to its first relayed event",
    labelNames: ['gen_ai_request_model', 'outcome'] as const,
    buckets: TTFT_BUCKETS,
    registers: [this.registry],
  });
  private readonly timePerOutputToken = new Histogram({
    name: 'gen_ai_server_time_per_output_token_seconds',
    help: "A stream's time after its first event, per output token after the first",
    labelNames: ['gen_ai_request_model', 'outcome'] as const,
    buckets: TPOT_BUCKETS,
    registers: [this.registry],
  });
  private readonly tokenUsage = new Histogram({
    name: 'gen_ai_client_token_usage',
    help: 'Tokens per request, as vLLM counted them (output of an aborted stream: the events relayed)',
    labelNames: ['gen_ai_request_model', 'gen_ai_token_type'] as const,
    buckets: TOKEN_BUCKETS,
    registers: [this.registry],
  });
  private readonly overhead = new Histogram({
    name: 'gateway_overhead_seconds',
    help: "The gateway's own time before the client's first byte: arrival to upstream dispatch, plus upstream first byte to the first write",
    labelNames: ['http_route'] as const,
    buckets: OVERHEAD_BUCKETS,
    registers: [this.registry],
  });
  private readonly relayPerEvent = new Histogram({
    name: 'gateway_relay_time_per_event_seconds',
    help: 'Time the relay loop spends per streamed event (write and bookkeeping, not waiting for vLLM)',
    labelNames: ['http_route'] as const,
    buckets: PER_EVENT_BUCKETS,
    registers: [this.registry],
  });
  private readonly streamsInFlight = new Gauge({
    name: 'gateway_streams_in_flight',
    help: 'Streamed responses being relayed now',
    registers: [this.registry],
  });
  readonly usageRowsDropped = new Counter({
    name: 'gateway_usage_rows_dropped_total',
    help: 'Usage rows not recorded: the queue was full, or their batch failed to write',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  constructor(vllm: VllmService) {
    const { upstreams } = vllm.pool;
    new Gauge({
      name: 'gateway_upstream_healthy',
      help: '1 while the upstream is in rotation, 0 while it is ejected',
      labelNames: ['upstream'] as const,
      registers: [this.registry],
      collect() {
        for (const u of upstreams) this.set({ upstream: u.url }, u.ejected ? 0 : 1);
      },
    });
    new Gauge({
      name: 'gateway_upstream_in_flight_requests',
      help: 'Requests sent to the upstream and not finished (streams until their last byte)',
      labelNames: ['upstream'] as const,
      registers: [this.registry],
      collect() {
        for (const u of upstreams) this.set({ upstream: u.url }, u.inFlight);
      },
    });
    // Zero-valued series exist from the start, so a rate() over them is defined before the first drop.
    this.usageRowsDropped.inc({ reason: 'queue_full' }, 0);
    this.usageRowsDropped.inc({ reason: 'write_failed' }, 0);
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  /**
   * Called by the request logger when a request ends, on both request paths. `laneRoutes` is the fast lane's route
   * table (path → template): a request the lane refused before its route fields were set is labelled as Express
   * labels the same request refused by the guard, with its route.
   */
  observeHttp(
    req: IncomingMessage,
    res: ServerResponse,
    seconds: number,
    laneRoutes?: ReadonlyMap<string, { readonly path: string }>,
  ): void {
    const method = req.method !== undefined && KNOWN_METHODS.has(req.method) ? req.method : '_OTHER';
    this.httpDuration.observe(
      {
        http_request_method: method,
        http_route: routeTemplate(req, laneRoutes),
        http_response_status_code: res.statusCode,
      },
      seconds,
    );
  }

  streamStarted(): void {
    this.streamsInFlight.inc();
  }

  streamEnded(): void {
    this.streamsInFlight.dec();
  }

  observeCompletion(c: CompletionRecord): void {
    // A model vLLM answered for is one it serves (it refuses others with a 404): learnt from traffic, no extra call.
    if (c.status === 'complete' || c.firstEventAt !== undefined) this.models.learn(c.model);
    const model = this.models.label(c.model);
    const labels = this.modelLabels(model).byOutcome[OUTCOME[c.status]];
    this.requestDuration.observe(labels, (c.endedAt - c.receivedAt) / 1000);
    if (c.firstEventAt !== undefined) {
      this.timeToFirstToken.observe(labels, (c.firstEventAt - c.receivedAt) / 1000);
      if (c.outputTokens !== null && c.outputTokens > 1) {
        this.timePerOutputToken.observe(labels, (c.endedAt - c.firstEventAt) / 1000 / (c.outputTokens - 1));
      }
    }
    const { input, output } = this.modelLabels(model).byTokenType;
    if (c.inputTokens !== null) this.tokenUsage.observe(input, c.inputTokens);
    if (c.outputTokens !== null) this.tokenUsage.observe(output, c.outputTokens);
    if (c.overheadMs !== undefined || c.events > 0) {
      const route = this.routeLabels(c.route);
      if (c.overheadMs !== undefined) this.overhead.observe(route, c.overheadMs / 1000);
      if (c.events > 0) this.relayPerEvent.observe(route, c.relayMs / 1000 / c.events);
    }
  }

  /** A model label's label sets, made once: model labels are a bounded set (ModelLabels), outcomes and types fixed. */
  private modelLabels(model: string): PerModelLabels {
    let labels = this.perModel.get(model);
    if (labels === undefined) {
      const byOutcome = (outcome: Outcome) => ({ gen_ai_request_model: model, outcome });
      const byType = (type: 'input' | 'output') => ({ gen_ai_request_model: model, gen_ai_token_type: type });
      labels = {
        byOutcome: { ok: byOutcome('ok'), error: byOutcome('error'), aborted: byOutcome('aborted') },
        byTokenType: { input: byType('input'), output: byType('output') },
      };
      this.perModel.set(model, labels);
    }
    return labels;
  }

  /** Route templates are the app's own, a handful. */
  private routeLabels(route: string): { http_route: string } {
    let labels = this.perRoute.get(route);
    if (labels === undefined) {
      labels = { http_route: route };
      this.perRoute.set(route, labels);
    }
    return labels;
  }
}

/**
 * The matched route's template: the fast lane's and the interceptor's log field, else Express' matched route (a
 * request the guard refused). Nest's not-found catch-all (`{/*splat}`) is no route of ours.
 */
function routeTemplate(req: IncomingMessage, laneRoutes?: ReadonlyMap<string, { readonly path: string }>): string {
  const logged = req.routeLogFields?.route;
  if (logged !== undefined) return logged;
  const path = (req as IncomingMessage & { route?: { path?: unknown } }).route?.path;
  if (typeof path === 'string' && !path.includes('*')) return path;
  const lane = req.method === 'POST' ? laneRoutes?.get(requestPath(req)) : undefined;
  return lane?.path ?? UNMATCHED_ROUTE;
}
