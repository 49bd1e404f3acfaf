import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hash } from 'argon2';
import { DataSource } from 'typeorm';
import { createApp } from '../../src/bootstrap.js';
import { loadConfig } from '../../src/config/load-config.js';
import { ChatMessage } from '../../src/conversations/chat-message.entity.js';
import { type ConversationBody, type ErrorBody, jsonApi, type JsonApi, type LlmConfigBody } from '../factories/api.js';
import { createConversation } from '../factories/conversations.js';
import { endLineOf, waitForLogLine } from '../helpers/json-log.js';
import { startGateway } from '../helpers/gateway.js';
import { type Stack, startStack } from '../helpers/stack.js';

const ADMIN_PASSWORD = 'admin-password-93ab-e2e';
const JWT_SECRET = 'admin-e2e-jwt-secret-0123456789-abcdef';
const UNKNOWN_ID = '00000000-0000-4000-8000-00000000dead';

interface Token {
  access_token: string;
  token_type: string;
  expires_in: number;
}

interface Page<T> {
  object: 'list';
  data: T[];
  has_more: boolean;
  next_cursor: string | null;
}

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A JWT made by hand, so each attack below differs from a good token in one thing only. */
function jwt(
  claims: Record<string, unknown>,
  { alg = 'HS256', secret = JWT_SECRET }: { alg?: string; secret?: string } = {},
): string {
  const head = `${b64({ alg, typ: 'JWT' })}.${b64(claims)}`;
  if (alg === 'none') return `${head}.`;
  const hash = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' }[alg] ?? 'sha256';
  return `${head}.${createHmac(hash, secret).update(head).digest('base64url')}`;
}

function goodClaims(): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return { sub: 'admin', iat: now, exp: now + 600, iss: 'llm-gateway', aud: 'llm-gateway-admin' };
}

function without(claims: Record<string, unknown>, key: string): Record<string, unknown> {
  const copy = { ...claims };
  delete copy[key];
  return copy;
}

