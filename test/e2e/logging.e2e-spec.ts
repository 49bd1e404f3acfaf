import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunningGateway, startGateway } from '../helpers/gateway.js';
import { BOOM_MESSAGE, ProbeModule, probeState, StreamGate } from '../helpers/probe.module.js';

interface LogLine {
  timestamp: string;
  level: string;
  msg: string;
  request_id?: string;
  [key: string]: unknown;
}

/** These tests make no upstream call; any http URL satisfies the config. */
const NO_UPSTREAM = { VLLM_BASE_URL: 'http://127.0.0.1:9' };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Complete lines only: the file is written asynchronously, so the last one may still be half written. */
function readLines(file: string): LogLine[] {
  if (!existsSync(file)) return [];
  const lines = readFileSync(file, 'utf8').split('\n').slice(0, -1);
  return lines.map((line) => JSON.parse(line) as LogLine);
}

async function waitForLine(file: string, what: string, match: (line: LogLine) => boolean): Promise<LogLine> {
  for (let attempt = 0; attempt < 500; attempt++) {
    const found = readLines(file).find(match);
    if (found !== undefined) return found;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`no log line ${what} in ${file}:\n${existsSync(file) ? readFileSync(file, 'utf8') : '(no file)'}`);
}

const endOf = (id: string) => (line: LogLine) =>
  line.request_id === id && line.msg.startsWith('request ') && line.msg !== 'request started';

