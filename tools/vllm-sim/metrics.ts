// Prometheus exposition in the shape vLLM's PrometheusStatLogger produces (names, label order, float rendering),
// hand-written because the simulator has no dependencies and needs only a handful of series.

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

// Bucket boundaries copied from vllm/v1/metrics/loggers.py so dashboards built on vLLM read the same.
const TTFT_BUCKETS = [
  0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0,
  640.0, 2560.0,
];
const ITL_BUCKETS = [
  0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0,
];
const REQUEST_LATENCY_BUCKETS = [
  0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0,
  7680.0,
];

export type FinishedReason = 'stop' | 'length' | 'abort' | 'error';
const FINISHED_REASONS: readonly FinishedReason[] = ['stop', 'length', 'abort', 'error'];

class Histogram {
  private readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(readonly buckets: readonly number[]) {
    this.counts = new Array<number>(buckets.length).fill(0);
  }

  observe(v: number): void {
    this.sum += v;
    this.count++;
    for (let i = 0; i < this.buckets.length; i++) {
      if (v <= (this.buckets[i] ?? Infinity)) {
        this.counts[i] = (this.counts[i] ?? 0) + 1;
        return;
      }
    }
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }

  render(out: string[], name: string, help: string, labels: string): void {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} histogram`);
    out.push(`${name}_sum{${labels}} ${fmt(this.sum)}`);
    let cumulative = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      cumulative += this.counts[i] ?? 0;
      out.push(`${name}_bucket{${labels},le="${fmt(this.buckets[i] ?? 0)}"} ${fmt(cumulative)}`);
    }
    out.push(`${name}_bucket{${labels},le="+Inf"} ${fmt(this.count)}`);
    out.push(`${name}_count{${labels}} ${fmt(this.count)}`);
  }
}

/** Python's float repr for the values we emit: integers keep a trailing ".0" like prometheus_client prints them. */
function fmt(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e16) return `${n}.0`;
  return String(n);
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

export interface MetricGauges {
  modelName: string;
  running: number;
  waiting: number;
  kvCacheUsage: number;
  inFlight: number;
  completed: number;
  aborted: number;
  failed: number;
  received: number;
}

export class SimMetrics {
  promptTokens = 0;
  generationTokens = 0;
  readonly success: Record<FinishedReason, number> = { stop: 0, length: 0, abort: 0, error: 0 };
  readonly ttft = new Histogram(TTFT_BUCKETS);
  readonly itl = new Histogram(ITL_BUCKETS);
  readonly e2e = new Histogram(REQUEST_LATENCY_BUCKETS);
  readonly queue = new Histogram(REQUEST_LATENCY_BUCKETS);

  reset(): void {
    this.promptTokens = 0;
    this.generationTokens = 0;
    for (const r of FINISHED_REASONS) this.success[r] = 0;
    this.ttft.reset();
    this.itl.reset();
    this.e2e.reset();
    this.queue.reset();
  }

  render(g: MetricGauges): string {
    const labels = `model_name="${escapeLabel(g.modelName)}",engine="0"`;
    const out: string[] = [];
    const gauge = (name: string, help: string, value: number): void => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name}{${labels}} ${fmt(value)}`);
    };
    const counter = (name: string, help: string, value: number): void => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`, `${name}_total{${labels}} ${fmt(value)}`);
    };
    gauge('vllm:num_requests_running', 'Number of requests in model execution batches.', g.running);
    gauge('vllm:num_requests_waiting', 'Number of requests waiting to be processed.', g.waiting);
    gauge('vllm:kv_cache_usage_perc', 'KV-cache usage. 1 means 100 percent usage.', g.kvCacheUsage);
    counter('vllm:prompt_tokens', 'Number of prefill tokens processed.', this.promptTokens);
    counter('vllm:generation_tokens', 'Number of generation tokens processed.', this.generationTokens);
    out.push(
      '# HELP vllm:request_success Count of successfully processed requests.',
      '# TYPE vllm:request_success counter',
    );
    for (const r of FINISHED_REASONS) {
      out.push(`vllm:request_success_total{${labels},finished_reason="${r}"} ${fmt(this.success[r])}`);
    }
    this.ttft.render(out, 'vllm:time_to_first_token_seconds', 'Histogram of time to first token in seconds.', labels);
    this.itl.render(out, 'vllm:inter_token_latency_seconds', 'Histogram of inter-token latency in seconds.', labels);
    this.e2e.render(out, 'vllm:e2e_request_latency_seconds', 'Histogram of e2e request latency in seconds.', labels);
    this.queue.render(
      out,
      'vllm:request_queue_time_seconds',
      'Histogram of time spent in WAITING phase for request.',
      labels,
    );
    // Simulator-only series, unlabelled: tests and benchmarks read them to check cancellation reached the upstream.
    const sim = (name: string, type: 'gauge' | 'counter', help: string, value: number): void => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${fmt(value)}`);
    };
    sim('vllm_sim:requests_in_flight', 'gauge', 'Generation requests accepted and not yet finished.', g.inFlight);
    sim('vllm_sim:requests_completed_total', 'counter', 'Generation requests that finished normally.', g.completed);
    sim('vllm_sim:requests_aborted_total', 'counter', 'Generation requests aborted by a client disconnect.', g.aborted);
    sim('vllm_sim:requests_failed_total', 'counter', 'Generation requests ended by an injected fault.', g.failed);
    sim('vllm_sim:requests_received_total', 'counter', 'Requests received on /v1/* and /tokenize routes.', g.received);
    return out.join('\n') + '\n';
  }
}
