import { describe, expect, it } from '@jest/globals';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { requestLogLevel, requestPath } from './http-logger.js';

const req = (url: string, originalUrl?: string): IncomingMessage =>
  ({ url, originalUrl }) as unknown as IncomingMessage;
const res = (statusCode: number, err?: Error): ServerResponse => ({ statusCode, err }) as unknown as ServerResponse;

describe('requestPath', () => {
  it('drops the query string', () => {
    expect(requestPath(req('/v1/chat/completions?api_key=secret'))).toBe('/v1/chat/completions');
    expect(requestPath(req('/v1/models'))).toBe('/v1/models');
  });

  it("prefers Express' originalUrl, which mounted routers do not rewrite", () => {
    expect(requestPath(req('/x', '/admin/x?y=1'))).toBe('/admin/x');
  });
});

describe('requestLogLevel', () => {
  it.each([
    ['a success', '/v1/models', res(200), 'info'],
    ['a client error', '/v1/models', res(404), 'info'],
    ['a 5xx written without an exception', '/v1/models', res(503), 'warn'],
    ['a 5xx with an exception', '/v1/models', res(502, new Error('x')), 'error'],
    ['a 500 with an exception', '/v1/models', res(500, new Error('x')), 'error'],
    ['a healthy probe', '/health', res(200), 'silent'],
    ['a failed health check', '/health', res(503), 'silent'],
    ['a health check with a handled error', '/health', res(503, new Error('x')), 'silent'],
    ['a crashed health check', '/health?full=1', res(500, new Error('x')), 'error'],
    ['a metrics scrape', '/metrics', res(200), 'silent'],
    ['a sub-path of a quiet path', '/health/ready', res(200), 'silent'],
    ['a path that only starts like a quiet one', '/healthz', res(200), 'info'],
  ])('logs %s at the right level', (_case, url, response, level) => {
    expect(requestLogLevel(req(url), response)).toBe(level);
  });

  it('logs an error event on the response as an error', () => {
    expect(requestLogLevel(req('/v1/models'), res(200), new Error('socket'))).toBe('error');
  });
});
