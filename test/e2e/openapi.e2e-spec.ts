import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type RunningGateway, startGateway } from '../helpers/gateway.js';

interface Operation {
  operationId: string;
  security?: Record<string, string[]>[];
  parameters?: unknown[];
  requestBody?: { content?: Record<string, MediaType> };
  responses: Record<string, { content?: Record<string, MediaType> }>;
}

interface MediaType {
  schema?: { $ref?: string; type?: string; properties?: Record<string, unknown> };
  example?: unknown;
  examples?: Record<string, unknown>;
}

interface Document {
  paths: Record<string, Record<string, Operation>>;
  components: { securitySchemes: Record<string, { type: string; scheme: string; bearerFormat?: string }> };
}

const ERROR_SCHEMA = '#/components/schemas/OpenAiErrorDto';
/** As the route walk's PUBLIC_HANDLERS: /metrics checks METRICS_TOKEN itself, when one is set. */
const PUBLIC_OPERATIONS = ['GET /', 'GET /health', 'GET /metrics', 'POST /admin/auth/login'];

describe('the OpenAPI document: routes, schemas, examples, security and error answers per operation (e2e)', () => {
  let gateway: RunningGateway;
  let operations: [string, Operation][];
  let doc: Document;

  beforeAll(async () => {
    gateway = await startGateway({ VLLM_BASE_URL: 'http://127.0.0.1:9' });
    doc = (await (await fetch(`${gateway.url}/docs-json`)).json()) as Document;
    operations = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.entries(item).map(([method, op]): [string, Operation] => [`${method.toUpperCase()} ${path}`, op]),
    );
  });

  afterAll(async () => {
    await gateway?.close();
  });

  it('defines a bearer scheme for client keys and one for the admin JWT', () => {
    expect(doc.components.securitySchemes).toMatchObject({
      'api-key': { type: 'http', scheme: 'bearer' },
      'admin-jwt': { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
    });
  });

  it('has every operation declare its own security: the client key on /v1, the admin JWT on /admin', () => {
    expect(operations.length).toBeGreaterThan(20);
    for (const [name, op] of operations) {
      const path = name.split(' ')[1] ?? '';
      let expected: Record<string, string[]>[] = [];
      if (path.startsWith('/v1/')) expected = [{ 'api-key': [] }];
      else if (path.startsWith('/admin/') && !PUBLIC_OPERATIONS.includes(name)) expected = [{ 'admin-jwt': [] }];
      else expect(PUBLIC_OPERATIONS).toContain(name);
      expect({ name, security: op.security }).toEqual({ name, security: expected });
    }
  });

  it("documents 400, 401, 403 and 404 with OpenAI's error body where they can happen", () => {
    const errorRef = (op: Operation, status: string): string | undefined =>
      op.responses[status]?.content?.['application/json']?.schema?.$ref;
    for (const [name, op] of operations) {
      const path = name.split(' ')[1] ?? '';
      const checks: Record<string, string | undefined> = {};
      const want: Record<string, string | undefined> = {};
      if (!PUBLIC_OPERATIONS.includes(name)) {
        checks['401'] = errorRef(op, '401');
        want['401'] = ERROR_SCHEMA;
      }
      if (path.startsWith('/v1/')) {
        checks['403'] = errorRef(op, '403');
        want['403'] = ERROR_SCHEMA;
      }
      if (path.includes('{')) {
        checks['404'] = errorRef(op, '404');
        want['404'] = ERROR_SCHEMA;
      }
      if ((op.parameters?.length ?? 0) > 0 || op.requestBody !== undefined) {
        checks['400'] = errorRef(op, '400');
        want['400'] = ERROR_SCHEMA;
      }
      expect({ name, ...checks }).toEqual({ name, ...want });
    }
  });
  it('documents exactly the routes Express serves (the UI pages, the docs and the catch-all aside)', () => {
    const express = gateway.app.getHttpAdapter().getInstance() as {
      router: { stack: { route?: { path: string; methods: Record<string, boolean> } }[] };
    };
    const served = express.router.stack
      .flatMap((layer) =>
        layer.route === undefined
          ? []
          : Object.keys(layer.route.methods).map(
              (m) => `${m.toUpperCase()} ${(layer.route?.path ?? '').replace(/:(\w+)/g, '{$1}')}`,
            ),
      )
      // Static pages are for browsers, not API clients (hidden from the document on purpose).
      .filter((route) => !/ (\/docs|\{\/\*splat\}|\/admin(\/ui\/.*)?$|\/playground(\/.*)?$)/.test(route));
    expect(operations.map(([name]) => name).sort()).toEqual([...new Set(served)].sort());
  });

  it('gives every operation a success answer with a schema, and every request body a schema', () => {
    for (const [name, op] of operations) {
      const success = Object.entries(op.responses).filter(([status]) => /^2/.test(status));
      expect({ name, success: success.length > 0 }).toEqual({ name, success: true });
      for (const [status, answer] of success) {
        // 204 has no body; every other success names what it returns.
        if (status === '204') continue;
        const media = Object.values(answer.content ?? {});
        expect({ name, status, schema: media.length > 0 && media.every((m) => m.schema !== undefined) }).toEqual({
          name,
          status,
          schema: true,
        });
      }
      if (op.requestBody !== undefined) {
        expect({ name, body: op.requestBody.content?.['application/json']?.schema !== undefined }).toEqual({
          name,
          body: true,
        });
      }
    }
  });

  it('shows the chat route with its extension fields, request examples and a streaming example', () => {
    const chat = doc.paths['/v1/chat/completions']?.['post'];
    const body = chat?.requestBody?.content?.['application/json'];
    expect(Object.keys(body?.schema?.properties ?? {})).toEqual(
      expect.arrayContaining(['messages', 'model', 'stream', 'conversation_id', 'llm_config_id', 'prompt_variables']),
    );
    expect(Object.keys(body?.examples ?? {})).toEqual(expect.arrayContaining(['plain', 'streamed', 'conversation']));
    const answer = chat?.responses['200']?.content;
    expect(answer?.['application/json']?.example).toMatchObject({ object: 'chat.completion' });
    const stream = answer?.['text/event-stream']?.example;
    expect(typeof stream === 'string' && stream.startsWith('data: {') && stream.endsWith('data: [DONE]\n\n')).toBe(
      true,
    );
    for (const path of ['/v1/completions', '/v1/embeddings']) {
      const op = doc.paths[path]?.['post'];
      expect({ path, example: op?.requestBody?.content?.['application/json']?.schema }).toMatchObject({
        path,
        example: { example: expect.any(Object) },
      });
    }
  });
});
