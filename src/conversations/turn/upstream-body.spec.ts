import { describe, expect, it } from '@jest/globals';
import type { LlmConfig } from '../../llm-configs/llm-config.entity.js';
import { applyConfig, clientAskedForUsage, replyReserve, splitLeadingSystem, systemMessages } from './upstream-body.js';

function config(fields: Partial<LlmConfig> = {}): LlmConfig {
  return {
    id: '00000000-0000-4000-8000-000000000001',
    name: 'c',
    model: 'cfg-model',
    temperature: 0.2,
    topP: 0.5,
    maxTokens: 64,
    systemPrompt: 'You are {{role}}.',
    extraParams: { top_k: 5, repetition_penalty: 1.1 },
    isDefault: false,
    createdAt: new Date(0),
    updatedAt: new Date(0),
    ...fields,
  };
}

describe('applyConfig', () => {
  it('fills what the request lacks, keeps what it sets, and drops the extension fields', () => {
    const body = {
      messages: [],
      temperature: 0.9,
      top_k: null,
      conversation_id: 'x',
      llm_config_id: 'y',
      prompt_variables: {},
    };
    expect(applyConfig(body, config())).toEqual({
      messages: [],
      model: 'cfg-model',
      temperature: 0.9,
      top_p: 0.5,
      max_tokens: 64,
      top_k: 5,
      repetition_penalty: 1.1,
    });
    expect(body).toHaveProperty('conversation_id');
  });

  it('leaves max_tokens out when the request sets max_completion_tokens', () => {
    expect(applyConfig({ max_completion_tokens: 10 }, config())).not.toHaveProperty('max_tokens');
  });
});

describe('system messages', () => {
  it('uses the client’s own system messages over the config’s prompt', () => {
    const { system, rest } = splitLeadingSystem([
      { role: 'developer', content: 'mine' },
      { role: 'user', content: 'hi' },
      { role: 'system', content: 'later' },
    ]);
    expect(rest).toHaveLength(2);
    expect(systemMessages(system, config(), undefined)).toEqual([{ role: 'developer', content: 'mine' }]);
  });

  it('renders the config’s template with the variables', () => {
    expect(systemMessages([], config(), { role: 'a pirate' })).toEqual([
      { role: 'system', content: 'You are a pirate.' },
    ]);
    expect(systemMessages([], config({ systemPrompt: null }), undefined)).toEqual([]);
  });
});

describe('replyReserve and clientAskedForUsage', () => {
  it('reserves max_completion_tokens, else max_tokens, else one token', () => {
    expect(replyReserve({ max_completion_tokens: 7, max_tokens: 9 })).toBe(7);
    expect(replyReserve({ max_tokens: 9 })).toBe(9);
    expect(replyReserve({})).toBe(1);
  });

  it('reads stream_options as vLLM does (include_usage defaults to true)', () => {
    expect(clientAskedForUsage({})).toBe(false);
    expect(clientAskedForUsage({ stream_options: {} })).toBe(true);
    expect(clientAskedForUsage({ stream_options: { include_usage: false } })).toBe(false);
  });
});
