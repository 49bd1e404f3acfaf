import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { request } from 'node:http';
import { DataSource } from 'typeorm';
import { mulberry32 } from '../../tools/vllm-sim/generation.js';
import { type Stack, startStack } from '../helpers/stack.js';

/**
 * The bad-input corpus (issue 12.7): a seeded, deterministic stream of hostile requests against every route the app
 * serves, public and authenticated. Whatever comes in, the gateway answers below 500, in OpenAI's error shape, stays
 * up, and the database changes only by what the few valid requests among them did.
 */

const SEED = 0x12_07;
const REQUESTS_PER_ROUTE = 48;
const UNKNOWN_ROUTE_REQUESTS = 120;
const CONCURRENCY = 8;
const ANSWER_TIMEOUT_MS = 5_000;
const KEY = 'bad-input-client-key';
const ADMIN_PASSWORD = 'bad-input-admin-password';
const BODY_LIMIT_BYTES = 256 * 1024;
const MAX_MESSAGES = 8;
const TABLES = ['conversations', 'chat_messages', 'llm_configs', 'api_keys'] as const;

interface Route {
  method: string;
  /** Express' template, e.g. `/v1/conversations/:id`. */
  path: string;
}

interface ExpressLayer {
  route?: { path: string; methods: Record<string, boolean> };
}

/** Every route Express serves (Nest's handlers and Swagger's), read from the running app as the route walk does. */
function routesOf(app: NestExpressApplication): Route[] {
  const express = app.getHttpAdapter().getInstance() as { router: { stack: ExpressLayer[] } };
  return express.router.stack.flatMap((layer) =>
    layer.route === undefined
      ? []
      : Object.keys(layer.route.methods)
          .filter((method) => method !== '_all')
          .map((method) => ({ method: method.toUpperCase(), path: layer.route?.path ?? '' })),
  );
}

interface Probe {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** What the probe is, for the failure message. */
  what: string;
}

interface Answer {
  status: number;
  contentType: string | undefined;
  body: string;
}

/**
 * One raw request (node:http, so paths and bytes go out exactly as written). Never rejects: a connection error or a
 * missing answer comes back as status 0 and is reported as a finding.
 */
function send(baseUrl: string, probe: Probe): Promise<Answer> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve) => {
    let settled = false;
    const settle = (answer: Answer): void => {
      if (settled) return;
      settled = true;
      resolve(answer);
    };
    const req = request(
      { host: hostname, port, method: probe.method, path: probe.path, headers: probe.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        const answer = (): Answer => ({
          status: res.statusCode ?? 0,
          contentType: res.headers['content-type'],
          body: Buffer.concat(chunks).toString('utf8'),
        });
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => settle(answer()));
        // The server may close a connection whose body it refused (413) before the client finished sending it.
        res.on('error', () => settle(answer()));
      },
    );
    req.on('error', (err) => settle({ status: 0, contentType: undefined, body: `connection error: ${err.message}` }));
    // A request left unanswered is a finding, not a hung test.
    req.setTimeout(ANSWER_TIMEOUT_MS, () => {
      settle({ status: 0, contentType: undefined, body: `no answer within ${ANSWER_TIMEOUT_MS} ms` });
      req.destroy();
    });
    req.end(probe.body);
  });
}

function isOpenAiError(text: string): boolean {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return false;
  }
  if (typeof parsed !== 'object' || parsed === null) return false;
  const error = (parsed as { error?: unknown }).error;
  if (typeof error !== 'object' || error === null) return false;
  const { message, type, param, code } = error as Record<string, unknown>;
  return (
    typeof message === 'string' &&
    typeof type === 'string' &&
    (param === null || typeof param === 'string') &&
    (code === null || typeof code === 'string' || typeof code === 'number')
  );
}

const nested = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);
const nestedObject = (depth: number): string => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);

