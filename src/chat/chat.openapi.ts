import type { ApiResponseCommonMetadata, OpenAPIObject } from '@nestjs/swagger';

type SchemaOrRef = NonNullable<NonNullable<OpenAPIObject['components']>['schemas']>[string];
/** OpenAPI's schema object (the package exports it only as part of other types). */
type SchemaObject = Exclude<SchemaOrRef, { $ref: string }>;
type ContentObject = NonNullable<ApiResponseCommonMetadata['content']>;

/**
 * OpenAPI schemas of the OpenAI routes. Documentation only: the bodies are never validated against them (vLLM's
 * extra fields must reach vLLM untouched, so every schema allows more properties than it names).
 */

const MESSAGE: SchemaObject = {
  type: 'object',
  required: ['role'],
  additionalProperties: true,
  properties: {
    role: { type: 'string', enum: ['system', 'developer', 'user', 'assistant', 'tool'] },
    content: {
      oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'object', additionalProperties: true } }],
      nullable: true,
    },
    name: { type: 'string' },
    tool_calls: { type: 'array', items: { type: 'object', additionalProperties: true } },
    tool_call_id: { type: 'string' },
  },
};

/** The gateway's own fields; removed before the request goes to vLLM. */
const EXTENSIONS: Record<string, SchemaObject> = {
  conversation_id: {
    type: 'string',
    format: 'uuid',
    description:
      'Gateway extension: a stored conversation. Its history is sent before `messages`; the new messages and the ' +
      'reply are stored (the reply before the response ends). Another API key’s conversation is a 404.',
  },
  llm_config_id: {
    type: 'string',
    format: 'uuid',
    description:
      'Gateway extension: a named LLM config whose model, sampling defaults, extra_params and system prompt apply ' +
      'where the request sets none.',
  },
  prompt_variables: {
    type: 'object',
    additionalProperties: { type: 'string' },
    description: 'Gateway extension: values for the `{{name}}` placeholders of the config’s system prompt.',
  },
};

const SAMPLING: Record<string, SchemaObject> = {
  model: { type: 'string', description: 'Optional with a single served model or an LLM config that names one.' },
  stream: { type: 'boolean', default: false, description: 'Answer as server-sent events, ending with `[DONE]`.' },
  stream_options: {
    type: 'object',
    properties: { include_usage: { type: 'boolean' } },
    additionalProperties: true,
  },
  temperature: { type: 'number', minimum: 0, maximum: 2 },
  top_p: { type: 'number' },
  max_tokens: { type: 'integer', minimum: 1 },
};

const USAGE: SchemaObject = {
  type: 'object',
  properties: {
    prompt_tokens: { type: 'integer' },
    completion_tokens: { type: 'integer' },
    total_tokens: { type: 'integer' },
  },
};

export const CHAT_REQUEST: SchemaObject = {
  type: 'object',
  required: ['messages'],
  additionalProperties: true,
  description: 'OpenAI’s chat request; every other field vLLM accepts (top_k, min_p, structured_outputs, …) passes.',
  properties: {
    messages: { type: 'array', minItems: 1, items: MESSAGE },
    ...SAMPLING,
    max_completion_tokens: { type: 'integer', minimum: 1 },
    tools: { type: 'array', items: { type: 'object', additionalProperties: true } },
    ...EXTENSIONS,
  },
};

export const CHAT_REQUEST_EXAMPLES = {
  plain: {
    summary: 'A one-off question',
    value: { model: 'my-model', messages: [{ role: 'user', content: 'Hello there' }], max_tokens: 64 },
  },
  streamed: {
    summary: 'Streamed, with the final usage chunk',
    value: {
      messages: [{ role: 'user', content: 'Hello there' }],
      stream: true,
      stream_options: { include_usage: true },
    },
  },
  conversation: {
    summary: 'A turn of a stored conversation, with a named config',
    value: {
      conversation_id: '3f0b1c2d-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
      llm_config_id: '0c1d2e3f-4a5b-4c6d-8e7f-8a9b0c1d2e3f',
      prompt_variables: { shop: 'Acme' },
      messages: [{ role: 'user', content: 'Where is my parcel?' }],
    },
  },
};

