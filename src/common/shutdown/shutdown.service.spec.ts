import { describe, expect, it, jest } from '@jest/globals';
import { EventEmitter } from 'node:events';
import type { Server } from 'node:http';
import { Cancellation } from '../cancellation.js';
import type { RequestLogger } from '../logging/http-logger.js';
import { GatewayShutdown, ShutdownService } from './shutdown.service.js';

/** The parts of node:http's server and response the gate uses. */
class FakeServer extends EventEmitter {
  readonly close = jest.fn();
  readonly closeIdleConnections = jest.fn();
  readonly closeAllConnections = jest.fn();
}

class FakeResponse extends EventEmitter {
  headersSent = false;
  statusCode = 0;
  readonly headers: Record<string, string> = {};
  body = '';
  setHeader(name: string, value: string): void {
    this.headers[name.toLowerCase()] = value;
  }
  writeHead(status: number, headers: Record<string, string | number>): void {
    this.statusCode = status;
    for (const [name, value] of Object.entries(headers)) this.setHeader(name, String(value));
    this.headersSent = true;
  }
  end(body: string): void {
    this.body = body;
    this.emit('close');
  }
}

const passThrough: RequestLogger = (_req, _res, next) => next();

function setUp(): { shutdown: ShutdownService; server: FakeServer; served: jest.Mock } {
  const shutdown = new ShutdownService();
  const server = new FakeServer();
  const served = jest.fn();
  server.on('request', served);
  shutdown.install(server as unknown as Server, passThrough);
  return { shutdown, server, served };
}

function request(server: FakeServer): FakeResponse {
  const res = new FakeResponse();
  server.emit('request', {}, res);
  return res;
}

describe('ShutdownService', () => {
  it('passes requests through until shutdown, then answers 503 with Connection: close in OpenAI shape', async () => {
    const { shutdown, server, served } = setUp();
    request(server);
    expect(served).toHaveBeenCalledTimes(1);
    expect(shutdown.pending().responses).toBe(1);

    const drained = shutdown.drain(60_000);
    const refused = request(server);
    expect(served).toHaveBeenCalledTimes(1);
    expect(refused.statusCode).toBe(503);
    expect(refused.headers['connection']).toBe('close');
    expect(JSON.parse(refused.body)).toMatchObject({ error: { code: 'service_unavailable' } });
    expect(server.closeIdleConnections).toHaveBeenCalled();
    // Still waiting for the first request; it ends, and the drain finishes long before the grace period.
    expect(server.close).not.toHaveBeenCalled();
    const first = served.mock.calls[0]?.[1] as FakeResponse;
    first.emit('close');
    await drained;
    expect(server.close).toHaveBeenCalled();
    expect(server.closeAllConnections).toHaveBeenCalled();
  });

  it('waits for a relay until it is released, even after its response ended', async () => {
    const { shutdown } = setUp();
    const release = shutdown.track(new Cancellation());
    let done = false;
    const drained = shutdown.drain(60_000).then(() => (done = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(done).toBe(false);
    release();
    await drained;
    expect(done).toBe(true);
  });

  it('aborts the relays left after the grace period, with a reason relays tell from a client leaving', async () => {
    const { shutdown } = setUp();
    const relay = new Cancellation();
    const release = shutdown.track(relay);
    relay.on(release);
    await shutdown.drain(20);
    expect(relay.aborted).toBe(true);
    expect(relay.reason).toBeInstanceOf(GatewayShutdown);
    // A relay that starts now is aborted at once.
    const late = new Cancellation();
    shutdown.track(late)();
    expect(late.reason).toBeInstanceOf(GatewayShutdown);
  });
});
