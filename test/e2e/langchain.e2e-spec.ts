import { describe, it, expect, beforeAll, afterAll, beforeEach } from '@jest/globals';
import { converse, type Gateway, invokeOnce, streamReply } from '../../examples/langchain.js';
import { startSimulator, type Simulator } from '../../tools/vllm-sim/simulator.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';

const CLIENT_KEY = 'langchain-client-key';

// LangChain is how many services call an OpenAI-compatible server: its ChatOpenAI must work against the gateway
// unchanged, vLLM extras and the gateway's conversation_id (passed as modelKwargs) included. These run the functions
// of examples/langchain.ts, so the example a reader copies is the one that is known to work.
describe('LangChain ChatOpenAI through the gateway (examples/langchain.ts)', () => {
  let sim: Simulator;
  let gateway: RunningGateway;
  let target: Gateway;

  beforeAll(async () => {
    sim = await startSimulator();
    // Auth on, as in production: the example's key must reach the gateway on every call, including its own fetch.
    gateway = await startGateway({ VLLM_BASE_URL: sim.url, ENABLE_AUTH: 'true', API_KEY: CLIENT_KEY });
    target = { url: gateway.url, apiKey: CLIENT_KEY, model: 'sim-model' };
  });

  afterAll(async () => {
    await gateway?.close();
    await sim?.close();
  });

  beforeEach(() => sim.resetStats());

  const chatRequests = (): Record<string, unknown>[] =>
    sim
      .received()
      .filter((r) => r.path === '/v1/chat/completions')
      .map((r) => r.body as Record<string, unknown>);

  it('invokes and gets the reply text and token usage, vLLM extras passed through', async () => {
    const reply = await invokeOnce(target, 'langchain says hello', {
      temperature: 0.2,
      modelKwargs: { top_k: 5, chat_template_kwargs: { enable_thinking: false } },
    });

    expect(reply.text).toBe('langchain says hello');
    expect(reply.usage_metadata?.output_tokens).toBeGreaterThan(0);
    expect(chatRequests()).toHaveLength(1);
    expect(chatRequests()[0]).toMatchObject({
      model: 'sim-model',
      temperature: 0.2,
      top_k: 5,
      chat_template_kwargs: { enable_thinking: false },
      messages: [
        { role: 'system', content: 'Repeat after me.' },
        { role: 'user', content: 'langchain says hello' },
      ],
    });
  });

  it('streams the reply chunk by chunk, each piece handed over as it arrives', async () => {
    const seen: string[] = [];
    const pieces = await streamReply(target, 'one two three four', (text) => seen.push(text));

    expect(pieces.join('')).toBe('one two three four');
    expect(pieces.length).toBeGreaterThan(1);
    expect(seen).toEqual(pieces);
    expect(chatRequests()[0]).toMatchObject({ stream: true });
    expect(sim.counters().completed).toBe(1);
  });

  it('holds a conversation through conversation_id: each turn sends one message, the gateway adds the history', async () => {
    const { conversationId, replies } = await converse(target, ['first question', 'second question']);

    expect(replies).toEqual(['first question', 'second question']);
    const [first, second] = chatRequests();
    // conversation_id is the gateway's field: it is consumed, never forwarded to vLLM.
    expect(first).not.toHaveProperty('conversation_id');
    expect(second?.messages).toEqual([
      { role: 'user', content: 'first question' },
      { role: 'assistant', content: 'first question' },
      { role: 'user', content: 'second question' },
    ]);
    const stored = await fetch(`${gateway.url}/v1/conversations/${conversationId}`, {
      headers: { authorization: `Bearer ${CLIENT_KEY}` },
    });
    const body = (await stored.json()) as { messages: { role: string; content: unknown; status: string }[] };
    expect(body.messages.map((m) => [m.role, m.content, m.status])).toEqual([
      ['user', 'first question', 'complete'],
      ['assistant', 'first question', 'complete'],
      ['user', 'second question', 'complete'],
      ['assistant', 'second question', 'complete'],
    ]);
  });
});
