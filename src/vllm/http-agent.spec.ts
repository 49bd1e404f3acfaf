import { describe, it, expect } from '@jest/globals';
import type { ClientRequestArgs } from 'node:http';
import { createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { CONNECT_TIMEOUT_CODE, createUpstreamAgent } from './http-agent.js';

describe('createUpstreamAgent', () => {
  it('fails a connect that does not complete in time with a connection-failure code', async () => {
    const agent = createUpstreamAgent('http', { connectTimeoutMs: 20 });
    // A DNS lookup that never answers keeps the socket in its connecting state, like a black-holed address.
    const options = { host: 'upstream.invalid', port: 80, lookup: () => undefined } as unknown as ClientRequestArgs;
    const socket = agent.createConnection(options) as Socket;
    const error = await new Promise<NodeJS.ErrnoException>((resolve) => socket.once('error', resolve));
    expect(error.code).toBe(CONNECT_TIMEOUT_CODE);
    agent.destroy();
  });

  it('leaves sockets that connect in time alone', async () => {
    const server = createServer((s) => s.end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const agent = createUpstreamAgent('http', { connectTimeoutMs: 1_000 });
    const port = (server.address() as AddressInfo).port;
    const socket = agent.createConnection({ host: '127.0.0.1', port }) as Socket;
    const outcome = await new Promise<string>((resolve) => {
      socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
      socket.once('connect', () => resolve('connected'));
    });
    expect(outcome).toBe('connected');
    socket.destroy();
    agent.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
});
