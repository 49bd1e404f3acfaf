import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import type { ErrorBody } from '../factories/api.js';
import { type RunningGateway, startGateway } from '../helpers/gateway.js';
import { post, type RawResponse, readRaw, send, sseData } from '../helpers/relay.js';
import { type Stack, startStack } from '../helpers/stack.js';

const nested = (depth: number): string => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);

describe('bounds on client input (e2e)', () => {
  let stack: Stack;
  let url: string;

  beforeAll(async () => {
    stack = await startStack({ env: { LOG_LEVEL: 'silent' } });
    url = stack.gateway.url;
  });

  afterAll(async () => {
    await stack?.close();
  });

  async function post(path: string, body: string, headers: Record<string, string> = {}): Promise<Response> {
    return fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
    });
  }

  const TOO_DEEP = {
    error: {
      message: 'The JSON body is nested deeper than the limit of 64 levels (JSON_MAX_DEPTH).',
      type: 'invalid_request_error',
      param: null,
      code: 'bad_request',
    },
  };

  it.each(['/v1/conversations', '/v1/llm-configs', '/v1/chat/completions'])(
    'answers a body nested 5,000 deep on %s (Express) with a 400 naming the limit',
    async (path) => {
      // Chunked: the fast lane leaves it to Express' body parser.
      const res = await fetch(`${url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: new Blob([nested(5_000)]).stream(),
        duplex: 'half',
      } as RequestInit);
      expect(res.status).toBe(400);
      expect((await res.json()) as ErrorBody).toEqual(TOO_DEEP);
    },
  );

  it('answers the same on the fast lane, and accepts 64 levels', async () => {
    const deep = await post('/v1/chat/completions', nested(65));
    expect(deep.status).toBe(400);
    expect(await deep.json()).toEqual(TOO_DEEP);

    const messages = [{ role: 'user', content: 'hi' }];
    // The body object is level 1: a vLLM extra nested 63 deep inside it makes 64.
    const withExtra = (depth: number): string => `{"messages":${JSON.stringify(messages)},"extra":${nested(depth)}}`;
    const ok = await post('/v1/chat/completions', withExtra(63));
    expect(ok.status).toBe(200);
    const over = await post('/v1/chat/completions', withExtra(64));
    expect(over.status).toBe(400);
  });
});

describe('bounds on what the upstream sends (e2e)', () => {
  /** A stand-in for vLLM that answers whatever the current test says. */
  let answer: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end();
  let upstream: Server;
  let gateway: RunningGateway;
  const messages = [{ role: 'user', content: 'hi' }];

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      req.resume();
      req.on('end', () => answer(req, res));
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const { port } = upstream.address() as AddressInfo;
    gateway = await startGateway({
      VLLM_BASE_URL: `http://127.0.0.1:${port}`,
      VLLM_MAX_EVENT_SIZE: '1kb',
      VLLM_ERROR_BODY_LIMIT: '4kb',
      VLLM_ERROR_MESSAGE_LIMIT: '100',
    });
  });

  afterAll(async () => {
    await gateway?.close();
    upstream?.closeAllConnections();
    await new Promise((resolve) => upstream?.close(resolve));
  });

  it('ends a stream with a bad_gateway error event and [DONE] when one event is over VLLM_MAX_EVENT_SIZE', async () => {
    answer = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"id":"c","choices":[{"index":0,"delta":{"content":"ok"}}]}\n\n');
      // Never a blank line: without the bound the gateway would buffer this for as long as it comes.
      res.write(`data: {"id":"c","pad":"${'x'.repeat(4096)}`);
    };
    const res = await post(gateway.url, '/v1/chat/completions', { messages, stream: true });
    expect(res.status).toBe(200);
    const data = sseData(res.body);
    expect(data.at(-1)).toBe('[DONE]');
    const error = JSON.parse(data.at(-2) ?? '{}') as ErrorBody;
    expect(error.error).toMatchObject({ code: 'bad_gateway' });
    expect(error.error.message).toContain('VLLM_MAX_EVENT_SIZE');
  });

  it('reads at most VLLM_ERROR_BODY_LIMIT of an error body and relays at most VLLM_ERROR_MESSAGE_LIMIT of it', async () => {
    let written = 0;
    answer = (_req, res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.write(`{"error":{"message":"${'m'.repeat(300)}`);
      // An endless body: the gateway must stop reading and answer anyway.
      const pump = (): void => {
        while (!res.destroyed && written < 10_000_000 && res.write('m'.repeat(16_384))) written += 16_384;
        if (!res.destroyed && written < 10_000_000) res.once('drain', pump);
      };
      res.on('close', () => (written = Math.max(written, 1)));
      pump();
    };
    const res = await post(gateway.url, '/v1/chat/completions', { messages });
    expect(res.status).toBe(400);
    const { error } = JSON.parse(res.body) as ErrorBody;
    expect(error.message.length).toBeLessThanOrEqual(101);
    expect(written).toBeLessThan(10_000_000);
  });

  it.each<[string, (res: ServerResponse) => void]>([
    ['an HTML page', (res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>proxy</html>')],
    ['an empty body', (res) => res.writeHead(200, { 'content-type': 'application/json' }).end()],
    ['a truncated body', (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"id":"c","cho')],
  ])('answers a 200 with %s as a 502, never as a success', async (_case, write) => {
    answer = (_req, res) => write(res);
    const res = await post(gateway.url, '/v1/chat/completions', { messages });
    expect(res.status).toBe(502);
    expect((JSON.parse(res.body) as ErrorBody).error).toMatchObject({ code: 'bad_gateway', type: 'server_error' });
  });
});

describe('stored message size (e2e)', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ env: { LOG_LEVEL: 'silent', MAX_STORED_MESSAGE_SIZE: '1kb' } });
  });

  afterAll(async () => {
    await stack?.close();
  });

  it('refuses a turn whose message is over MAX_STORED_MESSAGE_SIZE with a 400 naming it, and stores nothing', async () => {
    const { url } = stack.gateway;
    const created = (await (
      await fetch(`${url}/v1/conversations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ title: 'size' }),
      })
    ).json()) as { id: string };
    const turn = (content: string): Promise<RawResponse> =>
      post(url, '/v1/chat/completions', {
        conversation_id: created.id,
        messages: [
          { role: 'system', content: 'be brief' },
          { role: 'user', content },
        ],
      });
    const tooBig = await turn('é'.repeat(513));
    expect(tooBig.status).toBe(400);
    expect((JSON.parse(tooBig.body) as ErrorBody).error).toMatchObject({
      code: 'bad_request',
      param: 'messages[1].content',
      message: expect.stringContaining('MAX_STORED_MESSAGE_SIZE') as unknown,
    });
    const history = async (): Promise<unknown[]> =>
      ((await (await fetch(`${url}/v1/conversations/${created.id}`)).json()) as { messages: unknown[] }).messages;
    expect(await history()).toEqual([]);
    expect(stack.sim.counters().received).toBe(0);

    expect((await turn('x'.repeat(1024))).status).toBe(200);
    expect(await history()).toHaveLength(2);
  });
});

describe('Expect: 100-continue (e2e)', () => {
  const KEY = 'continue-client-key';
  const ADMIN_PASSWORD = 'admin-password-continue-e2e';
  const CHAT = JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] });
  let stack: Stack;
  let url: string;

  beforeAll(async () => {
    stack = await startStack({
      env: {
        LOG_LEVEL: 'silent',
        ENABLE_AUTH: 'true',
        API_KEY: KEY,
        ADMIN_PASSWORD,
        JWT_SECRET: 'e2e-jwt-secret-continue-0123456789abcdef',
      },
    });
    url = stack.gateway.url;
  });

  afterAll(async () => {
    await stack?.close();
  });

  /** Sends the head only, and the body only if the gateway says 100 Continue; returns everything it answered. */
  function expectContinue(authorization: string): Promise<string> {
    const { hostname, port } = new URL(url);
    return new Promise((resolve, reject) => {
      const socket = connect(Number(port), hostname);
      let received = '';
      let sent = false;
      socket.setEncoding('utf8');
      socket.on('data', (text: string) => {
        received += text;
        // The body, once; `Connection: close` makes the gateway close the socket after its final answer.
        if (received.startsWith('HTTP/1.1 100 Continue\r\n\r\n') && !sent) {
          sent = true;
          socket.write(CHAT);
        }
      });
      socket.on('close', () => resolve(received));
      socket.on('error', reject);
      socket.write(
        'POST /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n' +
          `Content-Length: ${Buffer.byteLength(CHAT)}\r\nAuthorization: ${authorization}\r\n` +
          'Expect: 100-continue\r\nConnection: close\r\n\r\n',
      );
    });
  }

  interface ContinueAnswer extends RawResponse {
    /** The 1xx answers before the final one: [100] when the gateway asked for the body, which is sent only then. */
    informational: number[];
  }

  /**
   * POSTs with `Expect: 100-continue` through node:http, which sends the head and waits; the body (with a
   * Content-Length, or `chunked`, which the fast lane leaves to Express) goes out only on the 'continue' event.
   */
  function withExpect(
    path: string,
    body: string,
    headers: Record<string, string> = {},
    chunked = false,
  ): Promise<ContinueAnswer> {
    const head: Record<string, string> = { 'content-type': 'application/json', expect: '100-continue', ...headers };
    if (!chunked) head['content-length'] = String(Buffer.byteLength(body));
    return new Promise((resolve, reject) => {
      const informational: number[] = [];
      const req = request(`${url}${path}`, { method: 'POST', headers: head, agent: false });
      req.on('information', (info) => informational.push(info.statusCode));
      req.on('continue', () => {
        if (chunked) req.write(body.slice(0, 10));
        req.end(chunked ? body.slice(10) : body);
      });
      req.on('response', (res) => {
        readRaw(res).then((raw) => {
          resolve({ ...raw, informational });
          // A refused request was never ended: its body was never asked for.
          req.destroy();
        }, reject);
      });
      req.on('error', reject);
      req.flushHeaders();
    });
  }

  const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

  it('refuses a bad key on the fast lane before the body is sent: no 100 Continue, a 401 at once', async () => {
    const answer = await expectContinue('Bearer wrong-key');
    expect(answer).toMatch(/^HTTP\/1.1 401 /);
    expect(answer).not.toContain('100 Continue');
  });

  it('says 100 Continue to a valid key on the fast lane, then serves the request', async () => {
    const answer = await expectContinue(`Bearer ${KEY}`);
    expect(answer).toMatch(/^HTTP\/1.1 100 Continue\r\n\r\nHTTP\/1.1 200 /);
  });

  it.each([
    ['POST /v1/conversations with a wrong key', '/v1/conversations', '{}', bearer('wrong-key'), false],
    ['POST /v1/conversations with no key', '/v1/conversations', '{}', {}, false],
    ['POST /admin/llm-configs with no admin token', '/admin/llm-configs', '{"name":"x"}', {}, false],
    ['POST /admin/llm-configs with a client key', '/admin/llm-configs', '{"name":"x"}', bearer(KEY), false],
    ['a chunked POST /v1/chat/completions with a wrong key', '/v1/chat/completions', CHAT, bearer('wrong-key'), true],
  ])(
    'refuses %s (Express) before the body is sent: no 100 Continue, the 401 the guard gives',
    async (_case, path, body, headers, chunked) => {
      const answer = await withExpect(path, body, headers, chunked);
      expect({ status: answer.status, informational: answer.informational }).toEqual({
        status: 401,
        informational: [],
      });
      expect(JSON.parse(answer.body) as ErrorBody).toEqual({
        error: {
          message: expect.any(String) as unknown,
          type: 'authentication_error',
          param: null,
          code: expect.anything() as unknown,
        },
      });
      expect(answer.headers['x-request-id']).toEqual(expect.any(String));
      expect(answer.headers['content-security-policy']).toEqual(expect.any(String));
      // The same refusal, word for word, as the guard's for a request that sent its body.
      const plain = await send(url, path, body, { chunked, headers });
      expect({ status: answer.status, body: answer.body }).toEqual({ status: plain.status, body: plain.body });
    },
  );

  it('says 100 Continue to a valid key or admin token on Express routes, then gives the normal answer', async () => {
    // A public route (the login) is told to go on at once.
    const login = await withExpect(
      '/admin/auth/login',
      JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
    );
    expect({ status: login.status, informational: login.informational }).toEqual({ status: 200, informational: [100] });
    const token = (JSON.parse(login.body) as { access_token: string }).access_token;

    const conversation = await withExpect('/v1/conversations', JSON.stringify({ title: 'asked first' }), bearer(KEY));
    expect({ status: conversation.status, informational: conversation.informational }).toEqual({
      status: 201,
      informational: [100],
    });
    expect(JSON.parse(conversation.body)).toMatchObject({ object: 'conversation', title: 'asked first' });

    const config = await withExpect(
      '/admin/llm-configs',
      JSON.stringify({ name: `continue-${Date.now()}` }),
      bearer(token),
    );
    expect({ status: config.status, informational: config.informational }).toEqual({
      status: 201,
      informational: [100],
    });

    const chat = await withExpect('/v1/chat/completions', CHAT, bearer(KEY), true);
    expect({ status: chat.status, informational: chat.informational }).toEqual({ status: 200, informational: [100] });
    expect(JSON.parse(chat.body)).toMatchObject({ object: 'chat.completion' });
  });

  it("admits a limited key's Expect request once: one rate-limit token, one concurrency slot", async () => {
    const login = await send(url, '/admin/auth/login', JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }));
    const token = (JSON.parse(login.body) as { access_token: string }).access_token;
    const made = await send(
      url,
      '/admin/api-keys',
      JSON.stringify({ name: 'continue', rate_limit_rpm: 2, max_concurrent: 1 }),
      {
        headers: bearer(token),
      },
    );
    const { key } = JSON.parse(made.body) as { key: string };
    // Admitted twice, the guard would find the key's one slot taken by the gate's own admission.
    const first = await withExpect('/v1/conversations', '{}', bearer(key));
    expect({ status: first.status, informational: first.informational }).toEqual({ status: 201, informational: [100] });
    // And it would have spent both of the minute's tokens.
    expect((await send(url, '/v1/conversations', '{}', { headers: bearer(key) })).status).toBe(201);
    expect((await send(url, '/v1/conversations', '{}', { headers: bearer(key) })).status).toBe(429);
  });

  it('lets a path no route serves go on to Express, which answers its 404', async () => {
    const answer = await withExpect('/v1/no-such-route', '{}', bearer('wrong-key'));
    expect({ status: answer.status, informational: answer.informational }).toEqual({
      status: 404,
      informational: [100],
    });
  });
});
