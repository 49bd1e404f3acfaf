import { beforeEach, describe, expect, it, jest } from '@jest/globals';
import type { LlmConfig } from '../llm-configs/llm-config.entity.js';
import type { LlmConfigsService } from '../llm-configs/llm-configs.service.js';
import { ChatMemoryService } from './chat-memory.service.js';
import type { HistoryMessage, MessageStore, ReplyRow, TurnContext } from './message-store.js';
import type { MessageCounts, TokenCounter } from './token-counter.js';

const CONFIG_ID = '00000000-0000-4000-8000-0000000000c1';
const CONVERSATION_ID = '00000000-0000-4000-8000-0000000000a1';
const context = { requestId: 'req-1', receivedAt: 0 };

const config: LlmConfig = {
  id: CONFIG_ID,
  name: 'c',
  model: 'cfg-model',
  temperature: 0.2,
  topP: null,
  maxTokens: 100,
  systemPrompt: 'Talk like {{who}}.',
  extraParams: { top_k: 3 },
  isDefault: false,
  createdAt: new Date(0),
  updatedAt: new Date(0),
};

function stored(seq: number, role: string, content: string, tokenCount: number | null = 10): HistoryMessage {
  return {
    seq,
    role,
    content,
    contentParts: null,
    toolCalls: null,
    toolCallId: null,
    name: null,
    status: 'complete',
    tokenCount,
  };
}

