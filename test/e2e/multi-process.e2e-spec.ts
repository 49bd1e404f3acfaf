import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { startSimulator, type Simulator } from '../../tools/vllm-sim/simulator.js';
import { adminApi, type ConversationBody, jsonApi, type LlmConfigBody } from '../factories/api.js';
import { type RunningGateway, startGateway } from '../helpers/gateway.js';
import { type GatewayProcess, startGatewayProcess } from '../helpers/gateway-process.js';

const STATIC_KEY = 'multi-process-static-key';
const ADMIN_PASSWORD = 'multi-process-admin-password';
/** What the README promises for a revocation or a config change to reach the other processes. */
const PROPAGATION_MS = 1_000;

type Json = Record<string, unknown>;
type Message = { role: string; content: string };

/**
 * Two gateways on one PostgreSQL, as behind a load balancer: one in this process, one a process of its own (the built
 * app), sharing nothing but the database. Whatever one of them writes, the other acts on at once.
 */
describe('several gateway processes on one database (e2e)', () => {
  let sim: Simulator;
  let local: RunningGateway;
  let remote: GatewayProcess;
  /** Both gateways by name, so each check runs in both directions. */
  let gateways: Record<'local' | 'remote', string>;

  const env = (): Record<string, string> => ({
    VLLM_BASE_URL: sim.url,
    ENABLE_AUTH: 'true',
    API_KEY: STATIC_KEY,
    ADMIN_PASSWORD,
    JWT_SECRET: 'm'.repeat(32),
  });

  beforeAll(async () => {
    sim = await startSimulator();
    [local, remote] = await Promise.all([startGateway(env()), startGatewayProcess(env())]);
    gateways = { local: local.url, remote: remote.url };
  });

  afterAll(async () => {
    await remote?.stop();
    await local?.close();
    await sim?.close();
  });

  beforeEach(() => {
    sim.configure({ outputMode: 'echo', itlMs: 0, failure: null });
  });

  const client = (url: string) => jsonApi(url, { authorization: `Bearer ${STATIC_KEY}` });

  /** The body vLLM got for the chat call that `run` makes. */
  async function upstreamBodyOf(run: () => Promise<number>): Promise<Json> {
    const before = sim.received().filter((r) => r.path === '/v1/chat/completions').length;
    expect(await run()).toBe(200);
    const body = sim.received().filter((r) => r.path === '/v1/chat/completions')[before]?.body;
    return (body ?? {}) as Json;
  }

  /** Polls until `check` holds; returns how long that took after `since`. Fails after `withinMs`. */
  async function within(withinMs: number, since: number, check: () => Promise<boolean>): Promise<number> {
    while (!(await check())) {
      if (performance.now() - since > withinMs) throw new Error(`not within ${withinMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return performance.now() - since;
  }

  it('continues a conversation on either process, each turn sending the whole thread', async () => {
    const conversation = (await client(local.url)<ConversationBody>('POST', '/v1/conversations', {})).body;
    const expected: Message[] = [];
    for (let t = 0; t < 4; t++) {
      const url = t % 2 === 0 ? local.url : remote.url;
      const content = `turn ${t} on ${t % 2 === 0 ? 'the local' : 'the remote'} gateway`;
      const sent = await upstreamBodyOf(async () => {
        const res = await client(url)<{ choices: { message: { content: string } }[] }>('POST', '/v1/chat/completions', {
          conversation_id: conversation.id,
          messages: [{ role: 'user', content }],
          max_tokens: 16,
        });
        const reply = res.body.choices?.[0]?.message.content;
        expected.push({ role: 'user', content });
        if (reply !== undefined) expected.push({ role: 'assistant', content: reply });
        return res.status;
      });
      expect(sent['messages']).toEqual(expected.slice(0, -1));
    }
    for (const url of [local.url, remote.url]) {
      const stored = await client(url)<{ data: Message[] }>('GET', `/v1/conversations/${conversation.id}/messages`);
      expect(stored.body.data.map(({ role, content }) => ({ role, content }))).toEqual(expected);
    }
  });

  it.each([
    ['local', 'remote'],
    ['remote', 'local'],
  ] as const)('refuses a key revoked through the %s process on the %s one within a second', async (from, to) => {
    const admin = await adminApi(gateways[from], ADMIN_PASSWORD);
    const made = await admin<{ id: string; key: string }>('POST', '/admin/api-keys', { name: `key-${randomUUID()}` });
    expect(made.status).toBe(201);
    const models = async (): Promise<number> => {
      const res = await fetch(`${gateways[to]}/v1/models`, { headers: { authorization: `Bearer ${made.body.key}` } });
      await res.arrayBuffer();
      return res.status;
    };
    // A key made in one process is usable in the other as soon as the notification lands.
    await within(PROPAGATION_MS, performance.now(), async () => (await models()) === 200);

    expect((await admin('DELETE', `/admin/api-keys/${made.body.id}`)).status).toBe(200);
    const revokedAt = performance.now();
    expect(await within(PROPAGATION_MS, revokedAt, async () => (await models()) === 401)).toBeLessThan(PROPAGATION_MS);
  });

  it.each([
    ['local', 'remote'],
    ['remote', 'local'],
  ] as const)('applies a config changed through the %s process on the %s one within a second', async (from, to) => {
    const config = (
      await client(gateways[from])<LlmConfigBody>('POST', '/v1/llm-configs', {
        name: `cfg-${randomUUID()}`,
        temperature: 0.1,
      })
    ).body;
    const chat = (): Promise<Json> =>
      upstreamBodyOf(
        async () =>
          (
            await client(gateways[to])('POST', '/v1/chat/completions', {
              llm_config_id: config.id,
              messages: [{ role: 'user', content: 'which temperature?' }],
              max_tokens: 4,
            })
          ).status,
      );
    // The other process now has the config in its cache.
    expect((await chat())['temperature']).toBe(0.1);

    const patched = await client(gateways[from])('PATCH', `/v1/llm-configs/${config.id}`, { temperature: 0.9 });
    expect(patched.status).toBe(200);
    const changedAt = performance.now();
    const seenIn = await within(PROPAGATION_MS, changedAt, async () => (await chat())['temperature'] === 0.9);
    expect(seenIn).toBeLessThan(PROPAGATION_MS);
  });
});
