// The simulated engine: a FIFO of waiting requests, at most maxNumSeqs running ones, and per running request one
// timer at a time (TTFT, then one per inter-token gap). With zero latency a request runs to completion synchronously,
// which is what makes the zero-latency path cheap.

import type { ServerResponse } from 'node:http';
import type { FinishReason } from './generation.js';
import type { SimMetrics } from './metrics.js';
import type { ResolvedOptions } from './options.js';
import {
  chatCompletionBody,
  MID_STREAM_ERROR,
  SSE_DONE,
  StreamFormatter,
  textCompletionBody,
  type ApiKind,
  type Usage,
} from './responses.js';

export const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8' } as const;

export function sendJson(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

export type UsageMode = 'none' | 'final' | 'continuous';

/** A fault that fires once `at` tokens have been sent (`at` is already clamped to the output length). */
export interface PlannedFault {
  kind: 'error' | 'drop';
  at: number;
}

interface JobBase {
  res: ServerResponse;
  id: string;
  created: number;
  model: string;
  promptTokens: number;
  fault: PlannedFault | null;
}

export interface GenerationJobSpec extends JobBase {
  kind: ApiKind;
  stream: boolean;
  tokens: readonly string[];
  count: number;
  finishReason: FinishReason;
  usage: UsageMode;
}

export interface EmbeddingJobSpec extends JobBase {
  kind: 'embedding';
  /** Builds the response body; deferred so an aborted request never pays for it. */
  render: () => string;
}

export type JobSpec = GenerationJobSpec | EmbeddingJobSpec;

class Job {
  state: 'waiting' | 'running' | 'done' = 'waiting';
  timer: NodeJS.Timeout | null = null;
  emitted = 0;
  kvHeld = 0;
  readonly arrivedAt = performance.now();
  lastTokenAt = 0;
  readonly fmt: StreamFormatter | null;

  constructor(readonly spec: JobSpec) {
    this.fmt =
      spec.kind !== 'embedding' && spec.stream
        ? new StreamFormatter(spec.kind, spec.id, spec.created, spec.model)
        : null;
  }
}

export class Engine {
  running = 0;
  waiting = 0;
  inFlight = 0;
  completed = 0;
  aborted = 0;
  failed = 0;
  /** Prompt plus generated tokens of running requests, for vllm:kv_cache_usage_perc. */
  kvTokens = 0;
  private queue: (Job | undefined)[] = [];
  private queueHead = 0;
  private draining = false;

  constructor(
    private readonly options: () => Readonly<ResolvedOptions>,
    private readonly metrics: SimMetrics,
  ) {}

  resetCounters(): void {
    this.completed = 0;
    this.aborted = 0;
    this.failed = 0;
  }

  kvCacheUsage(): number {
    const o = this.options();
    return Math.min(1, this.kvTokens / (o.maxNumSeqs * o.maxModelLen));
  }

  submit(spec: JobSpec): void {
    const job = new Job(spec);
    const res = spec.res;
    this.inFlight++;
    // 'close' without writableFinished is a client disconnect (the request's own 'close' fires on body end).
    res.once('close', () => {
      if (job.state !== 'done' && !res.writableFinished) this.abort(job);
    });
    if (job.fmt) res.writeHead(200, SSE_HEADERS);
    if (this.waiting === 0 && this.running < this.options().maxNumSeqs) this.start(job);
    else this.enqueue(job);
    // Streams get their headers at once, like vLLM; the role chunk still waits for the first token.
    // (headersSent is already true after writeHead, so it cannot tell whether they actually went out.)
    if (job.fmt && job.state !== 'done') res.flushHeaders();
  }

  /** Accepts a request and never answers; only the client closing ends it. */
  hang(res: ServerResponse): void {
    this.inFlight++;
    res.once('close', () => {
      this.inFlight--;
      this.aborted++;
      this.metrics.success.abort++;
    });
  }

  /** Starts queued requests while there is room; called when a slot frees up or maxNumSeqs grows. */
  drain(): void {
    if (this.draining) return;
    this.draining = true;
    try {
      const max = this.options().maxNumSeqs;
      while (this.running < max && this.queueHead < this.queue.length) {
        const job = this.queue[this.queueHead];
        // Drop the reference so a long queue does not pin finished requests.
        this.queue[this.queueHead++] = undefined;
        if (job === undefined || job.state !== 'waiting') continue;
        this.waiting--;
        this.start(job);
      }
      if (this.queueHead === this.queue.length) {
        this.queue = [];
        this.queueHead = 0;
      } else if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.queueHead);
        this.queueHead = 0;
      }
    } finally {
      this.draining = false;
    }
  }

  private enqueue(job: Job): void {
    this.waiting++;
    this.queue.push(job);
  }

  private delay(base: number): number {
    if (base <= 0) return 0;
    const jitter = this.options().jitter;
    return jitter > 0 ? base * (1 + jitter * (2 * Math.random() - 1)) : base;
  }

  private readonly onTimer = (job: Job): void => {
    job.timer = null;
    this.step(job);
  };

  private start(job: Job): void {
    job.state = 'running';
    this.running++;
    this.metrics.queue.observe((performance.now() - job.arrivedAt) / 1000);
    this.metrics.promptTokens += job.spec.promptTokens;
    this.kvTokens += job.spec.promptTokens;
    job.kvHeld = job.spec.promptTokens;
    const d = this.delay(this.options().ttftMs);
    if (d > 0) job.timer = setTimeout(this.onTimer, d, job);
    else this.step(job);
  }

  private step(job: Job): void {
    if (job.state !== 'running') return;
    const spec = job.spec;
    if (spec.kind === 'embedding') {
      if (spec.fault) this.fail(job, '');
      else this.finish(job, spec.render(), 'stop');
      return;
    }
    const fmt = job.fmt;
    const continuous = spec.usage === 'continuous';
    // Events produced in one pass are written together; each timer tick is still its own write (flush per event).
    let out = '';
    for (;;) {
      if (spec.fault !== null && spec.fault.at === job.emitted) {
        this.fail(job, out);
        return;
      }
      const i = job.emitted++;
      this.metrics.generationTokens++;
      this.kvTokens++;
      job.kvHeld++;
      const now = performance.now();
      if (i === 0) this.metrics.ttft.observe((now - job.arrivedAt) / 1000);
      else this.metrics.itl.observe((now - job.lastTokenAt) / 1000);
      job.lastTokenAt = now;
      const last = job.emitted === spec.count && spec.fault === null;
      if (fmt) {
        if (i === 0 && spec.kind === 'chat')
          out += fmt.role(continuous ? { prompt: spec.promptTokens, completion: 0 } : null);
        const usage = continuous ? { prompt: spec.promptTokens, completion: job.emitted } : null;
        out += fmt.token(spec.tokens[i] ?? '', last ? spec.finishReason : null, usage);
      }
      if (last) {
        this.finishGeneration(job, spec, out);
        return;
      }
      const d = this.delay(this.options().itlMs);
      if (d > 0) {
        if (out) spec.res.write(out);
        job.timer = setTimeout(this.onTimer, d, job);
        return;
      }
    }
  }

  private finishGeneration(job: Job, spec: GenerationJobSpec, out: string): void {
    const usage: Usage = { prompt: spec.promptTokens, completion: job.emitted };
    if (job.fmt) {
      if (spec.usage !== 'none') out += job.fmt.usage(usage);
      this.finish(job, out + SSE_DONE, spec.finishReason);
      return;
    }
    const text = spec.tokens.slice(0, job.emitted).join('');
    const body =
      spec.kind === 'chat'
        ? chatCompletionBody(spec.id, spec.created, spec.model, text, spec.finishReason, usage)
        : textCompletionBody(spec.id, spec.created, spec.model, text, spec.finishReason, usage);
    this.finish(job, body, spec.finishReason);
  }

  private finish(job: Job, body: string, reason: FinishReason): void {
    this.settle(job);
    this.completed++;
    this.metrics.success[reason]++;
    this.metrics.e2e.observe((performance.now() - job.arrivedAt) / 1000);
    if (job.fmt) job.spec.res.end(body);
    else sendJson(job.spec.res, 200, body);
    this.release(job);
  }

  private fail(job: Job, out: string): void {
    const spec = job.spec;
    const res = spec.res;
    this.settle(job);
    this.failed++;
    this.metrics.success.error++;
    if (spec.fault?.kind === 'drop') {
      // Let what was generated reach the client first, so "after N tokens" is exact on the wire.
      if (out) res.write(out, () => res.destroy());
      else res.destroy();
    } else if (job.fmt) {
      res.end(`${out}data: ${MID_STREAM_ERROR}\n\n${SSE_DONE}`);
    } else {
      sendJson(res, 500, MID_STREAM_ERROR);
    }
    this.release(job);
  }

  private abort(job: Job): void {
    const wasRunning = job.state === 'running';
    if (job.state === 'waiting') this.waiting--;
    this.settle(job);
    this.aborted++;
    this.metrics.success.abort++;
    if (wasRunning) this.release(job);
  }

  private settle(job: Job): void {
    job.state = 'done';
    if (job.timer !== null) {
      clearTimeout(job.timer);
      job.timer = null;
    }
    this.inFlight--;
  }

  private release(job: Job): void {
    this.running--;
    this.kvTokens -= job.kvHeld;
    job.kvHeld = 0;
    this.drain();
  }
}
