import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ErrorBody } from '../factories/api.js';
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
    const ok = await post('/v1/chat/completions', JSON.stringify({ messages, extra: JSON.parse(nested(63)) }));
    expect(ok.status).toBe(200);
    const over = await post('/v1/chat/completions', JSON.stringify({ messages, extra: JSON.parse(nested(64)) }));
    expect(over.status).toBe(400);
  });
});
