import { describe, expect, it, jest } from '@jest/globals';
import type { VllmService } from '../vllm/vllm.service.js';
import type { TokenizeResponse } from '../vllm/vllm.types.js';
import { TokenCounter } from './token-counter.js';

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
});
