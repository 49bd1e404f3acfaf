import { Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import type { JsonObject } from '../../common/json.js';
import { VllmService } from '../../vllm/vllm.service.js';
import type { TokenizeResponse, UpstreamCallOptions } from '../../vllm/vllm.types.js';

export interface MessageCounts {
  /** Tokens each message takes in a prompt, in order. */
  counts: number[];
  /** The serving model's context window, as `/tokenize` reports it; undefined when nothing was counted. */
  maxModelLen: number | undefined;
}

/** `/tokenize` calls one request may have in flight: a turn with many uncounted messages queues, not floods vLLM. */
export const TOKENIZE_CONCURRENCY = 4;
/**
 * System prompts repeat across turns; their counts are cached under a digest of (model, message), so an entry's size
 * does not depend on the prompt's: the bound in bytes is a bound in entries. Cleared when it fills.
 */
const SYSTEM_PROMPT_CACHE_BYTES = 256 * 1024;
/** A digest key (64 hex characters, two bytes each in a JS string) and its count, with the Maps' overhead. */
const SYSTEM_PROMPT_ENTRY_BYTES = 256;
const SYSTEM_PROMPT_CACHE_ENTRIES = SYSTEM_PROMPT_CACHE_BYTES / SYSTEM_PROMPT_ENTRY_BYTES;
const PROBE_MESSAGE = { role: 'user', content: 'x' };
const utf8 = new TextEncoder();

interface Probe {
  /** The probe user message alone: the template's overhead for one user message, plus one byte's token. */
  bare: number;
  /** The same with the generation prompt. */
  prompted: number;
}

/** What vLLM already told us about a model, enough to bound a turn without asking again. */
export interface KnownModel {
  maxModelLen: number;
  generationPromptTokens: number;
  /** An upper bound of one user message's template tokens (the probe's `bare`, one byte of text included). */
  userOverhead: number;
}

/**
 * Token counts from the serving model's own tokenizer and chat template (vLLM's `/tokenize`, messages form), never
 * estimated from characters. A message is counted alone, template tokens included, so a stored count can be summed
 * with others later; the generation prompt that ends a request is counted once per model and added on top.
 */
@Injectable()
export class TokenCounter {
  /** Per model: the probe user message alone, and with the generation prompt. */
  private readonly probes = new Map<string, Promise<Probe>>();
  /** The probes that have answered, readable without waiting. */
  private readonly measured = new Map<string, Probe>();
  private readonly systemPrompts = new Map<string, Promise<MessageCounts>>();
  /** The system prompt counts that have answered, readable without waiting; same keys as `systemPrompts`. */
  private readonly systemPromptCounts = new Map<string, number>();
  /**
   * Per model: `max_model_len` from the latest `/tokenize` answer. Every answer refreshes it (the reply is counted
   * after each turn), so a vLLM restarted with another window is noticed by the next turn after one answer.
   */
  private readonly maxModelLens = new Map<string, number>();

  constructor(private readonly vllm: VllmService) {}

  /**
   * Counts each message with one `/tokenize` call per message, at most `TOKENIZE_CONCURRENCY` at a time; no call for
   * no messages. An assistant message is counted after a probe user message, minus the probe: templates that insist
   * on a user turn first (Mistral's, Gemma's) refuse an assistant message alone.
   */
  async countMessages(
    model: string | undefined,
    messages: readonly JsonObject[],
    requestId: string,
    stickyKey?: string,
    limiter = new TokenizeLimiter(),
  ): Promise<MessageCounts> {
    const options = { requestId: `${requestId}-tok`, stickyKey };
    const tokenize = (rendered: JsonObject[]): Promise<TokenizeResponse> =>
      limiter.run(() =>
        this.vllm.tokenize(
          { ...(model === undefined ? {} : { model }), messages: rendered, add_generation_prompt: false },
          options,
        ),
      );
    const answers = await Promise.all(
      messages.map(async (message): Promise<TokenizeResponse> => {
        if (message['role'] !== 'assistant') return tokenize([message]);
        const [probe, withProbe] = await Promise.all([
          this.probe(model, options, limiter),
          tokenize([PROBE_MESSAGE, message]),
        ]);
        return { ...withProbe, count: Math.max(0, withProbe.count - probe.bare) };
      }),
    );
    const maxModelLen = answers[0]?.max_model_len;
    if (typeof maxModelLen === 'number') this.maxModelLens.set(model ?? '', maxModelLen);
    return { counts: answers.map((answer) => answer.count), maxModelLen };
  }

  /** The model's window and template constants when vLLM has already reported them all; undefined otherwise. */
  known(model: string | undefined): KnownModel | undefined {
    const key = model ?? '';
    const maxModelLen = this.maxModelLens.get(key);
    const probe = this.measured.get(key);
    if (maxModelLen === undefined || probe === undefined) return undefined;
    return {
      maxModelLen,
      generationPromptTokens: Math.max(0, probe.prompted - probe.bare),
      userOverhead: probe.bare,
    };
  }

  /** The system prompt's count if `countSystemPrompt` has already answered for it; never calls vLLM. */
  cachedSystemPrompt(model: string | undefined, message: JsonObject): number | undefined {
    return this.systemPromptCounts.get(systemPromptKey(model, message));
  }

  /** The same for a system prompt, which most turns of a conversation share. */
  countSystemPrompt(
    model: string | undefined,
    message: JsonObject,
    requestId: string,
    stickyKey?: string,
    limiter?: TokenizeLimiter,
  ): Promise<MessageCounts> {
    const key = systemPromptKey(model, message);
    const cached = this.systemPrompts.get(key);
    if (cached !== undefined) return cached;
    if (this.systemPrompts.size >= SYSTEM_PROMPT_CACHE_ENTRIES) {
      this.systemPrompts.clear();
      this.systemPromptCounts.clear();
    }
    const counted = this.countMessages(model, [message], requestId, stickyKey, limiter);
    this.systemPrompts.set(key, counted);
    counted.then(
      (answer) => {
        const count = answer.counts[0];
        if (count !== undefined && this.systemPrompts.get(key) === counted) this.systemPromptCounts.set(key, count);
      },
      () => this.systemPrompts.delete(key),
    );
    return counted;
  }

  /** Tokens of the generation prompt (`<|im_start|>assistant\n` and the like): a constant of the model's template. */
  async generationPromptTokens(
    model: string | undefined,
    requestId: string,
    stickyKey?: string,
    limiter = new TokenizeLimiter(),
  ): Promise<number> {
    const probe = await this.probe(model, { requestId: `${requestId}-tok`, stickyKey }, limiter);
    return Math.max(0, probe.prompted - probe.bare);
  }

  /** Measured once per model (a failure is retried by the next caller). */
  private probe(model: string | undefined, options: UpstreamCallOptions, limiter: TokenizeLimiter): Promise<Probe> {
    const key = model ?? '';
    const cached = this.probes.get(key);
    if (cached !== undefined) return cached;
    const body = { ...(model === undefined ? {} : { model }), messages: [PROBE_MESSAGE] };
    const measured = Promise.all([
      limiter.run(() => this.vllm.tokenize({ ...body, add_generation_prompt: false }, options)),
      limiter.run(() => this.vllm.tokenize({ ...body, add_generation_prompt: true }, options)),
    ]).then(([bare, prompted]) => {
      this.maxModelLens.set(key, bare.max_model_len);
      const probe = { bare: bare.count, prompted: prompted.count };
      this.measured.set(key, probe);
      return probe;
    });
    this.probes.set(key, measured);
    measured.catch(() => this.probes.delete(key));
    return measured;
  }
}

function systemPromptKey(model: string | undefined, message: JsonObject): string {
  return createHash('sha256')
    .update(`${model ?? ''}\u0000${JSON.stringify(message)}`)
    .digest('hex');
}

/**
 * A per-request bound on `/tokenize` calls in flight: every count a turn makes (its messages, the system prompt, the
 * model's probe) waits its turn here, so one request never has more than `limit` of them at vLLM.
 */
export class TokenizeLimiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit = TOKENIZE_CONCURRENCY) {}

  async run<T>(call: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await call();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}
