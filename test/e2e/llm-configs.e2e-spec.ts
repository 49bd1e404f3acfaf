import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { type ErrorBody, jsonApi, type JsonApi, type LlmConfigBody, postLlmConfig } from '../factories/api.js';
import { type RunningGateway, startGateway } from '../helpers/gateway.js';

const NO_UPSTREAM = { VLLM_BASE_URL: 'http://127.0.0.1:9' };
const UNKNOWN_ID = '00000000-0000-4000-8000-00000000dead';

describe('/v1/llm-configs (e2e)', () => {
  let gateway: RunningGateway;
  let call: JsonApi;

  beforeAll(async () => {
    gateway = await startGateway(NO_UPSTREAM);
    call = jsonApi(gateway.url);
  });

  afterAll(async () => {
    await gateway?.close();
  });

  const error = (body: unknown): ErrorBody['error'] => (body as ErrorBody).error;

  it('creates, reads, lists, changes and deletes a config', async () => {
    const name = `support-${randomUUID()}`;
    const created = await postLlmConfig(call, {
      name,
      model: 'sim-model',
      temperature: 0.3,
      top_p: 0.9,
      max_tokens: 128,
      system_prompt: 'You help with {{product}}.',
      extra_params: { top_k: 40, repetition_penalty: 1.1 },
    });
    expect(created).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      object: 'llm_config',
      name,
      model: 'sim-model',
      temperature: 0.3,
      top_p: 0.9,
      max_tokens: 128,
      system_prompt: 'You help with {{product}}.',
      extra_params: { top_k: 40, repetition_penalty: 1.1 },
      is_default: false,
      created_at: expect.any(Number),
      updated_at: expect.any(Number),
    });

    expect((await call('GET', `/v1/llm-configs/${created.id}`)).body).toEqual(created);
    const list = await call<{ object: string; data: LlmConfigBody[] }>('GET', '/v1/llm-configs');
    expect(list.body.object).toBe('list');
    expect(list.body.data).toContainEqual(created);

    const patched = await call<LlmConfigBody>('PATCH', `/v1/llm-configs/${created.id}`, {
      temperature: null,
      extra_params: { min_p: 0.1 },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ name, temperature: null, top_p: 0.9, extra_params: { min_p: 0.1 } });

    expect((await call('DELETE', `/v1/llm-configs/${created.id}`)).status).toBe(204);
    expect((await call('GET', `/v1/llm-configs/${created.id}`)).status).toBe(404);
    expect((await call('DELETE', `/v1/llm-configs/${created.id}`)).status).toBe(404);
  });

  it('answers a duplicate name with 409 naming it, on create and on rename', async () => {
    const taken = await postLlmConfig(call);
    const other = await postLlmConfig(call);

    const duplicate = await call('POST', '/v1/llm-configs', { name: taken.name });
    expect(duplicate.status).toBe(409);
    expect(error(duplicate.body)).toMatchObject({ param: 'name', type: 'invalid_request_error' });
    const rename = await call('PATCH', `/v1/llm-configs/${other.id}`, { name: taken.name });
    expect(rename.status).toBe(409);
  });

  it('moves the default flag: the new default clears the old one', async () => {
    const first = await postLlmConfig(call, { is_default: true });
    const second = await postLlmConfig(call, { is_default: true });

    expect((await call<LlmConfigBody>('GET', `/v1/llm-configs/${first.id}`)).body.is_default).toBe(false);
    expect((await call<LlmConfigBody>('GET', `/v1/llm-configs/${second.id}`)).body.is_default).toBe(true);
    await call('PATCH', `/v1/llm-configs/${second.id}`, { is_default: false });
    expect((await call<LlmConfigBody>('GET', `/v1/llm-configs/${second.id}`)).body.is_default).toBe(false);
  });

  it.each([
    [{ model: 'm' }, 'name'],
    [{ name: '' }, 'name'],
    [{ name: 'x'.repeat(129) }, 'name'],
    [{ temperature: 3 }, 'temperature'],
    [{ temperature: 'hot' }, 'temperature'],
    [{ top_p: 0 }, 'top_p'],
    [{ max_tokens: 0 }, 'max_tokens'],
    [{ max_tokens: 1.5 }, 'max_tokens'],
    [{ system_prompt: 1 }, 'system_prompt'],
    [{ extra_params: [] }, 'extra_params'],
    [{ extra_params: { messages: [] } }, 'extra_params'],
    [{ extra_params: { temperature: 1 } }, 'extra_params'],
    [{ is_default: 'yes' }, 'is_default'],
    [{ colour: 'blue' }, 'colour'],
  ])('rejects %j with a 400 naming the field', async (fields, param) => {
    const body = param === 'name' ? fields : { name: `v-${randomUUID()}`, ...fields };
    const res = await call('POST', '/v1/llm-configs', body);
    expect(res.status).toBe(400);
    expect(error(res.body)).toMatchObject({ param, type: 'invalid_request_error' });
  });

  it('rejects a patch that would empty a required field', async () => {
    const config = await postLlmConfig(call);
    for (const [field, value] of [
      ['name', null],
      ['extra_params', null],
      ['is_default', null],
    ] as const) {
      const res = await call('PATCH', `/v1/llm-configs/${config.id}`, { [field]: value });
      expect(res.status).toBe(400);
      expect(error(res.body).param).toBe(field);
    }
  });

  it('answers an unknown id with 404 and a malformed one with 400 naming id', async () => {
    for (const method of ['GET', 'PATCH', 'DELETE']) {
      const unknown = await call(method, `/v1/llm-configs/${UNKNOWN_ID}`, method === 'PATCH' ? {} : undefined);
      expect(unknown.status).toBe(404);
      const malformed = await call(method, '/v1/llm-configs/42', method === 'PATCH' ? {} : undefined);
      expect(malformed.status).toBe(400);
      expect(error(malformed.body).param).toBe('id');
    }
  });
});
