import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import type { RunningGateway } from '../helpers/gateway.js';
import { endLineOf, readLogLines, waitForLogLine } from '../helpers/json-log.js';
import { BOOM_MESSAGE, ProbeModule } from '../helpers/probe.module.js';
import { type Stack, startStack } from '../helpers/stack.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe('structured request logging (e2e)', () => {
  let stack: Stack;
  let gateway: RunningGateway;
  let logFile: string;

  beforeAll(async () => {
    // The stack's log directory does not exist yet: the gateway creates it.
    stack = await startStack({ modules: [ProbeModule] });
    ({ gateway, logFile } = stack);
  });

  afterAll(async () => {
    await stack?.close();
  });

  it('writes one start line and one end line per request, with the sent request id and every field', async () => {
    const id = 'trace-abc.123:4';
    const res = await fetch(`${gateway.url}/__probe/log?secret_query=1`, { headers: { 'X-Request-Id': id } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe(id);

    const end = await waitForLogLine(logFile, `ending request ${id}`, endLineOf(id));
    const start = readLogLines(logFile).find((line) => line.request_id === id && line.msg === 'request started');
    // Exactly these fields: the lines are flat, with no request or response dump.
    const common = {
      level: 'INFO',
      timestamp: expect.stringMatching(ISO_8601),
      pid: process.pid,
      request_id: id,
      method: 'GET',
      path: '/__probe/log',
    };
    expect(start).toEqual({ ...common, msg: 'request started' });
    // The end line also has what the matched route knows (the route interceptor adds it).
    expect(end).toEqual({
      ...common,
      route: '/__probe/log',
      handler: 'ProbeController.log',
      status_code: 200,
      duration_ms: expect.any(Number),
      msg: 'request completed',
    });
    expect(end.duration_ms).toBeGreaterThanOrEqual(0);
    expect(new Date(end.timestamp).toISOString()).toBe(end.timestamp);
  });

  it('stamps the request id on lines that Nest Logger and PinoLogger write inside the request', async () => {
    const id = 'inner-lines-1';
    await fetch(`${gateway.url}/__probe/log`, { headers: { 'X-Request-Id': id } });
    await waitForLogLine(logFile, `ending request ${id}`, endLineOf(id));
    const lines = readLogLines(logFile).filter((line) => line.request_id === id);
    expect(lines.map((line) => line.msg)).toEqual([
      'request started',
      'line from Nest Logger',
      'line from PinoLogger',
      'request completed',
    ]);
    expect(lines[1]).toMatchObject({ level: 'INFO', context: 'ProbeController' });
    expect(lines[2]).toMatchObject({ level: 'INFO', context: 'ProbeController', detail: 42 });
  });

  it('generates a UUID when the request has no X-Request-Id or an unacceptable one', async () => {
    const plain = await fetch(`${gateway.url}/__probe/log`);
    const generated = plain.headers.get('x-request-id') ?? '';
    expect(generated).toMatch(UUID);
    await waitForLogLine(logFile, `ending request ${generated}`, endLineOf(generated));

    for (const bad of ['has spaces in it', 'x'.repeat(200), '../../etc/passwd']) {
      const res = await fetch(`${gateway.url}/__probe/log`, { headers: { 'X-Request-Id': bad } });
      const replaced = res.headers.get('x-request-id') ?? '';
      expect(replaced).toMatch(UUID);
      await waitForLogLine(logFile, `ending request ${replaced}`, endLineOf(replaced));
    }
  });

  it('does not log /health', async () => {
    const health = await fetch(`${gateway.url}/health`, { headers: { 'X-Request-Id': 'health-probe-1' } });
    expect(health.headers.get('x-request-id')).toBe('health-probe-1');
    await health.arrayBuffer();
    // Lines are written in order: once a later request's end line is in the file, any /health line would be too.
    await fetch(`${gateway.url}/__probe/log`, { headers: { 'X-Request-Id': 'after-health-1' } });
    await waitForLogLine(logFile, 'ending request after-health-1', endLineOf('after-health-1'));
    expect(readLogLines(logFile).filter((line) => line.request_id === 'health-probe-1')).toEqual([]);
  });

  it('logs an unexpected error as one ERROR end line carrying the stack', async () => {
    const id = 'boom-1';
    const res = await fetch(`${gateway.url}/__probe/boom`, { headers: { 'X-Request-Id': id } });
    expect(res.status).toBe(500);

    const end = await waitForLogLine(logFile, `ending request ${id}`, endLineOf(id));
    expect(end).toMatchObject({
      level: 'ERROR',
      msg: 'request failed',
      request_id: id,
      method: 'GET',
      path: '/__probe/boom',
      status_code: 500,
      err: { type: 'Error', message: BOOM_MESSAGE },
    });
    const err = end.err as { stack: string };
    expect(err.stack).toContain(BOOM_MESSAGE);
    expect(err.stack).toMatch(/\n\s+at /);
  });

  it('logs a client error at INFO without a stack', async () => {
    const id = 'not-found-1';
    const res = await fetch(`${gateway.url}/no/such/route`, { headers: { 'X-Request-Id': id } });
    expect(res.status).toBe(404);
    const end = await waitForLogLine(logFile, `ending request ${id}`, endLineOf(id));
    expect(end).toMatchObject({ level: 'INFO', msg: 'request completed', status_code: 404 });
    expect(end).not.toHaveProperty('err');
  });

  it('writes the end line of a relayed stream when the stream ends, with the time it was open', async () => {
    const id = 'stream-1';
    // The first token after 50 ms, then 100 more 10 ms apart: the relay is open for about a second.
    stack.sim.configure({ ttftMs: 50, outputMode: 'fixed', outputTokens: 100, itlMs: 10 });
    try {
      const sentAt = performance.now();
      const res = await fetch(`${gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Request-Id': id },
        body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], stream: true }),
      });
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      const first = await reader.read();
      const firstAt = performance.now();
      let body = decoder.decode(first.value, { stream: true });

      // Lines are written in order: once a later request's end line is in the file, the stream's would be too.
      await fetch(`${gateway.url}/__probe/log`, { headers: { 'X-Request-Id': 'during-stream-1' } });
      await waitForLogLine(logFile, 'ending request during-stream-1', endLineOf('during-stream-1'));
      expect(readLogLines(logFile).filter(endLineOf(id))).toEqual([]);
      // …and the stream was still open when the file was read.
      expect(stack.sim.counters().inFlight).toBe(1);

      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
        body += decoder.decode(chunk.value, { stream: true });
      }
      const lastAt = performance.now();
      expect(body.endsWith('data: [DONE]\n\n')).toBe(true);

      const end = await waitForLogLine(logFile, `ending request ${id}`, endLineOf(id));
      expect(end).toMatchObject({
        level: 'INFO',
        msg: 'request completed',
        status_code: 200,
        path: '/v1/chat/completions',
      });
      // Lower bound: the gateway's clock ran from before the first event (by the 50 ms TTFT, a margin for loopback
      // delays) to the write of the last one. Upper bound: it cannot have started before the request was sent.
      expect(end.duration_ms).toBeGreaterThanOrEqual(Math.floor(lastAt - firstAt));
      expect(end.duration_ms).toBeLessThanOrEqual(Math.ceil(lastAt - sentAt) + 1);
    } finally {
      stack.sim.configure({ ttftMs: 0, outputMode: 'echo', outputTokens: 16, itlMs: 0 });
    }
  });

  it("routes Nest's own lines through pino", () => {
    const nestLines = readLogLines(logFile).filter((line) => line.context === 'NestApplication');
    expect(nestLines).toContainEqual(
      expect.objectContaining({ level: 'INFO', msg: 'Nest application successfully started' }),
    );
  });

  it('writes only flat JSON lines with an ISO timestamp, a named level and a message', () => {
    const lines = readLogLines(logFile);
    expect(lines.length).toBeGreaterThan(10);
    for (const line of lines) {
      expect(line.timestamp).toMatch(ISO_8601);
      expect(['TRACE', 'DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL']).toContain(line.level);
      expect(typeof line.msg).toBe('string');
      expect(line).not.toHaveProperty('req');
      expect(line).not.toHaveProperty('res');
    }
  });

  it('never writes secrets sent in headers, bodies or query strings', async () => {
    const secrets = {
      bearer: 'sk-secret-bearer-6f1d2c9e',
      apiKey: 'sk-secret-apikey-9a8b7c6d',
      password: 'hunter2-secret-password',
      cookie: 'secret-cookie-value-55aa',
      jwt: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.c2VjcmV0LXNpZ25hdHVyZQ',
    };
    const headers = {
      Authorization: `Bearer ${secrets.bearer}`,
      'X-Api-Key': secrets.apiKey,
      Cookie: `session=${secrets.cookie}`,
      'Content-Type': 'application/json',
    };
    const body = JSON.stringify({ password: secrets.password, access_token: secrets.jwt, api_key: secrets.apiKey });
    const requests: [string, string, RequestInit][] = [
      ['secret-ok', '/__probe/passthrough', { method: 'POST', body }],
      ['secret-invalid', '/__probe/items', { method: 'POST', body }],
      ['secret-malformed', '/__probe/items', { method: 'POST', body: body.slice(0, -3) }],
      ['secret-careless', '/__probe/careless', { method: 'POST', body }],
      ['secret-query', `/__probe/log?access_token=${secrets.jwt}&password=${secrets.password}`, { method: 'GET' }],
    ];
    for (const [id, path, init] of requests) {
      const res = await fetch(`${gateway.url}${path}`, { ...init, headers: { ...headers, 'X-Request-Id': id } });
      await res.arrayBuffer();
    }
    for (const [id] of requests) await waitForLogLine(logFile, `ending request ${id}`, endLineOf(id));

    const careless = readLogLines(logFile).find(
      (line) => line.request_id === 'secret-careless' && line.msg === 'careless line',
    );
    // The safety net did run: the careless line has the keys, with their values replaced.
    expect(careless).toMatchObject({
      headers: { authorization: '[REDACTED]', 'x-api-key': '[REDACTED]', cookie: '[REDACTED]' },
      body: { password: '[REDACTED]', access_token: '[REDACTED]', api_key: '[REDACTED]' },
    });
    const failed = await waitForLogLine(logFile, 'ending request secret-careless', endLineOf('secret-careless'));
    expect(failed).toMatchObject({ level: 'ERROR', err: { message: 'upstream refused Bearer [REDACTED]' } });

    const text = readFileSync(logFile, 'utf8');
    for (const secret of Object.values(secrets)) expect(text).not.toContain(secret);
  });
});

describe('log file on shutdown (e2e)', () => {
  it('has every line of a request answered right before close', async () => {
    const stack = await startStack({ modules: [ProbeModule] });
    try {
      try {
        const res = await fetch(`${stack.gateway.url}/__probe/log`, { headers: { 'X-Request-Id': 'before-close-1' } });
        await res.arrayBuffer();
      } finally {
        await stack.gateway.close();
      }
      // No polling: closing the app flushes and closes the file.
      expect(
        readLogLines(stack.logFile)
          .filter((line) => line.request_id === 'before-close-1')
          .map((line) => line.msg),
      ).toEqual(['request started', 'line from Nest Logger', 'line from PinoLogger', 'request completed']);
    } finally {
      await stack.close();
    }
  });
});
