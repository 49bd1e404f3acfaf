import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { jsonApi, postConversation, postLlmConfig } from '../factories/api.js';
import { endLineOf, waitForLogLine } from '../helpers/json-log.js';
import { send } from '../helpers/relay.js';
import { type Stack, startStack } from '../helpers/stack.js';

/**
 * The request logger writes the end line at the HTTP entry; what only the matched route knows (template, handler,
 * model, ids) is added by the route interceptor on the Express path and by the fast lane on its own, alike.
 */
describe("the route's fields on the request's end log line (e2e)", () => {
  let stack: Stack;
  let seq = 0;
  const nextId = (): string => `route-log-${Date.now()}-${seq++}`;

  beforeAll(async () => {
    stack = await startStack();
  });

  afterAll(async () => {
    await stack?.close();
  });

  it.each([
    ['the fast lane', false],
    ['Express', true],
  ])('logs the chat route, its handler, the model and the config id through %s', async (_, chunked) => {
    const config = await postLlmConfig(jsonApi(stack.gateway.url));
    const id = nextId();
    const body = JSON.stringify({
      model: 'sim-model',
      llm_config_id: config.id,
      messages: [{ role: 'user', content: 'hi' }],
    });
    const res = await send(stack.gateway.url, '/v1/chat/completions', body, {
      chunked,
      headers: { 'x-request-id': id },
    });
    expect(res.status).toBe(200);
    const line = await waitForLogLine(stack.logFile, `end of ${id}`, endLineOf(id));
    expect(line).toMatchObject({
      path: '/v1/chat/completions',
      route: '/v1/chat/completions',
      handler: 'ChatController.chatCompletions',
      model: 'sim-model',
      llm_config_id: config.id,
      status_code: 200,
    });
  });

  it('logs the route template and the path id as what it is (conversation or config)', async () => {
    const call = jsonApi(stack.gateway.url);
    const conversation = await postConversation(call);
    const config = await postLlmConfig(call);
    for (const [path, field, value, template, handler] of [
      [`/v1/conversations/${conversation.id}`, 'conversation_id', conversation.id, '/v1/conversations/:id', 'get'],
      [`/v1/llm-configs/${config.id}`, 'llm_config_id', config.id, '/v1/llm-configs/:id', 'get'],
    ] as const) {
      const id = nextId();
      expect((await fetch(`${stack.gateway.url}${path}`, { headers: { 'x-request-id': id } })).status).toBe(200);
      const line = await waitForLogLine(stack.logFile, `end of ${id}`, endLineOf(id));
      expect(line).toMatchObject({ route: template, [field]: value });
      expect(String(line['handler'])).toMatch(new RegExp(`Controller\\.${handler}$`));
    }
  });
});