describe('structured request logging (e2e)', () => {
  let gateway: RunningGateway;
  let root: string;
  let logFile: string;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'gateway-logs-'));
    // A directory that does not exist yet: the gateway creates it.
    const logDir = join(root, 'nested', 'logs');
    logFile = join(logDir, 'app.log');
    gateway = await startGateway({ ...NO_UPSTREAM, LOG_LEVEL: 'info', LOG_DIR: logDir }, [ProbeModule]);
  });

  afterAll(async () => {
    await gateway?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('writes one start line and one end line per request, with the sent request id and every field', async () => {
    const id = 'trace-abc.123:4';
    const res = await fetch(`${gateway.url}/__probe/log?secret_query=1`, { headers: { 'X-Request-Id': id } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe(id);

    const end = await waitForLine(logFile, `ending request ${id}`, endOf(id));
    const start = readLines(logFile).find((line) => line.request_id === id && line.msg === 'request started');
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
    expect(end).toEqual({ ...common, status_code: 200, duration_ms: expect.any(Number), msg: 'request completed' });
    expect(end.duration_ms).toBeGreaterThanOrEqual(0);
    expect(new Date(end.timestamp).toISOString()).toBe(end.timestamp);
  });

  it('stamps the request id on lines that Nest Logger and PinoLogger write inside the request', async () => {
    const id = 'inner-lines-1';
    await fetch(`${gateway.url}/__probe/log`, { headers: { 'X-Request-Id': id } });
    await waitForLine(logFile, `ending request ${id}`, endOf(id));
    const lines = readLines(logFile).filter((line) => line.request_id === id);
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
    await waitForLine(logFile, `ending request ${generated}`, endOf(generated));

    for (const bad of ['has spaces in it', 'x'.repeat(200), '../../etc/passwd']) {
      const res = await fetch(`${gateway.url}/__probe/log`, { headers: { 'X-Request-Id': bad } });
      const replaced = res.headers.get('x-request-id') ?? '';
      expect(replaced).toMatch(UUID);
      await waitForLine(logFile, `ending request ${replaced}`, endOf(replaced));
    }
  });

  it('does not log /health', async () => {
    const health = await fetch(`${gateway.url}/health`, { headers: { 'X-Request-Id': 'health-probe-1' } });
    expect(health.headers.get('x-request-id')).toBe('health-probe-1');
    await health.arrayBuffer();
    // Lines are written in order: once a later request's end line is in the file, any /health line would be too.
    await fetch(`${gateway.url}/__probe/log`, { headers: { 'X-Request-Id': 'after-health-1' } });
    await waitForLine(logFile, 'ending request after-health-1', endOf('after-health-1'));
    expect(readLines(logFile).filter((line) => line.request_id === 'health-probe-1')).toEqual([]);
  });

  it('logs an unexpected error as one ERROR end line carrying the stack', async () => {
    const id = 'boom-1';
    const res = await fetch(`${gateway.url}/__probe/boom`, { headers: { 'X-Request-Id': id } });
    expect(res.status).toBe(500);

    const end = await waitForLine(logFile, `ending request ${id}`, endOf(id));
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
    const end = await waitForLine(logFile, `ending request ${id}`, endOf(id));
    expect(end).toMatchObject({ level: 'INFO', msg: 'request completed', status_code: 404 });
    expect(end).not.toHaveProperty('err');
  });

  it('writes the end line of a streamed response only when the stream ends', async () => {
    const id = 'stream-1';
    probeState.gate = new StreamGate();
    const res = await fetch(`${gateway.url}/__probe/stream`, { headers: { 'X-Request-Id': id } });
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toBe('data: first\n\n');

    await waitForLine(logFile, `starting request ${id}`, (line) => line.request_id === id);
    // The handler is parked on the gate, so the response cannot have finished: no end line may exist yet.
    expect(readLines(logFile).filter(endOf(id))).toEqual([]);

    probeState.gate.open();
    let rest = '';
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      rest += new TextDecoder().decode(chunk.value);
    }
    expect(rest).toBe('data: last\n\n');
    const end = await waitForLine(logFile, `ending request ${id}`, endOf(id));
    expect(end).toMatchObject({ level: 'INFO', msg: 'request completed', status_code: 200, path: '/__probe/stream' });
  });

  it("routes Nest's own lines through pino", () => {
    const nestLines = readLines(logFile).filter((line) => line.context === 'NestApplication');
    expect(nestLines).toContainEqual(
      expect.objectContaining({ level: 'INFO', msg: 'Nest application successfully started' }),
    );
  });

  it('writes only flat JSON lines with an ISO timestamp, a named level and a message', () => {
    const lines = readLines(logFile);
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
    for (const [id] of requests) await waitForLine(logFile, `ending request ${id}`, endOf(id));

    const careless = readLines(logFile).find(
      (line) => line.request_id === 'secret-careless' && line.msg === 'careless line',
    );
    // The safety net did run: the careless line has the keys, with their values replaced.
    expect(careless).toMatchObject({
      headers: { authorization: '[REDACTED]', 'x-api-key': '[REDACTED]', cookie: '[REDACTED]' },
      body: { password: '[REDACTED]', access_token: '[REDACTED]', api_key: '[REDACTED]' },
    });
    const failed = await waitForLine(logFile, 'ending request secret-careless', endOf('secret-careless'));
    expect(failed).toMatchObject({ level: 'ERROR', err: { message: 'upstream refused Bearer [REDACTED]' } });

    const text = readFileSync(logFile, 'utf8');
    for (const secret of Object.values(secrets)) expect(text).not.toContain(secret);
  });
});

describe('log file on shutdown (e2e)', () => {
  it('has every line of a request answered right before close', async () => {
    const root = mkdtempSync(join(tmpdir(), 'gateway-logs-'));
    const logFile = join(root, 'app.log');
    const gateway = await startGateway({ ...NO_UPSTREAM, LOG_LEVEL: 'info', LOG_DIR: root }, [ProbeModule]);
    try {
      const res = await fetch(`${gateway.url}/__probe/log`, { headers: { 'X-Request-Id': 'before-close-1' } });
      await res.arrayBuffer();
    } finally {
      await gateway.close();
    }
    // No polling: closing the app flushes and closes the file.
    expect(
      readLines(logFile)
        .filter((line) => line.request_id === 'before-close-1')
        .map((line) => line.msg),
    ).toEqual(['request started', 'line from Nest Logger', 'line from PinoLogger', 'request completed']);
    rmSync(root, { recursive: true, force: true });
  });
});