describe('ChatMemoryService', () => {
  let configs: jest.Mocked<Pick<LlmConfigsService, 'findCached' | 'findDefaultCached'>>;
  let store: jest.Mocked<Pick<MessageStore, 'loadTurnContext' | 'appendTurn' | 'insertReply' | 'fillTokenCounts'>>;
  let tokens: jest.Mocked<
    Pick<
      TokenCounter,
      'countMessages' | 'countSystemPrompt' | 'generationPromptTokens' | 'known' | 'cachedSystemPrompt'
    >
  >;
  let service: ChatMemoryService;
  let turnContext: TurnContext;

  const counts = (messages: readonly unknown[], each = 10, maxModelLen = 1000): MessageCounts => ({
    counts: messages.map(() => each),
    maxModelLen: messages.length === 0 ? undefined : maxModelLen,
  });

  beforeEach(() => {
    turnContext = {
      llmConfigId: CONFIG_ID,
      history: [stored(1, 'user', 'hi'), stored(2, 'assistant', 'hello')],
      complete: true,
    };
    configs = {
      findCached: jest.fn((id: string) => Promise.resolve(id === CONFIG_ID ? config : null)),
      findDefaultCached: jest.fn(() => Promise.resolve(null)),
    };
    store = {
      loadTurnContext: jest.fn(() => Promise.resolve(turnContext)),
      appendTurn: jest.fn(() => Promise.resolve(4)),
      insertReply: jest.fn(() => Promise.resolve()),
      fillTokenCounts: jest.fn(() => Promise.resolve()),
    };
    tokens = {
      countMessages: jest.fn((_model: string | undefined, messages: readonly unknown[]) =>
        Promise.resolve(counts(messages)),
      ),
      countSystemPrompt: jest.fn(() => Promise.resolve(counts([{}]))),
      generationPromptTokens: jest.fn(() => Promise.resolve(3)),
      // Nothing known yet: every turn takes the exact path unless a test says otherwise.
      known: jest.fn(() => undefined),
      cachedSystemPrompt: jest.fn(() => undefined),
    };
    service = new ChatMemoryService(
      configs as unknown as LlmConfigsService,
      store as unknown as MessageStore,
      tokens as unknown as TokenCounter,
    );
  });

  it('leaves a plain request alone: no database, no tokenizer', async () => {
    const body = { model: 'm', messages: [{ role: 'user', content: 'x' }], prompt_variables: { a: 1 } };

    expect(await service.resolveChatRequest(body, context)).toBeUndefined();
    expect(configs.findCached).not.toHaveBeenCalled();
    expect(store.loadTurnContext).not.toHaveBeenCalled();
    expect(tokens.countMessages).not.toHaveBeenCalled();
  });

  it('applies a config to a one-off request: its settings under the request’s, its prompt rendered first', async () => {
    const resolved = await service.resolveChatRequest(
      {
        llm_config_id: CONFIG_ID,
        prompt_variables: { who: 'a pirate' },
        temperature: 1,
        messages: [{ role: 'user', content: 'x' }],
      },
      context,
    );

    expect(resolved).toEqual({
      body: {
        model: 'cfg-model',
        temperature: 1,
        max_tokens: 100,
        top_k: 3,
        messages: [
          { role: 'system', content: 'Talk like a pirate.' },
          { role: 'user', content: 'x' },
        ],
      },
    });
    expect(store.loadTurnContext).not.toHaveBeenCalled();
  });

  it.each([
    [{ llm_config_id: '00000000-0000-4000-8000-00000000dead' }, 'not_found', 'llm_config_id'],
    [{ llm_config_id: 'nope' }, 'bad_request', 'llm_config_id'],
    [{ conversation_id: 42 }, 'bad_request', 'conversation_id'],
    [{ llm_config_id: CONFIG_ID }, 'bad_request', 'prompt_variables.who'],
    [{ llm_config_id: CONFIG_ID, prompt_variables: null }, 'bad_request', 'prompt_variables.who'],
  ])('rejects %j with %s naming %s', async (fields, code, param) => {
    const body = { messages: [{ role: 'user', content: 'x' }], ...fields };
    await expect(service.resolveChatRequest(body, context)).rejects.toMatchObject({ code, param });
  });

  it('builds a turn: system prompt, stored history in order, then the new messages, stored before vLLM', async () => {
    const resolved = await service.resolveChatRequest(
      {
        conversation_id: CONVERSATION_ID,
        prompt_variables: { who: 'Ada' },
        stream: true,
        messages: [{ role: 'user', content: 'again' }],
      },
      context,
    );

    expect(resolved?.body['messages']).toEqual([
      { role: 'system', content: 'Talk like Ada.' },
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: 'hello' },
      { role: 'user', content: 'again' },
    ]);
    // The gateway needs the usage chunk; the client did not ask for it, so the turn hides it.
    expect(resolved?.body['stream_options']).toEqual({ include_usage: true });
    expect(resolved?.turn?.hideUsageChunk).toBe(true);
    expect(resolved?.stickyKey).toBe(CONVERSATION_ID);
    expect(store.appendTurn).toHaveBeenCalledWith(
      CONVERSATION_ID,
      [expect.objectContaining({ role: 'user', content: 'again', tokenCount: 10 })],
      'req-1',
    );
  });

  it('counts the new messages while the history loads when the request names its model', async () => {
    let loaded: (context: TurnContext) => void = () => undefined;
    store.loadTurnContext.mockReturnValue(new Promise((resolve) => (loaded = resolve)));
    const messages = [{ role: 'user', content: 'again' }];
    const body = { conversation_id: CONVERSATION_ID, model: 'm', prompt_variables: { who: 'x' }, messages };
    const pending = service.resolveChatRequest(body, context);

    expect(tokens.countMessages).toHaveBeenCalledWith('m', messages, 'req-1', CONVERSATION_ID);
    loaded(turnContext);
    await pending;
    // Counted once: the early count is the one the turn uses.
    expect(tokens.countMessages.mock.calls.filter(([, counted]) => counted[0] === messages[0])).toHaveLength(1);
  });

  it('drops the oldest turns that do not fit, and stores nothing when even the new message does not', async () => {
    turnContext.history = Array.from({ length: 40 }, (_, i) =>
      stored(i + 1, i % 2 === 0 ? 'user' : 'assistant', `m${i + 1}`),
    );
    const body = { conversation_id: CONVERSATION_ID, max_tokens: 850, messages: [{ role: 'user', content: 'new' }] };

    // 1000 window - 850 reserve - 10 system - 10 new - 3 generation prompt = 127 tokens for history: the cut point
    // at seq 17 keeps 24 messages (240 tokens), the next one, seq 33, keeps 8 (80 tokens).
    const resolved = await service.resolveChatRequest({ ...body, prompt_variables: { who: 'x' } }, context);
    const messages = resolved?.body['messages'] as { content: string }[];
    const kept = Array.from({ length: 8 }, (_, i) => `m${i + 33}`);
    expect(messages.map((m) => m.content)).toEqual(['Talk like x.', ...kept, 'new']);

    store.appendTurn.mockClear();
    await expect(
      service.resolveChatRequest({ ...body, max_tokens: 990, prompt_variables: { who: 'x' } }, context),
    ).rejects.toMatchObject({ code: 'context_length_exceeded', param: 'messages' });
    expect(store.appendTurn).not.toHaveBeenCalled();
  });

  describe('when the window and template constants are already known', () => {
    beforeEach(() => {
      tokens.known.mockReturnValue({ maxModelLen: 1000, generationPromptTokens: 3, userOverhead: 50 });
      tokens.cachedSystemPrompt.mockReturnValue(10);
    });
    const turn = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
      conversation_id: CONVERSATION_ID,
      model: 'm',
      prompt_variables: { who: 'x' },
      messages: [{ role: 'user', content: 'again' }],
      ...extra,
    });

    it('sends a turn that provably fits without counting it first, and counts it after the response', async () => {
      // 10 system + 20 history + (50 + 5) bound + 3 generation prompt + 900 reserve = 988 <= 1000.
      const resolved = await service.resolveChatRequest(turn({ max_tokens: 900 }), context);

      expect(tokens.countMessages).not.toHaveBeenCalled();
      expect(tokens.countSystemPrompt).not.toHaveBeenCalled();
      expect(tokens.generationPromptTokens).not.toHaveBeenCalled();
      expect((resolved?.body['messages'] as { content: string }[]).map((m) => m.content)).toEqual([
        'Talk like x.',
        'hi',
        'hello',
        'again',
      ]);
      expect(store.appendTurn).toHaveBeenCalledWith(
        CONVERSATION_ID,
        [expect.objectContaining({ content: 'again', tokenCount: null })],
        'req-1',
      );

      await resolved?.turn?.settle({ status: 'error', error: new Error('vLLM down') });
      expect(tokens.countMessages).toHaveBeenCalledWith(
        'm',
        [{ role: 'user', content: 'again' }],
        'req-1',
        CONVERSATION_ID,
      );
      // The reply takes seq 4, so the one new message has seq 3; its count is stored before the reply.
      expect(store.fillTokenCounts).toHaveBeenCalledWith(CONVERSATION_ID, [{ seq: 3, tokenCount: 10 }]);
      expect(store.fillTokenCounts.mock.invocationCallOrder[0]).toBeLessThan(
        store.insertReply.mock.invocationCallOrder[0] ?? 0,
      );
    });

    it('counts exactly when the bound does not fit, even if the exact count does', async () => {
      // The bound needs 1038 > 1000; the exact count 10 + 20 + 10 + 3 + 950 = 993 fits, all history kept.
      const resolved = await service.resolveChatRequest(turn({ max_tokens: 950 }), context);

      expect(tokens.countMessages).toHaveBeenCalledWith(
        'm',
        [{ role: 'user', content: 'again' }],
        'req-1',
        CONVERSATION_ID,
      );
      expect(resolved?.body['messages']).toHaveLength(4);
      expect(store.appendTurn).toHaveBeenCalledWith(
        CONVERSATION_ID,
        [expect.objectContaining({ tokenCount: 10 })],
        'req-1',
      );
      await resolved?.turn?.settle({ status: 'error', error: new Error('vLLM down') });
      expect(store.fillTokenCounts).not.toHaveBeenCalled();
    });

    it.each([
      ['an image', { role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:,' } }] }],
      ['a tool result', { role: 'tool', tool_call_id: 'c1', content: 'ok' }],
      ['a named message', { role: 'user', name: 'ada', content: 'hi' }],
    ])('counts exactly a turn with %s', async (_, message) => {
      await service.resolveChatRequest(turn({ messages: [message] }), context);
      expect(tokens.countMessages).toHaveBeenCalledWith('m', [message], 'req-1', CONVERSATION_ID);
      expect(store.appendTurn).toHaveBeenCalledWith(
        CONVERSATION_ID,
        [expect.objectContaining({ tokenCount: 10 })],
        'req-1',
      );
    });

    it('counts exactly when a stored message has no count or the system prompt was never counted', async () => {
      turnContext.history = [stored(1, 'user', 'hi', null), stored(2, 'assistant', 'hello')];
      await service.resolveChatRequest(turn(), context);
      expect(store.appendTurn).toHaveBeenLastCalledWith(
        CONVERSATION_ID,
        [expect.objectContaining({ tokenCount: 10 })],
        'req-1',
      );

      turnContext.history = [stored(1, 'user', 'hi'), stored(2, 'assistant', 'hello')];
      tokens.cachedSystemPrompt.mockReturnValue(undefined);
      await service.resolveChatRequest(turn(), context);
      expect(store.appendTurn).toHaveBeenLastCalledWith(
        CONVERSATION_ID,
        [expect.objectContaining({ tokenCount: 10 })],
        'req-1',
      );
    });
  });

  it('sends the whole history when vLLM cannot count, and stores no counts', async () => {
    tokens.countMessages.mockRejectedValue(new Error('no /tokenize'));
    const resolved = await service.resolveChatRequest(
      { conversation_id: CONVERSATION_ID, prompt_variables: { who: 'x' }, messages: [{ role: 'user', content: 'q' }] },
      context,
    );
    expect(resolved?.body['messages']).toHaveLength(4);
    expect(store.appendTurn).toHaveBeenCalledWith(
      CONVERSATION_ID,
      [expect.objectContaining({ tokenCount: null })],
      'req-1',
    );
  });

  it('stores a streamed reply once, from the relayed events, and shutdown waits for it', async () => {
    const resolved = await service.resolveChatRequest(
      {
        conversation_id: CONVERSATION_ID,
        prompt_variables: { who: 'x' },
        stream: true,
        stream_options: { include_usage: true },
        messages: [{ role: 'user', content: 'q' }],
      },
      { requestId: 'req-2', receivedAt: 100 },
    );
    expect(resolved?.turn?.hideUsageChunk).toBe(false);
    let release: () => void = () => undefined;
    store.insertReply.mockImplementation(() => new Promise<void>((resolve) => (release = resolve)));
    const data = (payload: object): { data: string } => ({ data: JSON.stringify(payload) });

    const settled = resolved?.turn?.settle({
      status: 'aborted',
      events: [
        data({ model: 'sim', choices: [{ index: 0, delta: { role: 'assistant', content: 'par' } }] }),
        data({ choices: [{ index: 0, delta: { content: 'tial' } }] }),
        data({ choices: [], usage: { prompt_tokens: 7, completion_tokens: 2 } }),
      ],
      firstEventAt: 130,
      lastEventAt: 250,
    });
    await resolved?.turn?.settle({ status: 'complete' });
    let shutDown = false;
    const shutdown = service.onApplicationShutdown().then(() => (shutDown = true));
    await Promise.resolve();
    expect(shutDown).toBe(false);
    await waitUntil(() => store.insertReply.mock.calls.length > 0);
    // The reply's insert is still pending: a turn of the event loop later, shutdown must still be waiting for it.
    await new Promise((resolve) => setImmediate(resolve));
    expect(shutDown).toBe(false);
    release();
    await settled;
    await shutdown;

    expect(store.insertReply).toHaveBeenCalledTimes(1);
    const expected: ReplyRow = {
      conversationId: CONVERSATION_ID,
      seq: 4,
      status: 'aborted',
      content: 'partial',
      reasoning: null,
      toolCalls: null,
      finishReason: null,
      promptTokens: 7,
      completionTokens: 2,
      model: 'sim',
      requestId: 'req-2',
      ttftMs: 30,
      durationMs: 150,
      tokenCount: 10,
    };
    expect(store.insertReply.mock.calls[0]?.[0]).toEqual(expected);
  });

  it('stores a failed upstream call as an error reply', async () => {
    const resolved = await service.resolveChatRequest(
      { conversation_id: CONVERSATION_ID, prompt_variables: { who: 'x' }, messages: [{ role: 'user', content: 'q' }] },
      context,
    );
    await resolved?.turn?.settle({ status: 'error', error: new Error('vLLM down') });
    expect(store.insertReply).toHaveBeenCalledWith(
      expect.objectContaining({ status: 'error', content: '', tokenCount: 0 }),
    );
  });
});

async function waitUntil(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !condition(); i++) await new Promise((resolve) => setImmediate(resolve));
}
