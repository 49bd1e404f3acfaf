import { describe, expect, it, jest } from '@jest/globals';
import type { VllmService } from '../../vllm/vllm.service.js';
import type { TokenizeResponse } from '../../vllm/vllm.types.js';
import { TokenCounter, TokenizeLimiter, userMessageUpperBound } from './token-counter.js';

interface TokenizeBody {
  messages: { role: string; content: string }[];
  add_generation_prompt: boolean;
}

/** A template of 2 tokens per message plus its words, and 3 for the generation prompt. */
function fakeVllm(): jest.Mocked<Pick<VllmService, 'tokenize'>> {
  return {
    tokenize: jest.fn((body: object): Promise<TokenizeResponse> => {
      const { messages, add_generation_prompt } = body as TokenizeBody;
      if (messages[0]?.role === 'assistant') return Promise.reject(new Error('Conversation roles must alternate'));
      const count = messages.reduce((n, m) => n + 2 + m.content.split(' ').length, 0) + (add_generation_prompt ? 3 : 0);
      return Promise.resolve({ count, max_model_len: 100, tokens: [] });
    }),
  };
}

describe('TokenCounter', () => {
  it('keeps at most four /tokenize calls of one request in flight, the probe and system prompt included', async () => {
    let inFlight = 0;
    let peak = 0;
    let calls = 0;
    const vllm = {
      tokenize: jest.fn(async (): Promise<TokenizeResponse> => {
        calls++;
        inFlight++;
        peak = Math.max(peak, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 1));
        inFlight--;
        return { count: 7, max_model_len: 100, tokens: [] };
      }),
    };
    const counter = new TokenCounter(vllm as unknown as VllmService);
    const limiter = new TokenizeLimiter();
    const messages = Array.from({ length: 40 }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: `m${i}` }));
    const [result] = await Promise.all([
      counter.countMessages('m', messages, 'req', undefined, limiter),
      counter.countSystemPrompt('m', { role: 'system', content: 's' }, 'req', undefined, limiter),
      counter.generationPromptTokens('m', 'req', undefined, limiter),
    ]);
    expect(result.counts).toHaveLength(40);
    expect(peak).toBe(4);
    // One call per message, one for the system prompt, two for the model's probe (shared by the assistant ones).
    expect(calls).toBe(40 + 1 + 2);
  });

  it('counts each message with vLLM’s template, an assistant reply after a probe user turn', async () => {
    const vllm = fakeVllm();
    const counter = new TokenCounter(vllm as unknown as VllmService);

    const result = await counter.countMessages(
      'm',
      [
        { role: 'user', content: 'one two three' },
        { role: 'assistant', content: 'four five' },
      ],
      'req',
    );

    expect(result).toEqual({ counts: [5, 4], maxModelLen: 100 });
    expect(await counter.generationPromptTokens('m', 'req')).toBe(3);
  });

  it('asks vLLM once per model for the probe and once per system prompt', async () => {
    const vllm = fakeVllm();
    const counter = new TokenCounter(vllm as unknown as VllmService);
    const system = { role: 'system', content: 'be brief' };

    await counter.generationPromptTokens('m', 'a');
    await counter.generationPromptTokens('m', 'b');
    await counter.countSystemPrompt('m', system, 'a');
    const again = await counter.countSystemPrompt('m', system, 'b');

    expect(again.counts).toEqual([4]);
    expect(vllm.tokenize).toHaveBeenCalledTimes(3);
  });

  it('makes no call for no messages', async () => {
    const vllm = fakeVllm();
    const result = await new TokenCounter(vllm as unknown as VllmService).countMessages('m', [], 'req');
    expect(result).toEqual({ counts: [], maxModelLen: undefined });
    expect(vllm.tokenize).not.toHaveBeenCalled();
  });

  it('knows a model’s window and template constants only once vLLM has reported them, without asking again', async () => {
    const vllm = fakeVllm();
    const counter = new TokenCounter(vllm as unknown as VllmService);
    const system = { role: 'system', content: 'be brief' };
    expect(counter.known('m')).toBeUndefined();
    expect(counter.cachedSystemPrompt('m', system)).toBeUndefined();

    await counter.generationPromptTokens('m', 'a');
    await counter.countSystemPrompt('m', system, 'a');
    await Promise.resolve();
    const calls = vllm.tokenize.mock.calls.length;

    // The probe 'x' alone takes 3: an upper bound of the template's 2 plus one byte.
    expect(counter.known('m')).toEqual({ maxModelLen: 100, generationPromptTokens: 3, userOverhead: 3 });
    expect(counter.known('other')).toBeUndefined();
    expect(counter.cachedSystemPrompt('m', system)).toBe(4);
    expect(vllm.tokenize).toHaveBeenCalledTimes(calls);
  });
});

describe('userMessageUpperBound', () => {
  it('bounds a text user message by its template overhead plus its UTF-8 bytes', () => {
    expect(userMessageUpperBound({ role: 'user', content: 'héllo' }, 3)).toBe(3 + 6);
    // One byte more per text part for the separator vLLM joins them with.
    const parts = [
      { type: 'text', text: 'ab' },
      { type: 'text', text: '€' },
    ];
    expect(userMessageUpperBound({ role: 'user', content: parts }, 3)).toBe(3 + 3 + 4);
  });

  it.each([
    [{ role: 'assistant', content: 'hi' }],
    [{ role: 'user', name: 'ada', content: 'hi' }],
    [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:,' } }] }],
    [{ role: 'user', content: [{ type: 'text', text: 'hi', cache: true }] }],
    [{ role: 'user', content: null }],
  ])('does not bound %j', (message) => {
    expect(userMessageUpperBound(message, 3)).toBeUndefined();
  });
});
