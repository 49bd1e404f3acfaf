import { Injectable } from '@nestjs/common';
import type { CompletionRecord } from '../common/completion.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { UsageService } from '../usage/usage.service.js';
import type { RelayOutcome } from '../vllm/relay-outcome.js';
import type { RelayPath } from '../vllm/vllm.types.js';
import { type TokenCounts, usageIn } from './completion-usage.js';
import type { RelayPlan, RequestContext } from './relay.types.js';

const USAGE_KEY = Buffer.from('"usage"');

interface Completed {
  path: RelayPath;
  plan: RelayPlan;
  exchange: RequestContext;
  outcome: RelayOutcome;
  endedAt: number;
}

/**
 * What the relay reports about each completion, for metrics and usage accounting. The relay calls it twice per
 * stream (start, end) and once per request when it is over; the record is built and handed on after the current
 * I/O, so the client's bytes never wait for it.
 */
@Injectable()
export class CompletionAccounting {
  /** Completions of the current turn of the event loop, accounted together in the next one. */
  private pending: Completed[] = [];

  constructor(
    private readonly metrics: MetricsService,
    private readonly usage: UsageService,
  ) {}

  streamStarted(): void {
    this.metrics.streamStarted();
  }

  streamEnded(): void {
    this.metrics.streamEnded();
  }

  completed(path: RelayPath, plan: RelayPlan, exchange: RequestContext, outcome: RelayOutcome): void {
    // One immediate for every completion of this turn of the event loop, not one each.
    if (this.pending.length === 0) setImmediate(this.account);
    this.pending.push({ path, plan, exchange, outcome, endedAt: performance.now() });
  }

  private readonly account = (): void => {
    const done = this.pending;
    this.pending = [];
    for (const { path, plan, exchange, outcome, endedAt } of done) {
      const record = completionRecord(path, plan, exchange, outcome, endedAt);
      this.metrics.observeCompletion(record);
      this.usage.record(record);
    }
  };
}

export function completionRecord(
  path: RelayPath,
  plan: RelayPlan,
  exchange: RequestContext,
  outcome: RelayOutcome,
  endedAt: number,
): CompletionRecord {
  const tokens = tokensOf(path, outcome);
  const model = plan.body['model'];
  return {
    route: path,
    model: typeof model === 'string' ? model : undefined,
    status: outcome.status,
    streamed: plan.body['stream'] === true,
    principal: exchange.principal,
    conversationId: plan.conversationId,
    llmConfigId: plan.llmConfigId,
    receivedAt: exchange.receivedAt,
    firstEventAt: outcome.firstEventAt,
    endedAt: outcome.lastEventAt ?? endedAt,
    recordedAt: Date.now(),
    overheadMs: outcome.overheadMs,
    events: outcome.dataEvents ?? 0,
    relayMs: outcome.relayMs ?? 0,
    inputTokens: tokens.input,
    outputTokens: tokens.output,
  };
}

/**
 * vLLM's usage when it sent one (the JSON answer's, or the stream's usage chunk, its last data event). A stream
 * without one (aborted, or a client that did not ask for usage) counts the events relayed: vLLM sends about one
 * token per event, after a chat stream's first event, which carries only the role. Its input is then unknown (null).
 */
function tokensOf(path: RelayPath, outcome: RelayOutcome): TokenCounts {
  if (outcome.body !== undefined) return usageIn(outcome.body);
  const last = outcome.lastDataEvent;
  const usage = last?.raw.includes(USAGE_KEY) === true ? usageIn(last.data) : undefined;
  if (usage?.output !== null && usage?.output !== undefined) return usage;
  const events = outcome.dataEvents ?? 0;
  if (outcome.firstEventAt === undefined) return { input: null, output: null };
  return { input: null, output: path === '/v1/chat/completions' ? Math.max(0, events - 1) : events };
}