describe('bad-input corpus (e2e)', () => {
  let stack: Stack;
  let db: DataSource;
  let adminToken: string;
  /** Rows made before the corpus, which it may read and try to change, but must leave as they were. */
  let existing: { conversation: string; config: string };
  const before = new Map<string, number>();
  const checksums = new Map<string, string>();
  const rowsBefore = { conversation: '', config: '' };

  const tableChecksum = async (table: string): Promise<string> => {
    const [row] = await db.query<{ sum: string }[]>(
      `SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS sum FROM ${table} t`,
    );
    return row?.sum ?? '';
  };
  /** The row as text ('' when it is gone): any change to any column shows. */
  const rowChecksum = async (table: string, id: string): Promise<string> => {
    const [row] = await db.query<{ sum: string }[]>(`SELECT md5(t::text) AS sum FROM ${table} t WHERE id = $1`, [id]);
    return row?.sum ?? '';
  };
  const count = async (table: string): Promise<number> => {
    const [row] = await db.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM ${table}`);
    return row?.n ?? 0;
  };

  beforeAll(async () => {
    stack = await startStack({
      env: {
        LOG_LEVEL: 'silent',
        ENABLE_AUTH: 'true',
        API_KEY: KEY,
        ADMIN_PASSWORD,
        JWT_SECRET: 'bad-input-jwt-secret-of-at-least-32-characters',
        BODY_LIMIT: `${BODY_LIMIT_BYTES}b`,
        MAX_MESSAGES: String(MAX_MESSAGES),
      },
    });
    db = stack.gateway.app.get(DataSource);
    const call = async (path: string, body: unknown, auth?: string): Promise<Record<string, unknown>> => {
      const res = await fetch(`${stack.gateway.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(auth === undefined ? {} : { authorization: auth }) },
        body: JSON.stringify(body),
      });
      expect(res.status).toBeLessThan(300);
      return (await res.json()) as Record<string, unknown>;
    };
    adminToken = String(
      (await call('/admin/auth/login', { username: 'admin', password: ADMIN_PASSWORD })).access_token,
    );
    const config = await call(
      '/v1/llm-configs',
      { name: `corpus-existing-${Date.now()}`, temperature: 0.5 },
      `Bearer ${KEY}`,
    );
    const conversation = await call('/v1/conversations', { title: 'corpus-existing' }, `Bearer ${KEY}`);
    existing = { conversation: String(conversation.id), config: String(config.id) };
    rowsBefore.conversation = await rowChecksum('conversations', existing.conversation);
    rowsBefore.config = await rowChecksum('llm_configs', existing.config);
    for (const table of TABLES) {
      before.set(table, await count(table));
      checksums.set(table, await tableChecksum(table));
    }
  });

  afterAll(async () => {
    await stack?.close();
  });

  it('answers every generated request below 500, in OpenAI’s error shape, and changes only what valid ones did', async () => {
    const random = mulberry32(SEED);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    // HEAD answers have no body to check; CONNECT is a proxy tunnel request, which node never routes to Express.
    // A catch-all (`{/*splat}`, every WebDAV verb included) is exercised by the unknown routes below.
    const routes = routesOf(stack.gateway.app).filter(
      (r) => r.method !== 'HEAD' && r.method !== 'CONNECT' && !r.path.includes('*'),
    );
    expect(routes.length).toBeGreaterThan(20);

    const randomUuid = (): string =>
      'xxxxxxxx-xxxx-4xxx-8xxx-xxxxxxxxxxxx'.replace(/x/g, () => Math.floor(random() * 16).toString(16));
    // Never an existing id with DELETE: a valid delete is not what this corpus is about.
    const ids = (method: string): string[] => [
      randomUuid(),
      'not-a-uuid',
      '..%2F..%2Fetc%2Fpasswd',
      '%2e%2e%2f%2e%2e%2f',
      "1'%20OR%20'1'%3D'1",
      '1%3BDROP%20TABLE%20conversations%3B--',
      '%00',
      'a'.repeat(5_000),
      '-1',
      '9'.repeat(40),
      '%E2%80%AE%F0%9F%92%A5',
      '%ZZ',
      ...(method === 'DELETE' ? [] : [existing.conversation, existing.config]),
    ];
    const queries = [
      '',
      '?limit=-1',
      '?limit=0',
      '?limit=99999999999999999999',
      '?limit=1e309',
      '?limit=abc',
      '?limit=1&limit=2',
      '?after=garbage',
      `?after=${'z'.repeat(4_000)}`,
      "?search='%20OR%201%3D1--",
      '?search=%25%25%25_',
      '?search[$ne]=1',
      '?days=-5&by=nonsense',
      '?days=100000000&by=model',
      '?__proto__[x]=1',
      '?limit=%00',
    ];
    const huge = 'x'.repeat(BODY_LIMIT_BYTES / 2);
    const jsonBodies: (string | Buffer)[] = [
      '{"title":',
      '{"a":1,}',
      '[]',
      '"just a string"',
      '12345',
      'null',
      '{"title":123,"metadata":"x"}',
      '{"name":{},"temperature":"hot","max_tokens":-1,"top_p":1e309}',
      '{"messages":"not an array"}',
      '{"messages":[1,2,3]}',
      `{"messages":${JSON.stringify(Array.from({ length: MAX_MESSAGES + 1 }, () => ({ role: 'user', content: 'x' })))}}`,
      `{"messages":{"role":"user"},"conversation_id":"${existing.conversation}"}`,
      `{"messages":"x","llm_config_id":"${existing.config}"}`,
      '{"username":["admin"],"password":{"$gt":""}}',
      '{"name":"k","scopes":["root"],"rate_limit_rpm":-3,"max_concurrent":"many"}',
      `{"title":"${huge}"}`,
      `{"title":"${huge}${huge}x"}`,
      nested(5_000),
      nestedObject(5_000),
      `{"title":"t","metadata":${nestedObject(5_000)}}`,
      `{"metadata":${nested(100)}}`,
      '{"__proto__":{"admin":true},"constructor":{"prototype":{"x":1}}}',
      '{"title":"nul \\u0000 byte"}',
      Buffer.concat([
        Buffer.from('{"title":"'),
        Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80]),
        Buffer.from('"}'),
      ]),
      Buffer.from([0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf, 0x7b, 0x7d]),
    ];
    const contentTypes = [
      'application/json',
      'application/json; charset=utf-16',
      'application/json; charset=latin1',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/xml',
      '',
    ];
    const auths = (): (string | undefined)[] => [
      undefined,
      `Bearer ${KEY}`,
      `Bearer ${adminToken}`,
      'Bearer sk-gw-not-a-real-key',
      `Bearer ${adminToken.slice(0, -3)}abc`,
      'Basic YWRtaW46YWRtaW4=',
      'Bearer',
    ];

    const probes: Probe[] = [];
    for (const route of routes) {
      for (let i = 0; i < REQUESTS_PER_ROUTE; i++) {
        const path = route.path.replace(/:[a-zA-Z]+/g, () => pick(ids(route.method))) + pick(queries);
        const headers: Record<string, string> = {};
        const auth = pick(auths());
        if (auth !== undefined) headers['authorization'] = auth;
        let body: Buffer | undefined;
        if (route.method !== 'GET' || random() < 0.2) {
          const raw = pick(jsonBodies);
          body = typeof raw === 'string' ? Buffer.from(raw) : raw;
          const type = pick(contentTypes);
          if (type !== '') headers['content-type'] = type;
          headers['content-length'] = String(body.length);
        }
        probes.push({ method: route.method, path, headers, body, what: `${route.method} ${route.path}` });
      }
    }
    const unknownPaths = [
      '/v1/nope',
      '/v2/chat/completions',
      '/admin/../../etc/passwd',
      '/%2e%2e/%2e%2e/etc/passwd',
      '//v1//conversations',
      '/v1/conversations/../llm-configs',
      '/v1/chat/completions/extra',
      '/docs/../../package.json',
      '/admin/ui/../../../package.json',
      '/playground/ui/%2e%2e%2fpackage.json',
      `/${'a/'.repeat(500)}`,
      '/%ZZ',
      "/v1/conversations'%20OR%201=1--",
    ];
    for (let i = 0; i < UNKNOWN_ROUTE_REQUESTS; i++) {
      const method = pick(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'PROPFIND', 'QUERY']);
      const raw = pick(jsonBodies);
      const body = typeof raw === 'string' ? Buffer.from(raw) : raw;
      probes.push({
        method,
        path: pick(unknownPaths) + pick(queries),
        headers: { 'content-type': pick(contentTypes) || 'application/json', 'content-length': String(body.length) },
        body,
        what: `${method} (unknown route)`,
      });
    }
    expect(probes.length).toBeGreaterThanOrEqual(1_000);

    const failures: string[] = [];
    const created = { conversations: 0, llm_configs: 0, api_keys: 0 };
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < probes.length) {
        const probe = probes[next++] as Probe;
        const answer = await send(stack.gateway.url, probe);
        const where = `${probe.what} as ${probe.method} ${probe.path.slice(0, 120)} → ${answer.status}`;
        if (answer.status >= 500 || answer.status === 0) failures.push(`${where}: ${answer.body.slice(0, 200)}`);
        else if (answer.status >= 400 && probe.method !== 'OPTIONS' && !isOpenAiError(answer.body)) {
          failures.push(`${where}: not an OpenAI error body: ${answer.body.slice(0, 200)}`);
        } else if (answer.status === 201 && probe.method === 'POST') {
          // The valid requests among the corpus: the rows they made are accounted for below.
          if (/^\/v1\/conversations(\?|$)/.test(probe.path)) created.conversations++;
          else if (/^\/(v1|admin)\/llm-configs(\?|$)/.test(probe.path)) created.llm_configs++;
          else if (/^\/admin\/api-keys(\?|$)/.test(probe.path)) created.api_keys++;
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));

    expect(failures).toEqual([]);
    // Still serving.
    expect((await fetch(`${stack.gateway.url}/health`)).status).toBe(200);

    // Only valid creations added rows; nothing that was there before changed.
    for (const table of ['conversations', 'llm_configs', 'api_keys'] as const) {
      expect({ table, rows: await count(table) }).toEqual({ table, rows: (before.get(table) ?? 0) + created[table] });
    }
    expect(await count('chat_messages')).toBe(before.get('chat_messages'));
    expect(await rowChecksum('conversations', existing.conversation)).toBe(rowsBefore.conversation);
    expect(await rowChecksum('llm_configs', existing.config)).toBe(rowsBefore.config);
    expect(await tableChecksum('chat_messages')).toBe(checksums.get('chat_messages'));
  }, 120_000);
});
