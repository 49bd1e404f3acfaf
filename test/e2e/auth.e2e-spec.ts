import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator, type Simulator } from '../../tools/vllm-sim/simulator.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { send, waitFor } from '../helpers/relay.js';

const KEYS = ['client-key-one-5f2c', 'client-key-two-9a7e'];
const CHAT = JSON.stringify({ model: 'sim-model', messages: [{ role: 'user', content: 'hi' }] });

describe('client API keys with ENABLE_AUTH=true (e2e)', () => {
  let sim: Simulator;
  let gateway: RunningGateway;
  let logDir: string;

  beforeAll(async () => {
    sim = await startSimulator();
    logDir = mkdtempSync(join(tmpdir(), 'gateway-auth-'));
    gateway = await startGateway({
      VLLM_BASE_URL: sim.url,
      ENABLE_AUTH: 'true',
      API_KEY: KEYS.join(','),
      LOG_LEVEL: 'info',
      LOG_DIR: logDir,
    });
  });

  afterAll(async () => {
    await gateway?.close();
    await sim?.close();
    rmSync(logDir, { recursive: true, force: true });
  });

  beforeEach(() => {
    sim.resetStats();
  });

  const bearer = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` });

  // A Content-Length body goes through the chat fast lane, a chunked one through Express: both must check the key.
  it.each([
    ['the fast lane', false],
    ['Express', true],
  ])('rejects a chat request without a key or with a wrong one through %s, before vLLM sees it', async (_, chunked) => {
    for (const headers of [{}, bearer('not-a-key'), { authorization: `Basic ${KEYS[0]}` }]) {
      const res = await send(gateway.url, '/v1/chat/completions', CHAT, { chunked, headers });
      expect(res.status).toBe(401);
      expect(JSON.parse(res.body)).toEqual({
        error: { message: expect.any(String), type: 'authentication_error', param: null, code: 'invalid_api_key' },
      });
      expect(res.body).not.toContain('not-a-key');
    }
    expect(sim.counters().received).toBe(0);
  });

  it.each([
    ['the fast lane', false],
    ['Express', true],
  ])('serves a chat request with any configured key through %s', async (_, chunked) => {
    for (const key of KEYS) {
      const res = await send(gateway.url, '/v1/chat/completions', CHAT, { chunked, headers: bearer(key) });
      expect(res.status).toBe(200);
      // The client's key is not forwarded: vLLM gets VLLM_API_KEY or nothing.
      expect(sim.received().at(-1)?.headers['authorization']).toBeUndefined();
    }
    expect(sim.counters().received).toBe(KEYS.length);
  });

  it('guards every /v1 route, whatever its case, and leaves /, /health and the docs open', async () => {
    for (const path of ['/v1/models', '/v1/conversations', '/v1/llm-configs', '/V1/Models']) {
      expect((await fetch(`${gateway.url}${path}`)).status).toBe(401);
    }
    expect((await fetch(`${gateway.url}/v1/models`, { headers: bearer(KEYS[1] ?? '') })).status).toBe(200);
    for (const path of ['/', '/health', '/docs-json']) {
      expect((await fetch(`${gateway.url}${path}`)).status).toBe(200);
    }
  });

  it('never writes a client key to the log', async () => {
    const id = `auth-log-${Date.now()}`;
    await send(gateway.url, '/v1/chat/completions', CHAT, {
      headers: { ...bearer(KEYS[0] ?? ''), 'x-request-id': id },
    });
    await send(gateway.url, '/v1/chat/completions', CHAT, {
      headers: { ...bearer('wrong-key-c41d'), 'x-request-id': `${id}-wrong` },
    });
    const file = join(logDir, 'app.log');
    // Both requests' end lines are in the file (lines are written in batches) before it is searched.
    await waitFor(() => {
      const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
      return [id, `${id}-wrong`].every((rid) =>
        text.split('\n').some((line) => line.includes(`"request_id":"${rid}"`) && line.includes('"status_code"')),
      );
    }, "both requests' end lines in the log");
    const log = readFileSync(file, 'utf8');
    for (const secret of [...KEYS, 'wrong-key-c41d']) expect(log).not.toContain(secret);
  });
});
