import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import type { ErrorBody } from '../factories/api.js';
import { type RunningGateway, startGateway } from '../helpers/gateway.js';
import { BOOM_MESSAGE, ProbeModule } from '../helpers/probe.module.js';

/** These tests make no upstream call; any http URL satisfies the config. */
const NO_UPSTREAM = { VLLM_BASE_URL: 'http://127.0.0.1:9' };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('error responses (e2e)', () => {
  let gateway: RunningGateway;

  beforeAll(async () => {
    gateway = await startGateway({ ...NO_UPSTREAM, BODY_LIMIT: '1kb' }, [ProbeModule]);
  });

  afterAll(async () => {
    await gateway?.close();
  });

  async function call(path: string, init: RequestInit = {}): Promise<{ status: number; id: string; body: ErrorBody }> {
    const res = await fetch(`${gateway.url}${path}`, init);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    return { status: res.status, id: res.headers.get('x-request-id') ?? '', body: (await res.json()) as ErrorBody };
  }

  const postJson = (body: string, headers: Record<string, string> = {}): RequestInit => ({
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body,
  });

  it('answers an unknown route with 404 not_found and the request id', async () => {
    const res = await call('/v1/nope', { headers: { 'X-Request-Id': 'err-404' } });
    expect(res.status).toBe(404);
    expect(res.id).toBe('err-404');
    expect(res.body).toEqual({
      error: { message: 'Cannot GET /v1/nope', type: 'not_found_error', param: null, code: 'not_found' },
    });
  });

  it('answers malformed JSON with 400 without quoting the body', async () => {
    const res = await call('/__probe/items', postJson('{"name": "abc", "count": ', { 'X-Request-Id': 'err-json' }));
    expect(res.status).toBe(400);
    expect(res.id).toBe('err-json');
    expect(res.body).toEqual({
      error: {
        message: 'We could not parse the JSON body of your request.',
        type: 'invalid_request_error',
        param: null,
        code: 'bad_request',
      },
    });
  });

  it('answers a body over BODY_LIMIT with 413', async () => {
    const res = await call('/__probe/passthrough', postJson(JSON.stringify({ text: 'x'.repeat(2048) })));
    expect(res.status).toBe(413);
    expect(res.id).toMatch(UUID);
    expect(res.body).toEqual({
      error: {
        message: 'The request body is larger than the limit of 1024 bytes.',
        type: 'invalid_request_error',
        param: null,
        code: 'payload_too_large',
      },
    });
  });

  it('answers a DTO validation failure with 400 naming the field', async () => {
    const res = await call('/__probe/items', postJson(JSON.stringify({ name: '', count: 3 })));
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      error: {
        message: 'name must be longer than or equal to 1 characters',
        type: 'invalid_request_error',
        param: 'name',
        code: 'bad_request',
      },
    });
  });

  it('names the first failing field as a path and lists every failure', async () => {
    const res = await call('/__probe/items', postJson(JSON.stringify({ name: 'a', count: 0, tags: [{ label: '' }] })));
    expect(res.status).toBe(400);
    expect(res.body.error.param).toBe('count');
    expect(res.body.error.message).toBe(
      'count must not be less than 1; label must be longer than or equal to 1 characters',
    );

    const nested = await call(
      '/__probe/items',
      postJson(JSON.stringify({ name: 'a', count: 1, tags: [{ label: 1 }] })),
    );
    expect(nested.body.error.param).toBe('tags[0].label');
  });

  it('rejects properties a DTO does not declare', async () => {
    const res = await call('/__probe/items', postJson(JSON.stringify({ name: 'a', count: 1, admin: true })));
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ param: 'admin', message: 'property admin should not exist' });
  });

  it('accepts a valid DTO', async () => {
    const res = await fetch(`${gateway.url}/__probe/items`, postJson(JSON.stringify({ name: 'a', count: 2 })));
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ name: 'a', count: 2 });
  });

  it('leaves a body typed as a plain record untouched (chat completions passthrough)', async () => {
    const body = {
      model: 'm',
      messages: [{ role: 'user', content: 'hi', extra: 1 }],
      top_k: 5,
      vllm_xargs: { a: [1] },
    };
    const res = await fetch(`${gateway.url}/__probe/passthrough`, postJson(JSON.stringify(body)));
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual(body);
  });

  it("maps Nest's HttpExceptions by status", async () => {
    const conflict = await call('/__probe/conflict');
    expect(conflict.status).toBe(409);
    expect(conflict.body).toEqual({
      error: { message: 'item already exists', type: 'invalid_request_error', param: null, code: 'conflict' },
    });

    const teapot = await call('/__probe/teapot');
    expect(teapot.status).toBe(418);
    expect(teapot.body).toEqual({
      error: { message: 'short and stout', type: 'invalid_request_error', param: null, code: 'i_am_a_teapot' },
    });
  });

  it('answers an unexpected error with a generic 500 and leaks no detail', async () => {
    const res = await fetch(`${gateway.url}/__probe/boom`, { headers: { 'X-Request-Id': 'err-500' } });
    expect(res.status).toBe(500);
    expect(res.headers.get('x-request-id')).toBe('err-500');
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({
      error: { message: 'Internal server error', type: 'server_error', param: null, code: 'internal' },
    });
    expect(text).not.toContain(BOOM_MESSAGE);
    expect(text).not.toContain('probe.module');
  });

  it('ends a response whose headers were already sent instead of writing JSON into it', async () => {
    const res = await fetch(`${gateway.url}/__probe/stream-then-throw`);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toMatch(UUID);
    expect(await res.text()).toBe('data: partial\n\n');
  });
});

describe('OpenAPI docs (e2e)', () => {
  let gateway: RunningGateway;

  beforeAll(async () => {
    gateway = await startGateway(NO_UPSTREAM);
  });

  afterAll(async () => {
    await gateway?.close();
  });

  it('serves the document at /docs-json with title, package version and the two bearer schemes', async () => {
    const res = await fetch(`${gateway.url}/docs-json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as {
      info: { title: string; version: string };
      components: { securitySchemes: Record<string, { type: string; scheme: string }> };
    };
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(doc.info).toMatchObject({ title: 'llm-gateway', version: pkg.version });
    expect(doc.components.securitySchemes['api-key']).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.components.securitySchemes['admin-jwt']).toMatchObject({ type: 'http', scheme: 'bearer' });
  });

  it('serves the UI at /docs', async () => {
    const res = await fetch(`${gateway.url}/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
  });
});