describe('admin login and the admin API (e2e)', () => {
  let stack: Stack;
  let url: string;
  let anonymous: JsonApi;
  let admin: JsonApi;
  let db: DataSource;

  const login = (username: string, password: string) =>
    anonymous<Token & ErrorBody>('POST', '/admin/auth/login', { username, password });

  beforeAll(async () => {
    // Client authentication off: the admin routes are closed all the same.
    stack = await startStack({
      env: { ENABLE_AUTH: 'false', ADMIN_PASSWORD, JWT_SECRET, JWT_EXPIRES_IN: '15m' },
    });
    url = stack.gateway.url;
    db = stack.gateway.app.get(DataSource);
    anonymous = jsonApi(url);
    const res = await login('admin', ADMIN_PASSWORD);
    admin = jsonApi(url, { authorization: `Bearer ${res.body.access_token}` });
  });

  afterAll(async () => {
    await stack?.close();
  });

  describe('login', () => {
    it('answers the right username and password with a bearer token for /admin, and /me names its admin', async () => {
      const res = await login('admin', ADMIN_PASSWORD);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: 900 });
      const [header, payload] = res.body.access_token
        .split('.')
        .slice(0, 2)
        .map((part) => {
          return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
        });
      expect(header).toMatchObject({ alg: 'HS256' });
      expect(payload).toMatchObject({ sub: 'admin', iss: 'llm-gateway', aud: 'llm-gateway-admin' });
      expect(Number(payload?.['exp']) - Number(payload?.['iat'])).toBe(900);

      const me = await jsonApi(url, { authorization: `Bearer ${res.body.access_token}` })('GET', '/admin/auth/me');
      expect(me).toEqual({ status: 200, body: { username: 'admin' } });
    });

    it('answers a wrong password or username with 401 that does not say which, and a bad body with 400', async () => {
      for (const [username, password] of [
        ['admin', 'wrong-password'],
        ['root', ADMIN_PASSWORD],
      ] as const) {
        const res = await login(username, password);
        expect(res.status).toBe(401);
        expect(res.body.error).toEqual({
          message: 'Wrong username or password.',
          type: 'authentication_error',
          param: null,
          code: 'invalid_credentials',
        });
      }
      expect((await anonymous('POST', '/admin/auth/login', { username: 'admin' })).status).toBe(400);
    });
  });

  describe('admin tokens', () => {
    const me = (token: string): Promise<number> =>
      fetch(`${url}/admin/auth/me`, { headers: { authorization: `Bearer ${token}` } }).then((res) => res.status);

    it('accepts a token with the right claims signed HS256 with the secret', async () => {
      // The control for the attacks below: the hand-made token itself is good.
      expect(await me(jwt(goodClaims()))).toBe(200);
    });

    it.each([
      ['alg none', () => jwt(goodClaims(), { alg: 'none' })],
      ['another algorithm (HS512, same secret)', () => jwt(goodClaims(), { alg: 'HS512' })],
      ['RS256 in the header, HMAC with the secret', () => jwt(goodClaims(), { alg: 'RS256' })],
      ['a bad signature', () => jwt(goodClaims(), { secret: 'some-other-secret-0123456789-abcdefgh' })],
      ['a changed payload', () => `${jwt(goodClaims()).split('.')[0]}.${b64({ ...goodClaims(), sub: 'x' })}.sig`],
      ['no exp', () => jwt(without(goodClaims(), 'exp'))],
      ['a past exp', () => jwt({ ...goodClaims(), exp: Math.floor(Date.now() / 1000) - 5 })],
      ['no iat', () => jwt(without(goodClaims(), 'iat'))],
      ['another issuer', () => jwt({ ...goodClaims(), iss: 'someone-else' })],
      ['another audience', () => jwt({ ...goodClaims(), aud: 'llm-gateway-client' })],
      ['another subject', () => jwt({ ...goodClaims(), sub: 'root' })],
      ['garbage', () => 'not-a-jwt'],
      ['three garbage parts', () => 'a.b.c'],
    ])('refuses %s with 401', async (_what, make) => {
      const res = await fetch(`${url}/admin/api-keys`, { headers: { authorization: `Bearer ${make()}` } });
      expect(res.status).toBe(401);
      expect(((await res.json()) as ErrorBody).error).toMatchObject({
        type: 'authentication_error',
        code: 'invalid_token',
      });
    });

    it('refuses a request without a token on every admin API route', async () => {
      for (const [method, path] of [
        ['GET', '/admin/auth/me'],
        ['GET', '/admin/conversations'],
        ['GET', `/admin/conversations/${UNKNOWN_ID}`],
        ['DELETE', `/admin/conversations/${UNKNOWN_ID}`],
        ['GET', '/admin/llm-configs'],
        ['POST', '/admin/llm-configs'],
        ['PATCH', `/admin/llm-configs/${UNKNOWN_ID}`],
        ['DELETE', `/admin/llm-configs/${UNKNOWN_ID}`],
        ['GET', '/admin/api-keys'],
        ['POST', '/admin/api-keys'],
        ['DELETE', `/admin/api-keys/${UNKNOWN_ID}`],
      ] as const) {
        expect({
          method,
          path,
          status: (await anonymous(method, path, method === 'POST' || method === 'PATCH' ? {} : undefined)).status,
        }).toEqual({
          method,
          path,
          status: 401,
        });
      }
    });
  });

  describe('conversations', () => {
    it('lists every owner’s conversations in the /v1 list shape, and searches titles and message text', async () => {
      const tag = randomUUID().slice(0, 8);
      const titled = await createConversation(db, { title: `Refund ${tag} order`, owner: 'key-a' });
      const talked = await createConversation(db, { title: 'something else', owner: 'key-b' });
      await db.getRepository(ChatMessage).save({
        conversationId: talked.id,
        seq: 1,
        role: 'user',
        content: `my parcel ${tag.toUpperCase()} is late`,
        status: 'complete',
      });
      const wildcards = await createConversation(db, { title: `100%_${tag}` });

      const found = await admin<Page<ConversationBody>>('GET', `/admin/conversations?search=${tag}`);
      expect(found.status).toBe(200);
      expect(found.body).toEqual({ object: 'list', data: expect.any(Array), has_more: false, next_cursor: null });
      expect(found.body.data.map((c) => c.id).sort()).toEqual([titled.id, talked.id, wildcards.id].sort());
      // LIKE's wildcards in the search are plain characters.
      const literal = await admin<Page<ConversationBody>>(
        'GET',
        `/admin/conversations?search=${encodeURIComponent(`%_${tag}`)}`,
      );
      expect(literal.body.data.map((c) => c.id)).toEqual([wildcards.id]);

      const first = await admin<Page<ConversationBody>>('GET', `/admin/conversations?search=${tag}&limit=2`);
      expect(first.body).toMatchObject({ has_more: true, next_cursor: expect.any(String) });
      const rest = await admin<Page<ConversationBody>>(
        'GET',
        `/admin/conversations?search=${tag}&limit=2&after=${first.body.next_cursor ?? ''}`,
      );
      expect(rest.body).toMatchObject({ has_more: false });
      expect([...first.body.data, ...rest.body.data]).toHaveLength(3);
    });

    it('opens a conversation with its messages and statuses, and deletes it', async () => {
      const conversation = await createConversation(db, { owner: 'key-c' });
      await db.getRepository(ChatMessage).save([
        { conversationId: conversation.id, seq: 1, role: 'user', content: 'hello', status: 'complete' },
        { conversationId: conversation.id, seq: 2, role: 'assistant', content: 'hi', status: 'aborted' },
      ]);
      const res = await admin<ConversationBody & { messages: { content: string; status: string }[] }>(
        'GET',
        `/admin/conversations/${conversation.id}`,
      );
      expect(res.status).toBe(200);
      expect(res.body.messages.map((m) => [m.content, m.status])).toEqual([
        ['hello', 'complete'],
        ['hi', 'aborted'],
      ]);
      expect((await admin('DELETE', `/admin/conversations/${conversation.id}`)).status).toBe(204);
      expect((await admin('GET', `/admin/conversations/${conversation.id}`)).status).toBe(404);
      expect((await admin('DELETE', `/admin/conversations/${conversation.id}`)).status).toBe(404);
    });
  });

  it('creates, reads, changes and deletes LLM configs', async () => {
    const name = `admin-config-${randomUUID()}`;
    const created = await admin<LlmConfigBody>('POST', '/admin/llm-configs', { name, temperature: 0.3 });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ object: 'llm_config', name, temperature: 0.3 });
    const id = created.body.id;
    expect((await admin<{ data: LlmConfigBody[] }>('GET', '/admin/llm-configs')).body.data.map((c) => c.id)).toContain(
      id,
    );
    expect((await admin<LlmConfigBody>('PATCH', `/admin/llm-configs/${id}`, { top_p: 0.5 })).body.top_p).toBe(0.5);
    expect((await admin<LlmConfigBody>('GET', `/admin/llm-configs/${id}`)).body.top_p).toBe(0.5);
    expect((await admin('DELETE', `/admin/llm-configs/${id}`)).status).toBe(204);
    expect((await admin('GET', `/admin/llm-configs/${id}`)).status).toBe(404);
  });

  it('never writes the password or a token to the log', async () => {
    const id = `admin-log-${Date.now()}`;
    const res = await fetch(`${url}/admin/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': id },
      body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
    });
    const { access_token: token } = (await res.json()) as Token;
    await fetch(`${url}/admin/auth/me`, { headers: { authorization: `Bearer ${token}`, 'x-request-id': `${id}-me` } });
    await waitForLogLine(stack.logFile, 'end of the /me call', endLineOf(`${id}-me`));
    const log = readFileSync(stack.logFile, 'utf8');
    expect(log).not.toContain(ADMIN_PASSWORD);
    expect(log).not.toContain(token);
    expect(log).not.toContain(JWT_SECRET);
  });

  it('logs in against ADMIN_PASSWORD_HASH, and refuses to start with a hash argon2 cannot read', async () => {
    const env = { VLLM_BASE_URL: 'http://127.0.0.1:9', JWT_SECRET, ADMIN_USERNAME: 'ops' };
    const hashed = await startGateway({ ...env, ADMIN_PASSWORD_HASH: await hash('hashed-secret-e2e') });
    try {
      const call = jsonApi(hashed.url);
      const ok = await call<Token>('POST', '/admin/auth/login', { username: 'ops', password: 'hashed-secret-e2e' });
      expect(ok.status).toBe(200);
      expect((await call('POST', '/admin/auth/login', { username: 'ops', password: 'hashed-secret' })).status).toBe(
        401,
      );
      // A token signed for another ADMIN_USERNAME (the main gateway's `admin`) is not this gateway's admin.
      expect(
        (await jsonApi(hashed.url, { authorization: `Bearer ${jwt(goodClaims())}` })('GET', '/admin/auth/me')).status,
      ).toBe(401);
    } finally {
      await hashed.close();
    }

    const app = await createApp(
      loadConfig({ ...process.env, ...env, LOG_LEVEL: 'silent', ADMIN_PASSWORD_HASH: '$argon2id$v=19$not-a-hash' }),
    );
    try {
      await expect(app.init()).rejects.toThrow('ADMIN_PASSWORD_HASH is not a valid argon2 hash');
    } finally {
      await app.close();
    }
  });

  // Last: it locks the admin username out for this address for the rest of the window.
  it('limits failed logins per address and username: 429 with Retry-After, even with the right password', async () => {
    for (let i = 0; i < 5; i++) expect((await login('admin', `guess-${i}`)).status).toBe(401);
    for (const password of ['guess-5', ADMIN_PASSWORD]) {
      const res = await fetch(`${url}/admin/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'admin', password }),
      });
      expect(res.status).toBe(429);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(((await res.json()) as ErrorBody).error).toMatchObject({
        type: 'rate_limit_error',
        code: 'rate_limit_exceeded',
      });
    }
    // Another username from the same address is counted apart; tokens already issued keep working.
    expect((await login('operator', 'guess')).status).toBe(401);
    expect((await admin('GET', '/admin/auth/me')).status).toBe(200);
  });
});
