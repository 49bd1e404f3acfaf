import { describe, it, expect, beforeAll, afterAll, beforeEach } from '@jest/globals';
import { ChatOpenAI } from '@langchain/openai';
import { startSimulator, type Simulator } from '../../tools/vllm-sim/simulator.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';

// LangChain is how many services call an OpenAI-compatible server: its ChatOpenAI must work against the gateway
// unchanged, vLLM extras (passed as modelKwargs) included.
describe('LangChain ChatOpenAI through the gateway', () => {
  let sim: Simulator;
  let gateway: RunningGateway;

  beforeAll(async () => {
    sim = await startSimulator();
    gateway = await startGateway({ VLLM_BASE_URL: sim.url });
  });

  afterAll(async () => {
    await gateway?.close();
    await sim?.close();
  });

  beforeEach(() => sim.resetStats());

  const model = (options: { streaming?: boolean } = {}): ChatOpenAI =>
    new ChatOpenAI({
      model: 'sim-model',
      apiKey: 'client-key',
      maxRetries: 0,
      temperature: 0.2,
      modelKwargs: { top_k: 5, chat_template_kwargs: { enable_thinking: false } },
      configuration: { baseURL: `${gateway.url}/v1` },
      ...options,
    });

  it('invokes and gets the reply text and token usage', async () => {
    const reply = await model().invoke([
      ['system', 'Repeat after me.'],
      ['human', 'langchain says hello'],
    ]);

    expect(reply.content).toBe('langchain says hello');
    expect(reply.usage_metadata?.output_tokens).toBeGreaterThan(0);
    const received = sim.received().filter((r) => r.path === '/v1/chat/completions');
    expect(received).toHaveLength(1);
    expect(received[0]?.body).toMatchObject({
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

  it('streams the reply chunk by chunk', async () => {
    const chunks: string[] = [];
    for await (const chunk of await model({ streaming: true }).stream('one two three four')) {
      if (typeof chunk.content === 'string' && chunk.content !== '') chunks.push(chunk.content);
    }

    expect(chunks.join('')).toBe('one two three four');
    expect(chunks.length).toBeGreaterThan(1);
    expect(sim.counters().completed).toBe(1);
  });
});
