import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Server } from 'node:http';
import type { HealthReportDto } from '../../src/health/health.dto.js';
import { type Stack, startStack } from '../helpers/stack.js';

const KEY = 'exposure-client-key';
const messages = [{ role: 'user', content: 'hi' }];

/** The security headers of an API answer, whichever path served it. */
const API_SECURITY_HEADERS = [
  'content-security-policy',
  'strict-transport-security',
  'x-content-type-options',
  'x-frame-options',
  'cross-origin-resource-policy',
];
/** Headers that only mean something for a document: on the pages, never on a JSON answer. */
const DOCUMENT_ONLY_HEADERS = ['cross-origin-opener-policy', 'referrer-policy', 'origin-agent-cluster'];

function headersOf(res: Response, names: readonly string[]): Record<string, string | null> {
  return Object.fromEntries(names.map((name) => [name, res.headers.get(name)]));
}

describe('headers and exposure (e2e)', () => {
  let stack: Stack;
  let url: string;

  beforeAll(async () => {
    stack = await startStack({
      env: {
        LOG_LEVEL: 'silent',
        ENABLE_AUTH: 'true',
        API_KEY: KEY,
        HEADERS_TIMEOUT_MS: '7000',
        MAX_CONNECTIONS: '321',
      },
    });
    url = stack.gateway.url;
  });

  afterAll(async () => {
    await stack?.close();
  });

  const chat = (init: { chunked?: boolean; headers?: Record<string, string> } = {}): Promise<Response> => {
    const body = JSON.stringify({ messages });
    return fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}`, ...init.headers },
      body: init.chunked === true ? new Blob([body]).stream() : body,
      duplex: 'half',
    } as RequestInit);
  };

  it('sends the same security headers from the fast lane as from Express, success or error', async () => {
    const fast = await chat();
    const express = await chat({ chunked: true });
    const refused = await fetch(`${url}/v1/chat/completions`, { method: 'POST', body: '{}' });
    const health = await fetch(`${url}/health`);
    expect(fast.status).toBe(200);
    expect(express.status).toBe(200);
    expect(refused.status).toBe(401);
    const expected = headersOf(health, API_SECURITY_HEADERS);
    expect(expected).toEqual({
      'content-security-policy': "default-src 'none';frame-ancestors 'none'",
      'strict-transport-security': expect.stringContaining('max-age='),
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
      'cross-origin-resource-policy': 'same-origin',
    });
    for (const res of [fast, express, refused]) {
      expect(headersOf(res, API_SECURITY_HEADERS)).toEqual(expected);
      expect(headersOf(res, DOCUMENT_ONLY_HEADERS)).toEqual({
        'cross-origin-opener-policy': null,
        'referrer-policy': null,
        'origin-agent-cluster': null,
      });
    }
    expect(fast.headers.get('x-powered-by')).toBeNull();
  });

  it('keeps the pages’ own strict CSP on /admin and /playground', async () => {
    for (const path of ['/admin', '/playground']) {
      const res = await fetch(`${url}${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
      expect(headersOf(res, DOCUMENT_ONLY_HEADERS)).toEqual({
        'cross-origin-opener-policy': 'same-origin',
        'referrer-policy': 'no-referrer',
        'origin-agent-cluster': '?1',
      });
    }
    // A page's assets are documents' parts too; the admin API beside the page is an API.
    expect((await fetch(`${url}/admin/ui/app.js`)).headers.get('cross-origin-opener-policy')).toBe('same-origin');
    expect((await fetch(`${url}/admin/llm-configs`)).headers.get('cross-origin-opener-policy')).toBeNull();
  });

  it('sends no CORS header by default, preflight or not', async () => {
    const origin = 'https://elsewhere.example';
    const preflight = await fetch(`${url}/v1/chat/completions`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    expect((await chat({ headers: { origin } })).headers.get('access-control-allow-origin')).toBeNull();
  });

  it('hides upstream URLs from a caller without a key, and shows them with one', async () => {
    const anonymous = (await (await fetch(`${url}/health`)).json()) as HealthReportDto;
    expect(anonymous.checks.upstreams.map((u) => u.url)).toEqual(['upstream-1']);
    expect(JSON.stringify(anonymous)).not.toContain(stack.sim.url);
    const wrongKey = (await (
      await fetch(`${url}/health`, { headers: { authorization: 'Bearer nope' } })
    ).json()) as HealthReportDto;
    expect(wrongKey.checks.upstreams.map((u) => u.url)).toEqual(['upstream-1']);
    const withKey = (await (
      await fetch(`${url}/health`, { headers: { authorization: `Bearer ${KEY}` } })
    ).json()) as HealthReportDto;
    expect(withKey.checks.upstreams.map((u) => u.url)).toEqual([stack.sim.url]);
  });

  it('sets the server bounds from the configuration', () => {
    const server: Server = stack.gateway.app.getHttpServer();
    expect(server.headersTimeout).toBe(7_000);
    expect(server.requestTimeout).toBe(60_000);
    expect(server.maxConnections).toBe(321);
  });
});

describe('CORS_ORIGINS (e2e)', () => {
  let stack: Stack;
  const allowed = 'https://app.example';

  beforeAll(async () => {
    stack = await startStack({ env: { LOG_LEVEL: 'silent', CORS_ORIGINS: allowed } });
  });

  afterAll(async () => {
    await stack?.close();
  });

  it('answers a preflight from a listed origin, and only from it', async () => {
    const preflight = (origin: string): Promise<Response> =>
      fetch(`${stack.gateway.url}/v1/chat/completions`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
      });
    const ok = await preflight(allowed);
    expect(ok.status).toBe(204);
    expect(ok.headers.get('access-control-allow-origin')).toBe(allowed);
    expect(ok.headers.get('access-control-allow-headers')).toContain('authorization');
    expect((await preflight('https://other.example')).headers.get('access-control-allow-origin')).toBeNull();
  });

  it('lets a listed origin read a chat answer (served by Express, not the fast lane)', async () => {
    const res = await fetch(`${stack.gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: allowed },
      body: JSON.stringify({ messages }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(allowed);
    expect(res.headers.get('vary')).toContain('Origin');
  });
});
