import { describe, it, expect } from '@jest/globals';
import { AppError } from '../common/errors/app-error.js';
import { assertChatBody, assertCompletionBody, assertEmbeddingBody, upstreamBody } from './chat-request.js';

function paramOf(fn: () => void): string | null | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof AppError && err.code === 'bad_request') return err.param;
    throw err;
  }
  return undefined;
}

const messages = [{ role: 'user', content: 'hi' }];

describe('assertChatBody', () => {
  it('accepts a minimal body and anything vLLM understands', () => {
    expect(paramOf(() => assertChatBody({ messages }, 2048))).toBeUndefined();
    expect(
      paramOf(() =>
        assertChatBody(
          {
            messages: [
              { role: 'user', content: [{ type: 'text', text: 'x' }] },
              { role: 'tool', tool_call_id: '1' },
            ],
            model: null,
            stream: null,
            temperature: null,
            top_k: 'not ours to check',
          },
          2048,
        ),
      ),
    ).toBeUndefined();
  });

  it.each([
    [null, null],
    ['text', null],
    [[], null],
    [{}, 'messages'],
    [{ messages: null }, 'messages'],
    [{ messages: {} }, 'messages'],
    [{ messages: [] }, 'messages'],
    [{ messages: [null] }, 'messages[0]'],
    [{ messages: [messages[0], []] }, 'messages[1]'],
    [{ messages: [{ content: 'x' }] }, 'messages[0].role'],
    [{ messages, stream: 'true' }, 'stream'],
    [{ messages, model: ['a'] }, 'model'],
    [{ messages, temperature: '0.5' }, 'temperature'],
    [{ messages, conversation_id: 5 }, 'conversation_id'],
    [{ messages, llm_config_id: {} }, 'llm_config_id'],
    [{ messages, prompt_variables: ['a'] }, 'prompt_variables'],
  ])('rejects %j naming %s', (body, param) => {
    expect(paramOf(() => assertChatBody(body, 2048))).toBe(param);
  });

  it('rejects more messages than MAX_MESSAGES allows, naming the limit', () => {
    const many = Array.from({ length: 3 }, () => ({ role: 'user', content: 'x' }));
    expect(paramOf(() => assertChatBody({ messages: many }, 3))).toBeUndefined();
    expect(paramOf(() => assertChatBody({ messages: [...many, ...many] }, 5))).toBe('messages');
    expect(() => assertChatBody({ messages: [...many, ...many] }, 5)).toThrow(/limit is 5 \(MAX_MESSAGES\)/);
  });
});

describe('assertCompletionBody / assertEmbeddingBody', () => {
  it('check only the fields the gateway reads', () => {
    expect(paramOf(() => assertCompletionBody({ prompt: [1, 2, 3], stream: true }))).toBeUndefined();
    expect(paramOf(() => assertCompletionBody({ stream: 1 }))).toBe('stream');
    expect(paramOf(() => assertEmbeddingBody({ input: 'x' }))).toBeUndefined();
    expect(paramOf(() => assertEmbeddingBody({ input: 'x', model: 3 }))).toBe('model');
    expect(paramOf(() => assertEmbeddingBody([]))).toBeNull();
  });
});

describe('upstreamBody', () => {
  it('returns the very same object when nothing changes', () => {
    const body = { messages, top_k: 3, temperature: 0.1 };
    expect(upstreamBody(body, undefined)).toBe(body);
    expect(upstreamBody(body, 0.7)).toBe(body);
  });

  it('drops the extension fields without touching the client’s object', () => {
    const body = { messages, conversation_id: 'c', llm_config_id: 'l', prompt_variables: { a: 1 }, min_p: 0.1 };
    expect(upstreamBody(body, undefined)).toEqual({ messages, min_p: 0.1 });
    expect(body.conversation_id).toBe('c');
  });

  it('adds the default temperature only when absent or null, and nothing else', () => {
    expect(upstreamBody({ messages }, 0.2)).toEqual({ messages, temperature: 0.2 });
    expect(upstreamBody({ messages, temperature: null }, 0.2)).toEqual({ messages, temperature: 0.2 });
    expect(upstreamBody({ messages, temperature: 0 }, 0.2)).toEqual({ messages, temperature: 0 });
    expect(upstreamBody({ messages }, undefined)).toEqual({ messages });
  });

  it('keeps the key order', () => {
    const body = { z: 1, messages, conversation_id: 'c', a: 2 };
    expect(Object.keys(upstreamBody(body, 1))).toEqual(['z', 'messages', 'a', 'temperature']);
  });
});
