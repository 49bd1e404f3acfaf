import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type RunningGateway, startGateway } from '../helpers/gateway.js';

interface Operation {
  operationId: string;
  security?: Record<string, string[]>[];
  parameters?: unknown[];
  requestBody?: unknown;
  responses: Record<string, { content?: { 'application/json'?: { schema?: { $ref?: string } } } }>;
}

interface Document {
  paths: Record<string, Record<string, Operation>>;
  components: { securitySchemes: Record<string, { type: string; scheme: string; bearerFormat?: string }> };
}

const ERROR_SCHEMA = '#/components/schemas/OpenAiErrorDto';
/** As the route walk's PUBLIC_HANDLERS: /metrics checks METRICS_TOKEN itself, when one is set. */
const PUBLIC_OPERATIONS = ['GET /', 'GET /health', 'GET /metrics', 'POST /admin/auth/login'];

describe('the OpenAPI document: security and error answers per operation (e2e)', () => {
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
});