/** A completion object of OpenAI's shape: `object` names it, each choice has `index` plus `choice`'s fields. */
function completionSchema(object: string, choice: Record<string, SchemaObject>): SchemaObject {
  return {
    type: 'object',
    properties: {
      id: { type: 'string' },
      object: { type: 'string', enum: [object] },
      created: { type: 'integer' },
      model: { type: 'string' },
      choices: { type: 'array', items: { type: 'object', properties: { index: { type: 'integer' }, ...choice } } },
      usage: USAGE,
    },
  };
}

const CHAT_COMPLETION = completionSchema('chat.completion', {
  message: MESSAGE,
  finish_reason: { type: 'string', nullable: true },
});

const SSE: SchemaObject = {
  type: 'string',
  description: 'Server-sent events: one `data: <JSON chunk>` per event, relayed as vLLM wrote it, then `data: [DONE]`.',
};

/** The 200 answer of a route that answers JSON, or an event stream when the request set `stream: true`. */
function jsonOrStream(schema: SchemaObject, example: object, chunks: readonly object[]): ContentObject {
  return {
    'application/json': { schema, example },
    'text/event-stream': {
      schema: SSE,
      example: [...chunks.map((chunk) => `data: ${JSON.stringify(chunk)}\n\n`), 'data: [DONE]\n\n'].join(''),
    },
  };
}

export const CHAT_RESPONSE = jsonOrStream(
  CHAT_COMPLETION,
  {
    id: 'chatcmpl-4b1e9c52',
    object: 'chat.completion',
    created: 1764583200,
    model: 'my-model',
    choices: [{ index: 0, message: { role: 'assistant', content: 'Hello! How can I help?' }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 10, completion_tokens: 7, total_tokens: 17 },
  },
  [
    {
      id: 'chatcmpl-4b1e9c52',
      object: 'chat.completion.chunk',
      created: 1764583200,
      model: 'my-model',
      choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }],
    },
    {
      id: 'chatcmpl-4b1e9c52',
      object: 'chat.completion.chunk',
      created: 1764583200,
      model: 'my-model',
      choices: [{ index: 0, delta: { content: 'Hello!' }, finish_reason: 'stop' }],
    },
  ],
);

export const COMPLETION_REQUEST: SchemaObject = {
  type: 'object',
  required: ['prompt'],
  additionalProperties: true,
  properties: {
    prompt: {
      oneOf: [
        { type: 'string' },
        { type: 'array', items: { type: 'string' } },
        { type: 'array', items: { type: 'integer' } },
      ],
    },
    ...SAMPLING,
  },
  example: { prompt: 'Once upon a time', max_tokens: 32 },
};

export const COMPLETION_RESPONSE = jsonOrStream(
  completionSchema('text_completion', { text: { type: 'string' }, finish_reason: { type: 'string', nullable: true } }),
  {
    id: 'cmpl-7d2a',
    object: 'text_completion',
    created: 1764583200,
    model: 'my-model',
    choices: [{ index: 0, text: ' there was a gateway.', finish_reason: 'stop' }],
    usage: { prompt_tokens: 4, completion_tokens: 5, total_tokens: 9 },
  },
  [
    {
      id: 'cmpl-7d2a',
      object: 'text_completion',
      created: 1764583200,
      model: 'my-model',
      choices: [{ index: 0, text: ' there was', finish_reason: null }],
    },
  ],
);

export const EMBEDDING_REQUEST: SchemaObject = {
  type: 'object',
  required: ['input'],
  additionalProperties: true,
  properties: {
    input: { oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] },
    model: { type: 'string' },
    encoding_format: { type: 'string', enum: ['float', 'base64'] },
  },
  example: { input: ['first text', 'second text'] },
};

export const EMBEDDING_RESPONSE: ContentObject = {
  'application/json': {
    schema: {
      type: 'object',
      properties: {
        object: { type: 'string', enum: ['list'] },
        model: { type: 'string' },
        data: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              object: { type: 'string', enum: ['embedding'] },
              index: { type: 'integer' },
              embedding: { type: 'array', items: { type: 'number' } },
            },
          },
        },
        usage: USAGE,
      },
    },
    example: {
      object: 'list',
      model: 'my-embedder',
      data: [{ object: 'embedding', index: 0, embedding: [0.0123, -0.0456, 0.0789] }],
      usage: { prompt_tokens: 3, total_tokens: 3 },
    },
  },
};
