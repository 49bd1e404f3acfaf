import { Injectable } from '@nestjs/common';
import { VllmService } from '../vllm/vllm.service.js';
import type { TokenizeResponse, UpstreamCallOptions } from '../vllm/vllm.types.js';
import type { JsonObject } from '../common/json.js';

export interface MessageCounts {
  /** Tokens each message takes in a prompt, in order. */
  counts: number[];
  /** The serving model's context window, as `/tokenize` reports it; undefined when nothing was counted. */
  maxModelLen: number | undefined;
}

/** System prompts repeat across turns; a small map is enough, cleared when it fills. */
const SYSTEM_PROMPT_CACHE_SIZE = 256;
const PROBE_MESSAGE = { role: 'user', content: 'x' };

/**
 * Token counts from the serving model's own tokenizer and chat template (vLLM's `/tokenize`, messages form), never
 * estimated from characters. A message is counted alone, template tokens included, so a stored count can be summed
 * with others later; the generation prompt that ends a request is counted once per model and added on top.
 */
@Injectable()
export class TokenCounter {
  /** Per model: the probe user message alone, and with the generation prompt. */
  private readonly probes = new Map<string, Promise<{ bare: number; prompted: number }>>();
  private readonly systemPrompts = new Map<string, Promise<MessageCounts>>();

  constructor(private readonly vllm: VllmService) {}

  /**
   * Counts each message with one `/tokenize` call per message, all at once; no call for no messages. An assistant
   * message is counted after a probe user message, minus the probe: templates that insist on a user turn first
   * (Mistral's, Gemma's) refuse an assistant message alone.
   */
  async countMessages(
    model: string | undefined,
    messages: readonly JsonObject[],
    requestId: string,
    stickyKey?: string,
  ): Promise<MessageCounts> {
    const options = { requestId: `${requestId}-tok`, stickyKey };
    const tokenize = (rendered: JsonObject[]): Promise<TokenizeResponse> =>
      this.vllm.tokenize(
        { ...(model === undefined ? {} : { model }), messages: rendered, add_generation_prompt: false },
        options,
      );
    const answers = await Promise.all(
      messages.map(async (message): Promise<TokenizeResponse> => {
        if (message['role'] !== 'assistant') return tokenize([message]);
        const [probe, withProbe] = await Promise.all([this.probe(model, options), tokenize([PROBE_MESSAGE, message])]);
        return { ...withProbe, count: Math.max(0, withProbe.count - probe.bare) };
      }),
    );
    return { counts: answers.map((answer) => answer.count), maxModelLen: answers[0]?.max_model_len };
  }

  /** The same for a system prompt, which most turns of a conversation share. */
  countSystemPrompt(
    model: string | undefined,
    message: JsonObject,
    requestId: string,
    stickyKey?: string,
  ): Promise<MessageCounts> {
    const key = `${model ?? ''}\u0000${JSON.stringify(message)}`;
    const cached = this.systemPrompts.get(key);
    if (cached !== undefined) return cached;
    if (this.systemPrompts.size >= SYSTEM_PROMPT_CACHE_SIZE) this.systemPrompts.clear();
    const counted = this.countMessages(model, [message], requestId, stickyKey);
    this.systemPrompts.set(key, counted);
    counted.catch(() => this.systemPrompts.delete(key));
    return counted;
  }

  /** Tokens of the generation prompt (`<|im_start|>assistant\n` and the like): a constant of the model's template. */
  async generationPromptTokens(model: string | undefined, requestId: string, stickyKey?: string): Promise<number> {
    const probe = await this.probe(model, { requestId: `${requestId}-tok`, stickyKey });
    return Math.max(0, probe.prompted - probe.bare);
  }

  /** Measured once per model (a failure is retried by the next caller). */
  private probe(model: string | undefined, options: UpstreamCallOptions): Promise<{ bare: number; prompted: number }> {
    const key = model ?? '';
    const cached = this.probes.get(key);
    if (cached !== undefined) return cached;
    const body = { ...(model === undefined ? {} : { model }), messages: [PROBE_MESSAGE] };
    const measured = Promise.all([
      this.vllm.tokenize({ ...body, add_generation_prompt: false }, options),
      this.vllm.tokenize({ ...body, add_generation_prompt: true }, options),
    ]).then(([bare, prompted]) => ({ bare: bare.count, prompted: prompted.count }));
    this.probes.set(key, measured);
    measured.catch(() => this.probes.delete(key));
    return measured;
  }
}
