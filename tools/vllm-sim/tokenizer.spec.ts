import { describe, expect, it } from '@jest/globals';
import { planOutput } from './generation.js';
import {
  chatPromptTokenCount,
  chatPromptTokens,
  countTokens,
  splitTokens,
  textPromptTokenCount,
  textPromptTokens,
  tokenForId,
  tokenId,
} from './tokenizer.js';

describe('tokenizer', () => {
  it.each([
    'Hello, world!',
    '  leading and trailing spaces  ',
    'multi\nline\n\ntext\twith tabs',
    'ünïcödé wörds, 数字 123 and emoji 🎉!',
    '',
  ])('splits %j losslessly and counts consistently', (text) => {
    const tokens = splitTokens(text);
    expect(tokens.join('')).toBe(text);
    expect(countTokens(text)).toBe(tokens.length);
    expect(tokens.every((t) => t.length > 0)).toBe(true);
  });

  it('keeps the leading space with the word and splits punctuation off', () => {
    expect(splitTokens('Hi there, you.')).toEqual(['Hi', ' there', ',', ' you', '.']);
  });

  it('maps tokens to stable ids that map back', () => {
    const id = tokenId(' there');
    expect(tokenId(' there')).toBe(id);
    expect(tokenForId(id)).toBe(' there');
    expect(tokenId('<|im_start|>')).toBeLessThan(1000);
  });

  it('counts chat prompts exactly like the rendered token list', () => {
    const input = {
      messages: [
        { role: 'system', content: 'Be nice.' },
        {
          role: 'user',
          content: [{ type: 'text', text: 'Hi ' }, { type: 'image_url' }, { type: 'text', text: 'you' }],
        },
        { role: 'assistant', content: null, tool_calls: [{ id: 'x', type: 'function' }] },
      ],
      tools: [{ type: 'function', function: { name: 'f' } }],
      addGenerationPrompt: true,
    };
    expect(chatPromptTokenCount(input)).toBe(chatPromptTokens(input).length);
    expect(chatPromptTokenCount({ ...input, addGenerationPrompt: false })).toBe(chatPromptTokenCount(input) - 3);
  });

  it('adds BOS to text prompts unless special tokens are off', () => {
    expect(textPromptTokens('a b')).toEqual(['<|begin_of_text|>', 'a', ' b']);
    expect(textPromptTokenCount('a b')).toBe(3);
    expect(textPromptTokenCount('a b', false)).toBe(2);
  });
});

describe('planOutput', () => {
  const base = { sourceText: 'one two three', outputTokens: 4, seed: 1, requestSeed: null, limit: 100 };

  it('stops by itself or is cut by the limit', () => {
    expect(planOutput({ ...base, mode: 'echo' })).toMatchObject({ count: 3, finishReason: 'stop' });
    expect(planOutput({ ...base, mode: 'echo', limit: 2 })).toMatchObject({ count: 2, finishReason: 'length' });
    expect(planOutput({ ...base, mode: 'fixed', limit: 4 })).toMatchObject({ count: 4, finishReason: 'stop' });
  });

  it('echo of an empty message still yields one (empty) token', () => {
    const plan = planOutput({ ...base, mode: 'echo', sourceText: '' });
    expect(plan.tokens.slice(0, plan.count)).toEqual(['']);
  });

  it('random depends on the request seed too', () => {
    const a = planOutput({ ...base, mode: 'random', outputTokens: 30 });
    const b = planOutput({ ...base, mode: 'random', outputTokens: 30, requestSeed: 99 });
    expect(planOutput({ ...base, mode: 'random', outputTokens: 30 }).tokens).toEqual(a.tokens);
    expect(b.tokens.join('')).not.toBe(a.tokens.join(''));
  });
});
