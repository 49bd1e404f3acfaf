import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { DataSource } from 'typeorm';
import { ApiKeyService } from '../../src/auth/api-key.service.js';
import {
  adminApi,
  adminToken,
  bearer,
  type ConversationBody,
  type ErrorBody,
  jsonApi,
  type JsonApi,
} from '../factories/api.js';
import { endLineOf, waitForLogLine } from '../helpers/json-log.js';
import { send } from '../helpers/relay.js';
import { type Stack, startStack } from '../helpers/stack.js';

const STATIC_KEYS = ['client-key-one-5f2c', 'client-key-two-9a7e'];
const ADMIN_PASSWORD = 'admin-password-7d1f-e2e';
const CHAT = JSON.stringify({ model: 'sim-model', messages: [{ role: 'user', content: 'hi' }] });
const UNKNOWN_ID = '00000000-0000-4000-8000-00000000dead';

interface CreatedKey {
  id: string;
  name: string;
  key: string;
  prefix: string;
  scopes: string[];
  created_at: number;
  expires_at: number | null;
}

describe('client API keys with ENABLE_AUTH=true (e2e)', () => {
  let stack: Stack;
  let url: string;
  let admin: JsonApi;
  /** Made through the admin API: one with `chat` only, one with `chat` and `configs`. */
  let chatKey: CreatedKey;
  let configsKey: CreatedKey;

  const createKey = async (body: Record<string, unknown>): Promise<CreatedKey> => {
    const res = await admin<CreatedKey>('POST', '/admin/api-keys', body);
    if (res.status !== 201) throw new Error(`POST /admin/api-keys: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };

  beforeAll(async () => {
    stack = await startStack({
      env: {
        ENABLE_AUTH: 'true',
        API_KEY: STATIC_KEYS.join(','),
        ADMIN_PASSWORD,
        JWT_SECRET: 'e2e-jwt-secret-0123456789-abcdefghij',
      },
    });
    url = stack.gateway.url;
    admin = await adminApi(url, ADMIN_PASSWORD);
    chatKey = await createKey({ name: 'chat only' });
    configsKey = await createKey({ name: 'configs too', scopes: ['chat', 'configs'] });
  });

  afterAll(async () => {
    await stack?.close();
  });

  beforeEach(() => {
    stack.sim.resetStats();
  });

  it('shows a key once, as sk-gw- and 40 base62 characters, with chat as the default scope', () => {
    expect(chatKey).toEqual({
      id: expect.any(String),
      object: 'api_key',
      name: 'chat only',
      key: expect.stringMatching(/^sk-gw-[0-9A-Za-z]{40}$/),
      prefix: chatKey.key.slice(0, 12),
      scopes: ['chat'],
      created_at: expect.any(Number),
      expires_at: null,
      revoked_at: null,
      last_used_at: null,
      rate_limit_rpm: null,
      max_concurrent: null,
    });
  });

  // A Content-Length body goes through the chat fast lane, a chunked one through Express: both must check the key.
  it.each([
    ['the fast lane', false],
    ['Express', true],
  ])('refuses a chat request without a key, with a wrong, revoked or expired one through %s', async (_, chunked) => {
    const revoked = await createKey({ name: 'revoked' });
    expect((await admin('DELETE', `/admin/api-keys/${revoked.id}`)).status).toBe(200);
    // Made already expired, through the service: the API only takes a future expiry.
    const expired = await stack.gateway.app.get(ApiKeyService).create('expired', ['chat'], new Date(Date.now() - 1));
    const cases: [Record<string, string>, string][] = [
      [{}, 'Missing API key'],
      [bearer('not-a-key'), 'Invalid API key.'],
      [{ authorization: `Basic ${STATIC_KEYS[0] ?? ''}` }, 'Missing API key'],
      [bearer(revoked.key), 'This API key has been revoked.'],
      [bearer(expired.key), 'This API key has expired.'],
    ];
    for (const [headers, message] of cases) {
      const res = await send(url, '/v1/chat/completions', CHAT, { chunked, headers });
      expect(res.status).toBe(401);
      expect(JSON.parse(res.body)).toEqual({
        error: {
          message: expect.stringContaining(message),
          type: 'authentication_error',
          param: null,
          code: 'invalid_api_key',
        },
      });
      expect(res.body).not.toContain('not-a-key');
    }
    expect(stack.sim.counters().received).toBe(0);
  });

  it.each([
    ['the fast lane', false],
    ['Express', true],
  ])('serves a chat request with a static or a database key through %s', async (_, chunked) => {
    for (const key of [...STATIC_KEYS, chatKey.key]) {
      const res = await send(url, '/v1/chat/completions', CHAT, { chunked, headers: bearer(key) });
      expect(res.status).toBe(200);
      // The client's key is not forwarded: vLLM gets VLLM_API_KEY or nothing.
      expect(stack.sim.received().at(-1)?.headers['authorization']).toBeUndefined();
    }
    expect(stack.sim.counters().received).toBe(3);
  });

  it('guards every /v1 route, whatever its case, and leaves /, /health and the docs open', async () => {
    for (const path of ['/v1/models', '/v1/conversations', '/v1/llm-configs', '/V1/Models', '/v1/conversations/x']) {
      expect((await fetch(`${url}${path}`)).status).toBe(401);
    }
    for (const key of [STATIC_KEYS[1] ?? '', chatKey.key]) {
      for (const path of ['/v1/models', '/v1/conversations', '/v1/llm-configs']) {
        expect((await fetch(`${url}${path}`, { headers: bearer(key) })).status).toBe(200);
      }
    }
    for (const path of ['/', '/health', '/docs-json']) {
      expect((await fetch(`${url}${path}`)).status).toBe(200);
    }
  });

  it('lets only keys with the configs scope create, change and delete configs (403 permission_error otherwise)', async () => {
    const chat = jsonApi(url, bearer(chatKey.key));
    const configs = jsonApi(url, bearer(configsKey.key));
    const refused = await chat<ErrorBody>('POST', '/v1/llm-configs', { name: `cfg-${chatKey.id}` });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatchObject({ type: 'permission_error', code: 'forbidden', param: null });

    const created = await configs<{ id: string }>('POST', '/v1/llm-configs', { name: `cfg-${configsKey.id}` });
    expect(created.status).toBe(201);
    const id = created.body.id;
    expect((await chat('GET', `/v1/llm-configs/${id}`)).status).toBe(200);
    expect((await chat('PATCH', `/v1/llm-configs/${id}`, { temperature: 0.1 })).status).toBe(403);
    expect((await chat('DELETE', `/v1/llm-configs/${id}`)).status).toBe(403);
    expect((await configs('PATCH', `/v1/llm-configs/${id}`, { temperature: 0.1 })).status).toBe(200);
    // A static key has every scope.
    expect((await jsonApi(url, bearer(STATIC_KEYS[0] ?? ''))('DELETE', `/v1/llm-configs/${id}`)).status).toBe(204);
  });

  it("keeps each key's conversations to itself: another key gets 404 on read, list, messages, change and delete", async () => {
    const first = jsonApi(url, bearer(chatKey.key));
    const second = jsonApi(url, bearer(configsKey.key));
    const staticKey = jsonApi(url, bearer(STATIC_KEYS[0] ?? ''));
    const created = await first<ConversationBody>('POST', '/v1/conversations', { title: 'mine' });
    expect(created.status).toBe(201);
    const id = created.body.id;

    for (const other of [second, staticKey]) {
      for (const [method, path, body] of [
        ['GET', `/v1/conversations/${id}`],
        ['GET', `/v1/conversations/${id}/messages`],
        ['PATCH', `/v1/conversations/${id}`, { title: 'stolen' }],
        ['DELETE', `/v1/conversations/${id}`],
      ] as const) {
        const res = await other<ErrorBody>(method, path, body);
        expect(res.status).toBe(404);
        // The same answer as for an id that never existed, so ids do not leak.
        const unknown = await other<ErrorBody>(method, path.replace(id, UNKNOWN_ID), body);
        expect(res.body.error.message.replace(id, UNKNOWN_ID)).toBe(unknown.body.error.message);
      }
      const list = await other<{ data: ConversationBody[] }>('GET', '/v1/conversations?limit=100');
      expect(list.body.data.map((c) => c.id)).not.toContain(id);
    }

    const mine = await first<{ data: ConversationBody[] }>('GET', '/v1/conversations?limit=100');
    expect(mine.body.data.map((c) => c.id)).toContain(id);
    expect((await first<ConversationBody>('GET', `/v1/conversations/${id}`)).body.title).toBe('mine');
    // The admin sees every conversation.
    expect((await admin('GET', `/admin/conversations/${id}`)).status).toBe(200);
    expect((await first('DELETE', `/v1/conversations/${id}`)).status).toBe(204);
  });

  it("files a static key's conversations under a digest prefix, never the key", async () => {
    const staticKey = jsonApi(url, bearer(STATIC_KEYS[1] ?? ''));
    const { body } = await staticKey<ConversationBody>('POST', '/v1/conversations', {});
    const [row] = await stack.gateway.app
      .get(DataSource)
      .query<{ owner: string }[]>(`SELECT owner FROM conversations WHERE id = $1`, [body.id]);
    expect(row?.owner).toMatch(/^static:[0-9a-f]{16}$/);
    expect(row?.owner).not.toContain(STATIC_KEYS[1]);
  });

  it('refuses a client key on every admin route, and an admin token on the client routes', async () => {
    for (const key of [STATIC_KEYS[0] ?? '', configsKey.key]) {
      const client = jsonApi(url, bearer(key));
      for (const path of ['/admin/auth/me', '/admin/conversations', '/admin/llm-configs', '/admin/api-keys']) {
        const res = await client<ErrorBody>('GET', path);
        expect(res.status).toBe(401);
        expect(res.body.error.type).toBe('authentication_error');
      }
      expect((await client('POST', '/admin/api-keys', { name: 'escalate' })).status).toBe(401);
    }
    const token = await adminToken(url, ADMIN_PASSWORD);
    for (const path of ['/v1/models', '/v1/conversations', '/v1/llm-configs']) {
      expect((await fetch(`${url}${path}`, { headers: bearer(token) })).status).toBe(401);
    }
    const chat = await send(url, '/v1/chat/completions', CHAT, { headers: bearer(token) });
    expect(chat.status).toBe(401);
  });

  it('lists keys without their secrets and records when a key was last used, lazily', async () => {
    const used = await createKey({ name: 'used' });
    expect((await send(url, '/v1/chat/completions', CHAT, { headers: bearer(used.key) })).status).toBe(200);
    // Written by the periodic flush, not by the request; the test runs the flush instead of waiting a minute.
    await stack.gateway.app.get(ApiKeyService).flushLastUsed();
    const list = await admin<{ data: (CreatedKey & { last_used_at: number | null })[] }>('GET', '/admin/api-keys');
    expect(list.status).toBe(200);
    const text = JSON.stringify(list.body);
    for (const key of [chatKey, configsKey, used]) expect(text).not.toContain(key.key);
    expect(list.body.data.every((k) => !('key' in k) && !('key_hash' in k))).toBe(true);
    const row = list.body.data.find((k) => k.id === used.id);
    expect(row?.last_used_at).toBeGreaterThan(0);
    expect(list.body.data.find((k) => k.id === chatKey.id)).toMatchObject({ prefix: chatKey.prefix });
  });

  it('revokes a key at once and keeps its row', async () => {
    const key = await createKey({ name: 'to revoke' });
    expect((await send(url, '/v1/chat/completions', CHAT, { headers: bearer(key.key) })).status).toBe(200);
    const revoked = await admin<{ revoked_at: number | null }>('DELETE', `/admin/api-keys/${key.id}`);
    expect(revoked.status).toBe(200);
    expect(revoked.body.revoked_at).toBeGreaterThan(0);
    expect((await send(url, '/v1/chat/completions', CHAT, { headers: bearer(key.key) })).status).toBe(401);
    const list = await admin<{ data: { id: string; revoked_at: number | null }[] }>('GET', '/admin/api-keys');
    expect(list.body.data.find((k) => k.id === key.id)?.revoked_at).toBe(revoked.body.revoked_at);
    expect((await admin('DELETE', `/admin/api-keys/${UNKNOWN_ID}`)).status).toBe(404);
  });

  it('refuses an expiry in the past and unknown scopes with 400', async () => {
    for (const body of [
      { name: 'x', expires_at: Math.floor(Date.now() / 1000) - 10 },
      { name: 'x', scopes: ['admin'] },
      { name: '' },
    ]) {
      const res = await admin<ErrorBody>('POST', '/admin/api-keys', body);
      expect(res.status).toBe(400);
      expect(res.body.error.type).toBe('invalid_request_error');
    }
  });

  it('never writes a client key, the admin password or an admin token to the log', async () => {
    const id = `auth-log-${Date.now()}`;
    await send(url, '/v1/chat/completions', CHAT, { headers: { ...bearer(chatKey.key), 'x-request-id': id } });
    await send(url, '/v1/chat/completions', CHAT, {
      headers: { ...bearer('wrong-key-c41d'), 'x-request-id': `${id}-wrong` },
    });
    const login = await fetch(`${url}/admin/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': `${id}-login` },
      body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
    });
    const { access_token: token } = (await login.json()) as { access_token: string };
    await fetch(`${url}/admin/api-keys`, { headers: { ...bearer(token), 'x-request-id': `${id}-admin` } });
    for (const rid of [id, `${id}-wrong`, `${id}-login`, `${id}-admin`]) {
      await waitForLogLine(stack.logFile, `end of ${rid}`, endLineOf(rid));
    }
    const log = readFileSync(stack.logFile, 'utf8');
    for (const secret of [...STATIC_KEYS, chatKey.key, configsKey.key, 'wrong-key-c41d', ADMIN_PASSWORD, token]) {
      expect(log).not.toContain(secret);
    }
    // The route's own fields are on the end line (the interceptor on Express, the lane itself on the fast path).
    const end = await waitForLogLine(stack.logFile, `end of ${id}`, endLineOf(id));
    expect(end).toMatchObject({ route: '/v1/chat/completions', handler: 'ChatController.chatCompletions' });
  });
});
