import { afterAll, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { request } from 'node:http';
import { gzipSync } from 'node:zlib';
import { ChatFastLane } from '../../src/chat/chat-fast-lane.js';
import type { Simulator } from '../../tools/vllm-sim/simulator.js';
import type { RunningGateway } from '../helpers/gateway.js';
import { type LogLine, readLogLines, waitForLogLine } from '../helpers/json-log.js';
import { countQueries } from '../helpers/query-count.js';
import { send, withoutCreated, type RawResponse } from '../helpers/relay.js';
import { type Stack, startStack } from '../helpers/stack.js';

/**
 * The OpenAI routes are served ahead of Express when the body is plain JSON with a Content-Length (the fast lane),
 * and by Express' body parser and Nest's route otherwise (chunked, compressed, other media types). A client must not
 * be able to tell which path answered: these tests send the same request both ways and compare the answers.
 */

const LIMIT = 2048;

/** What a client can observe of an answer, minus what legitimately differs between two runs. */
function observable(res: RawResponse): { status: number; contentType: string | undefined; body: string } {
  return { status: res.status, contentType: res.headers['content-type'], body: withoutCreated(res.body) };
}

describe('OpenAI routes with and without the fast lane (e2e)', () => {
  let stack: Stack;
  let sim: Simulator;
  let gateway: RunningGateway;

  beforeAll(async () => {
    stack = await startStack({ env: { BODY_LIMIT: `${LIMIT}b` } });
    ({ sim, gateway } = stack);
  });

  afterAll(async () => {
    await stack?.close();
  });

  beforeEach(() => {
    sim.resetStats();
  });

  const chat = (extra: Record<string, unknown> = {}): string =>
    JSON.stringify({ model: 'sim-model', messages: [{ role: 'user', content: 'héllo 漢字 🎉' }], ...extra });

  /** A chat body of exactly `bytes` bytes (UTF-8), padded in a field vLLM accepts. */
  const sized = (bytes: number): string => chat({ user: 'x'.repeat(bytes - Buffer.byteLength(chat({ user: '' }))) });

  /** [what, path, body, whether the fast lane takes it when sent with a Content-Length] */
  const cases: [string, string, string, boolean][] = [
    ['a chat completion', '/v1/chat/completions', chat(), true],
    ['a streamed chat completion', '/v1/chat/completions', chat({ stream: true }), true],
    ['a text completion', '/v1/completions', JSON.stringify({ model: 'sim-model', prompt: 'once upon a time' }), true],
    ['an embedding', '/v1/embeddings', JSON.stringify({ model: 'sim-model', input: 'embed me' }), true],
    ['a query string on the route', '/v1/chat/completions?trace=1', chat(), true],
    ['malformed JSON', '/v1/chat/completions', '{"model": "sim-model", "messages": [', true],
    ['a JSON string at the top level', '/v1/chat/completions', '"hello"', true],
    ['a JSON array at the top level', '/v1/chat/completions', '[1, 2]', true],
    ['an empty body', '/v1/chat/completions', '', true],
    ['a body that misses messages', '/v1/chat/completions', JSON.stringify({ model: 'sim-model' }), true],
    ['a UTF-8 byte order mark', '/v1/chat/completions', `\uFEFF${chat()}`, true],
    ['leading whitespace', '/v1/chat/completions', ` \n\t${chat()}`, true],
    ['a body of exactly BODY_LIMIT bytes', '/v1/chat/completions', sized(LIMIT), true],
    ['a body one byte over BODY_LIMIT', '/v1/chat/completions', sized(LIMIT + 1), false],
  ];

  it.each(cases)('%s: the same answer with a Content-Length and chunked', async (_what, path, body, laneTakes) => {
    const lane = gateway.app.get(ChatFastLane);
    const taken: boolean[] = [];
    const take = lane.serveIfOwn.bind(lane);
    const spy = jest.spyOn(lane, 'serveIfOwn').mockImplementation((...args) => {
      const result = take(...args);
      taken.push(result);
      return result;
    });
    try {
      // The same request id on both sides: vLLM's completion id is derived from it.
      const id = `lane-${Math.random().toString(36).slice(2)}`;
      const withLength = await send(gateway.url, path, body, { headers: { 'x-request-id': id } });
      const chunked = await send(gateway.url, path, body, { chunked: true, headers: { 'x-request-id': id } });
      expect(observable(withLength)).toEqual(observable(chunked));
      expect(withLength.headers['x-request-id']).toBe(id);
      // The comparison means something only if the two requests took different paths.
      expect(taken).toEqual([laneTakes, false]);
    } finally {
      spy.mockRestore();
    }
  });

  it('draws BODY_LIMIT at the same byte as the body parser', async () => {
    expect(Buffer.byteLength(sized(LIMIT))).toBe(LIMIT);
    expect((await send(gateway.url, '/v1/chat/completions', sized(LIMIT))).status).toBe(200);

    const over = await send(gateway.url, '/v1/chat/completions', sized(LIMIT + 1));
    expect(over.status).toBe(413);
    expect(JSON.parse(over.body)).toEqual({
      error: expect.objectContaining({ code: 'payload_too_large', type: 'invalid_request_error' }),
    });
  });

  it('relays a plain chat completion once to vLLM, its UTF-8 text intact, with no database query', async () => {
    const { result: res, queries } = await countQueries(gateway, () =>
      send(gateway.url, '/v1/chat/completions', chat()),
    );
    expect(queries).toBe(0);
    expect(res.status).toBe(200);
    const body = JSON.parse(res.body) as { choices: { message: { content: string } }[] };
    expect(body.choices[0]?.message.content).toBe('héllo 漢字 🎉');
    expect(sim.counters().received).toBe(1);
  });

  it("forwards a plain request's own bytes to vLLM, and re-serialises one whose body the gateway changes", async () => {
    // Spacing and a number form (1.0) that JSON.stringify would not reproduce: only the client's bytes have this length.
    const asSent =
      '{ "model" : "sim-model",\n  "temperature": 1.0,\n  "messages": [ {"role": "user", "content": "hi"} ] }';
    expect((await send(gateway.url, '/v1/chat/completions', asSent)).status).toBe(200);
    const [forwarded] = sim.received().filter((r) => r.path === '/v1/chat/completions');
    expect(forwarded?.headers['content-length']).toBe(String(Buffer.byteLength(asSent)));
    expect(forwarded?.body).toEqual(JSON.parse(asSent));

    sim.resetStats();
    // conversation_id is the gateway's own field: null means "none", and it must not reach vLLM.
    const withExtension = asSent.replace('"model"', '"conversation_id": null, "model"');
    expect((await send(gateway.url, '/v1/chat/completions', withExtension)).status).toBe(200);
    const [rewritten] = sim.received().filter((r) => r.path === '/v1/chat/completions');
    expect(rewritten?.body).toEqual(JSON.parse(asSent));
    expect(rewritten?.headers['content-length']).toBe(String(Buffer.byteLength(JSON.stringify(JSON.parse(asSent)))));
  });

  it('accepts a gzip-compressed body, which only the body parser inflates', async () => {
    const plain = await send(gateway.url, '/v1/chat/completions', chat(), { headers: { 'x-request-id': 'gz-1' } });
    const gzipped = await send(gateway.url, '/v1/chat/completions', gzipSync(chat()), {
      headers: { 'content-encoding': 'gzip', 'x-request-id': 'gz-1' },
    });
    expect(observable(gzipped)).toEqual(observable(plain));
    expect(gzipped.status).toBe(200);
  });

  it('sends nothing upstream for a client that hangs up before its body arrived, and logs the request aborted', async () => {
    const id = `lane-abort-${Date.now()}`;
    const req = request(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': '500', 'x-request-id': id },
    });
    req.on('error', () => undefined);
    req.write('{"model": "sim-model", "messages": [');
    await waitForLogLine(
      stack.logFile,
      `starting request ${id}`,
      (l) => l.request_id === id && l.msg === 'request started',
    );
    req.destroy();
    await waitForLogLine(
      stack.logFile,
      `ending request ${id}`,
      (l) => l.request_id === id && l.msg === 'request aborted',
    );
    expect(sim.counters().received).toBe(0);
  });
});

describe('logging context of a fast-lane request (e2e)', () => {
  const dead = 'http://127.0.0.1:9';
  let stack: Stack;

  beforeAll(async () => {
    // A first upstream that refuses connections: after three failures a request ejects it, and VllmService logs that
    // inside the request that saw the third failure (the request itself is retried on the simulator).
    stack = await startStack({ upstreams: (simulatorUrl) => `${dead},${simulatorUrl}` });
  });

  afterAll(async () => {
    await stack?.close();
  });

  it('writes the request id on the lines services log while serving it', async () => {
    const body = JSON.stringify({ model: 'sim-model', messages: [{ role: 'user', content: 'hi' }] });
    const isEjection = (line: LogLine): boolean => line.msg.includes(`${dead} ejected`);
    const ids: string[] = [];
    for (let i = 0; i < 30 && !readLogLines(stack.logFile).some(isEjection); i++) {
      const id = `lane-eject-${i}`;
      ids.push(id);
      const res = await send(stack.gateway.url, '/v1/chat/completions', body, { headers: { 'x-request-id': id } });
      expect(res.status).toBe(200);
    }
    const ejection = await waitForLogLine(stack.logFile, 'for the ejection', isEjection);
    expect(ids).toContain(ejection.request_id);
  });
});
