import { describe, expect, it } from '@jest/globals';
import { isUsageOnlyChunk, replyFromCompletion, StreamAccumulator } from './assistant-reply.js';

const chunk = (delta: object, extra: object = {}): string =>
  JSON.stringify({
    id: 'chatcmpl-1',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'm',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: null, ...extra }],
  });

describe('StreamAccumulator', () => {
  it('rebuilds content, finish_reason, usage and model from vLLM’s chunks', () => {
    const acc = new StreamAccumulator();
    acc.push(chunk({ role: 'assistant', content: '', reasoning_content: null }));
    acc.push(chunk({ content: 'Hel', reasoning_content: null }));
    acc.push(chunk({ content: 'lo' }, { finish_reason: 'stop', stop_reason: null }));
    acc.push(JSON.stringify({ id: 'chatcmpl-1', choices: [], usage: { prompt_tokens: 12, completion_tokens: 2 } }));
    acc.push('[DONE]');
    expect(acc.result()).toEqual({
      content: 'Hello',
      reasoning: null,
      toolCalls: null,
      finishReason: 'stop',
      promptTokens: 12,
      completionTokens: 2,
      model: 'm',
      error: null,
    });
  });

  it('keeps reasoning once when vLLM sends both reasoning and its reasoning_content copy', () => {
    const acc = new StreamAccumulator();
    acc.push(chunk({ reasoning: 'think', reasoning_content: 'think' }));
    acc.push(chunk({ content: 'answer' }));
    expect(acc.result()).toMatchObject({ content: 'answer', reasoning: 'think' });
  });

  it('merges tool-call fragments by index', () => {
    const acc = new StreamAccumulator();
    acc.push(
      chunk({ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'get', arguments: '' } }] }),
    );
    acc.push(chunk({ tool_calls: [{ index: 0, function: { arguments: '{"a":' } }] }));
    acc.push(chunk({ tool_calls: [{ index: 0, function: { arguments: '1}' } }] }, { finish_reason: 'tool_calls' }));
    expect(acc.result()).toMatchObject({
      content: '',
      finishReason: 'tool_calls',
      toolCalls: [{ id: 'call_1', type: 'function', function: { name: 'get', arguments: '{"a":1}' } }],
    });
  });

  it('records vLLM’s in-stream error and ignores what is not JSON', () => {
    const acc = new StreamAccumulator();
    acc.push(chunk({ content: 'part' }));
    acc.push('not json');
    acc.push(JSON.stringify({ error: { message: 'Internal server error', type: 'InternalServerError', code: 500 } }));
    expect(acc.result()).toMatchObject({ content: 'part', error: 'Internal server error' });
  });
});

describe('replyFromCompletion', () => {
  it('reads a non-streamed answer', () => {
    const reply = replyFromCompletion({
      model: 'm',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hi', tool_calls: [] }, finish_reason: 'length' }],
      usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
    });
    expect(reply).toMatchObject({ content: 'Hi', toolCalls: null, finishReason: 'length', promptTokens: 3 });
  });
});

describe('isUsageOnlyChunk', () => {
  it('spots the final usage chunk and nothing else', () => {
    expect(isUsageOnlyChunk('{"id":"x","choices":[],"usage":{"prompt_tokens":1}}')).toBe(true);
    expect(isUsageOnlyChunk(chunk({ content: 'choices [] usage' }))).toBe(false);
    // continuous_usage_stats: usage on a chunk that has a choice is the client's, not the extra chunk.
    expect(isUsageOnlyChunk(JSON.stringify({ choices: [{ index: 0, delta: {} }], usage: {} }))).toBe(false);
    expect(isUsageOnlyChunk('[DONE]')).toBe(false);
  });
});
