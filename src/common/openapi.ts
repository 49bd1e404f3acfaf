import type { OpenAPIObject } from '@nestjs/swagger';
import { getSchemaPath } from '@nestjs/swagger';
import { OpenAiErrorDto } from './errors/error-body.dto.js';

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

interface Operation {
  security?: Record<string, string[]>[];
  parameters?: unknown[];
  requestBody?: unknown;
  responses: Record<string, unknown>;
}

function errorResponse(description: string): unknown {
  return { description, content: { 'application/json': { schema: { $ref: getSchemaPath(OpenAiErrorDto) } } } };
}

/**
 * What every operation has and decorators would only repeat: its security listed once, and a public one says so
 * (`security: []`, so a future global scheme cannot silently apply to it); one with parameters or a body can answer 400, one with a path parameter
 * 404, both in OpenAI's error body. 401 and 403 come from `@Auth(...)` with the operation's own security scheme.
 */
export function completeOpenApiDocument(document: OpenAPIObject): OpenAPIObject {
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of METHODS) {
      const operation = (item as Partial<Record<(typeof METHODS)[number], Operation>>)[method];
      if (operation === undefined) continue;
      // A controller's @Auth and a handler's own both add their scheme; one entry is the requirement.
      operation.security = [...new Map((operation.security ?? []).map((r) => [JSON.stringify(r), r])).values()];
      const hasInput = (operation.parameters?.length ?? 0) > 0 || operation.requestBody !== undefined;
      if (hasInput) operation.responses['400'] ??= errorResponse('The request is malformed or fails validation');
      if (path.includes('{')) operation.responses['404'] ??= errorResponse('No such resource (or not yours)');
    }
  }
  return document;
}