/**
 * An upper bound of the tokens a user message takes in a prompt, from its UTF-8 size: with byte-level BPE and
 * byte-fallback tokenizers every token covers at least one byte of text, so the text costs at most one token per
 * byte, on top of the template's own tokens (`userOverhead`, measured by vLLM). Undefined for anything the bound
 * does not cover (another role, a name, images, tool calls): those are counted by vLLM.
 */
export function userMessageUpperBound(message: JsonObject, userOverhead: number): number | undefined {
  if (message['role'] !== 'user') return undefined;
  // Any field besides role and content (a name, ...) may be rendered by the template: not covered.
  if (Object.keys(message).some((field) => field !== 'role' && field !== 'content')) return undefined;
  const content = message['content'];
  if (typeof content === 'string') return userOverhead + utf8.encode(content).length;
  if (!Array.isArray(content)) return undefined;
  let bytes = 0;
  for (const part of content as unknown[]) {
    if (typeof part !== 'object' || part === null || Array.isArray(part)) return undefined;
    const fields = part as Record<string, unknown>;
    const { type, text } = fields;
    if (type !== 'text' || typeof text !== 'string' || Object.keys(fields).length !== 2) return undefined;
    // One byte more per part: vLLM joins text parts with a newline.
    bytes += utf8.encode(text).length + 1;
  }
  return userOverhead + bytes;
}
