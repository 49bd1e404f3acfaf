import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Agent, createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GET_TIMEOUT_CODE, getBody } from './http-get.js';

describe('getBody', () => {
  let server: Server;
  let base: string;
  const agent = new Agent({ keepAlive: true });

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/hang') return;
      if (req.url === '/cut') {
        res.writeHead(200, { 'Content-Length': '100' });
        res.write('partial');
        setTimeout(() => res.destroy(), 10);
        return;
      }
      res.writeHead(req.url === '/missing' ? 404 : 200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ url: req.url, auth: req.headers.authorization ?? null }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    agent.destroy();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('resolves with the status and the whole body, whatever the status, sending the given headers', async () => {
    const ok = await getBody(`${base}/v1/models`, { agent, timeoutMs: 1_000, headers: { Authorization: 'Bearer k' } });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body.toString())).toEqual({ url: '/v1/models', auth: 'Bearer k' });
    expect((await getBody(`${base}/missing`, { agent, timeoutMs: 1_000 })).status).toBe(404);
  });

  it('rejects with its own code when the answer is not complete in time', async () => {
    await expect(getBody(`${base}/hang`, { agent, timeoutMs: 50 })).rejects.toMatchObject({ code: GET_TIMEOUT_CODE });
  });

  it('rejects when the connection closes before the body is complete', async () => {
    await expect(getBody(`${base}/cut`, { agent, timeoutMs: 1_000 })).rejects.toThrow();
  });

  it('rejects with the socket error code when nothing listens', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await expect(getBody(`http://127.0.0.1:${port}/health`, { agent, timeoutMs: 1_000 })).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
  });
});
