import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Agent, createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GET_TIMEOUT_CODE, getBody, post, RequestFailure } from './http-client.js';

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));
  return port;
}

const readAll = async (stream: IncomingMessage): Promise<string> => {
  let text = '';
  for await (const chunk of stream) text += (chunk as Buffer).toString();
  return text;
};

describe('http client', () => {
  let server: Server;
  let base: string;
  const agent = new Agent({ keepAlive: true });

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/cut') {
        res.writeHead(200, { 'Content-Length': '100' });
        res.write('partial');
        setTimeout(() => res.destroy(), 10);
        return;
      }
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        if (req.url === '/hang') return;
        res.writeHead(req.method === 'GET' ? 200 : 201, { 'Content-Type': 'application/json' });
        const auth = req.headers.authorization;
        res.end(JSON.stringify({ method: req.method, url: req.url, id: req.headers['x-request-id'], auth, body }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    agent.destroy();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('sends the bytes and headers to the URL and resolves with the response stream once its headers arrive', async () => {
    const payload = Buffer.from('{"model":"m"}');
    const headers = { 'Content-Type': 'application/json', 'Content-Length': payload.length, 'X-Request-Id': 'r1' };
    for (let i = 0; i < 2; i++) {
      const res = await post(`${base}/v1/chat/completions`, payload, { headers, agent }).response;
      expect(res.statusCode).toBe(201);
      expect(res.headers['content-type']).toBe('application/json');
      expect(JSON.parse(await readAll(res))).toEqual({
        method: 'POST',
        url: '/v1/chat/completions',
        id: 'r1',
        body: '{"model":"m"}',
      });
    }
  });

  it('rejects with the socket error code when nothing listens', async () => {
    const failure = await post(`http://127.0.0.1:${await closedPort()}/x`, Buffer.from('{}'), {
      headers: {},
      agent,
    }).response.catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(RequestFailure);
    expect(failure).toMatchObject({ code: 'ECONNREFUSED', reusedSocket: false });
  });

  it('rejects with the given error when the request is destroyed before the response', async () => {
    const { request, response } = post(`${base}/hang`, Buffer.from('{}'), { headers: {}, agent });
    setTimeout(() => request.destroy(new Error('given up')), 20);
    await expect(response).rejects.toMatchObject({ name: 'RequestFailure', message: 'given up' });
  });

  it('GETs a whole body with the given headers, resolving whatever the status', async () => {
    const ok = await getBody(`${base}/v1/models`, { agent, timeoutMs: 1_000, headers: { Authorization: 'Bearer k' } });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body.toString())).toMatchObject({ method: 'GET', url: '/v1/models', auth: 'Bearer k' });
  });

  it('gives a GET up with its own code when the answer is not complete in time', async () => {
    await expect(getBody(`${base}/hang`, { agent, timeoutMs: 50 })).rejects.toMatchObject({ code: GET_TIMEOUT_CODE });
  });

  it('rejects a GET whose connection closes before the body is complete', async () => {
    await expect(getBody(`${base}/cut`, { agent, timeoutMs: 1_000 })).rejects.toThrow();
  });

  it('rejects a GET with the socket error code when nothing listens', async () => {
    const url = `http://127.0.0.1:${await closedPort()}/health`;
    await expect(getBody(url, { agent, timeoutMs: 1_000 })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});
