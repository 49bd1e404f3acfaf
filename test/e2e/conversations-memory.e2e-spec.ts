import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import {
  ChatMemoryService,
  namesConversationOrConfig,
  type PreparedChat,
} from '../../src/conversations/chat-memory.service.js';
import { ChatMessage } from '../../src/conversations/chat-message.entity.js';
import { LlmConfigsService } from '../../src/llm-configs/llm-configs.service.js';
import { startSimulator, type Simulator } from '../../tools/vllm-sim/simulator.js';
import { jsonApi, type JsonApi, postConversation, postLlmConfig } from '../factories/api.js';
import { type RunningGateway, startGateway } from '../helpers/gateway.js';
import { countQueries } from '../helpers/query-count.js';
import { waitFor } from '../helpers/relay.js';

type Json = Record<string, unknown>;

const completion = (content: string): string =>
  JSON.stringify({
    model: 'sim-model',
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
  });

/**
 * `ChatMemoryService` on the real app (PostgreSQL, the simulator's /tokenize): what the HTTP tests in
 * conversations-chat.e2e-spec.ts cannot see from outside, the database work per request and the body a turn builds.
 */
describe('chat memory service (e2e, service level)', () => {
  let sim: Simulator;
  let gateway: RunningGateway;
  let memory: ChatMemoryService;
  let call: JsonApi;
  let db: DataSource;

  beforeAll(async () => {
    sim = await startSimulator({ maxModelLen: 400 });
    gateway = await startGateway({ VLLM_BASE_URL: sim.url });
    memory = gateway.app.get(ChatMemoryService);
    call = jsonApi(gateway.url);
    db = gateway.app.get(DataSource);
  });

  afterAll(async () => {
    await gateway?.close();
    await sim?.close();
  });

  const resolve = (body: Json): Promise<PreparedChat> =>
    memory.prepare(body, { requestId: randomUUID(), receivedAt: performance.now(), owner: null });

  /** Ends a prepared turn as a client that left before any token would. */
  const abandon = (prepared: PreparedChat): Promise<void> =>
    prepared.recorder?.commit({ status: 'aborted' }) ?? Promise.resolve();

  const queriesOf = async (work: () => Promise<unknown>): Promise<number> =>
    (await countQueries(gateway, work)).queries;

  it('lets a request’s config override the conversation’s for that turn', async () => {
    const own = await postLlmConfig(call, { system_prompt: 'Own.' });
    const other = await postLlmConfig(call, { system_prompt: 'Other.', temperature: 0.5 });
    const conversation = await postConversation(call, { llm_config_id: own.id });

    const resolved = await resolve({
      conversation_id: conversation.id,
      llm_config_id: other.id,
      messages: [{ role: 'user', content: 'x' }],
    });

    expect(resolved.body).toEqual({
      temperature: 0.5,
      messages: [
        { role: 'system', content: 'Other.' },
        { role: 'user', content: 'x' },
      ],
    });
    await abandon(resolved);
  });

  it('leaves room for the reply: a max_tokens the context window cannot hold is a 400 on messages', async () => {
    const conversation = await postConversation(call);
    await expect(
      resolve({ conversation_id: conversation.id, max_tokens: 399, messages: [{ role: 'user', content: 'hi' }] }),
    ).rejects.toMatchObject({ code: 'context_length_exceeded', param: 'messages' });
    expect(await db.getRepository(ChatMessage).countBy({ conversationId: conversation.id })).toBe(0);
  });

  it('makes no query for a plain request', async () => {
    const queries = await queriesOf(async () => {
      const body = { model: 'sim-model', messages: [{ role: 'user', content: 'x' }], prompt_variables: { a: 'b' } };
      expect(namesConversationOrConfig(body)).toBe(false);
      const prepared = await resolve(body);
      expect(prepared.recorder).toBeUndefined();
    });
    expect(queries).toBe(0);
  });

  it('reads a config once, then from the cache', async () => {
    // The write empties the cache, and so does its NOTIFY when it comes back to this process: wait for that second
    // one, or it could land between the two reads below.
    const invalidate = jest.spyOn(gateway.app.get(LlmConfigsService), 'invalidate');
    const config = await postLlmConfig(call, { temperature: 0.3 });
    await waitFor(() => invalidate.mock.calls.length >= 2, 'the gateway to hear of its own new config');
    invalidate.mockRestore();
    const body = { llm_config_id: config.id, messages: [{ role: 'user', content: 'x' }] };
    await resolve(body);
    expect(await queriesOf(() => resolve(body))).toBe(0);
  });

  it('costs a conversation turn one read and one write before vLLM is called', async () => {
    const conversation = await postConversation(call);
    const first = await resolve({ conversation_id: conversation.id, messages: [{ role: 'user', content: 'warm' }] });
    await first.recorder?.commit({ status: 'complete', body: Buffer.from(completion('hot')) });

    let turn: PreparedChat | undefined;
    const queries = await queriesOf(async () => {
      turn = await resolve({
        conversation_id: conversation.id,
        messages: [{ role: 'user', content: 'counted' }],
      });
      expect(turn?.body['messages']).toEqual([
        { role: 'user', content: 'warm' },
        { role: 'assistant', content: 'hot' },
        { role: 'user', content: 'counted' },
      ]);
    });

    expect(queries).toBe(2);
    expect(await db.getRepository(ChatMessage).countBy({ conversationId: conversation.id })).toBe(3);
    if (turn !== undefined) await abandon(turn);
  });
});
