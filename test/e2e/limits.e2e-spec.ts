import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import type { ErrorBody } from '../factories/api.js';
import { type RunningGateway, startGateway } from '../helpers/gateway.js';
import { post, type RawResponse, sseData } from '../helpers/relay.js';
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
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ env: { LOG_LEVEL: 'silent', ENABLE_AUTH: 'true', API_KEY: KEY } });
  });

  afterAll(async () => {
    await stack?.close();
  });

  /** Sends the head only, and the body only if the gateway says 100 Continue; returns everything it answered. */
  function expectContinue(authorization: string): Promise<string> {
    const body = JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] });
    const { hostname, port } = new URL(stack.gateway.url);
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
          socket.write(body);
        }
      });
      socket.on('close', () => resolve(received));
      socket.on('error', reject);
      socket.write(
        'POST /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n' +
          `Content-Length: ${Buffer.byteLength(body)}\r\nAuthorization: ${authorization}\r\n` +
          'Expect: 100-continue\r\nConnection: close\r\n\r\n',
      );
    });
  }

  it('refuses a bad key before the body is sent: no 100 Continue, a 401 at once', async () => {
    const answer = await expectContinue('Bearer wrong-key');
    expect(answer).toMatch(/^HTTP\/1.1 401 /);
    expect(answer).not.toContain('100 Continue');
  });

  it('says 100 Continue to a valid key, then serves the request', async () => {
    const answer = await expectContinue(`Bearer ${KEY}`);
    expect(answer).toMatch(/^HTTP\/1.1 100 Continue\r\n\r\nHTTP\/1.1 200 /);
  });
});
