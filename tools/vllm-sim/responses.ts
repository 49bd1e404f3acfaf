// Wire bodies, built as strings in vLLM's field order. Streaming chunks are concatenated from a per-request prefix
// instead of JSON.stringify-ing an object per token, which keeps thousands of concurrent streams cheap.

import type { FinishReason } from './generation.js';

export interface Usage {
  prompt: number;
  completion: number;
}

export function errorBody(message: string, type: string, param: string | null, code: number): string {
  return JSON.stringify({ error: { message, type, param, code } });
}

/** vLLM's flat error shape from before 2025-08-07 (PR #22099). */
export function legacyErrorBody(message: string, type: string, param: string | null, code: number): string {
  return JSON.stringify({ object: 'error', message, type, param, code });
}

export const MID_STREAM_ERROR = errorBody('Internal server error', 'InternalServerError', null, 500);

export const SSE_DONE = 'data: [DONE]\n\n';

/** Usage as streamed (exclude_unset: no prompt_tokens_details). */
function streamUsage(u: Usage): string {
  return `{"prompt_tokens":${u.prompt},"completion_tokens":${u.completion},"total_tokens":${u.prompt + u.completion}}`;
}

/** Usage as in full responses (model_dump: prompt_tokens_details present, null). */
function fullUsage(u: Usage): string {
  return (
    `{"prompt_tokens":${u.prompt},"total_tokens":${u.prompt + u.completion},` +
    `"completion_tokens":${u.completion},"prompt_tokens_details":null}`
  );
}

export type ApiKind = 'chat' | 'completion';

/** Builds the SSE events of one streamed chat or text completion. */
export class StreamFormatter {
  private readonly head: string;

  constructor(
    readonly kind: ApiKind,
    id: string,
    created: number,
    model: string,
  ) {
    const object = kind === 'chat' ? 'chat.completion.chunk' : 'text_completion';
    this.head = `data: {"id":${JSON.stringify(id)},"object":"${object}","created":${created},"model":${JSON.stringify(model)},"choices":`;
  }

  /** The chat role chunk; vLLM sends it with the first token. */
  role(usage: Usage | null): string {
    return (
      this.head +
      '[{"index":0,"delta":{"role":"assistant","content":"","reasoning_content":null},"logprobs":null,"finish_reason":null}]' +
      (usage ? `,"usage":${streamUsage(usage)}` : '') +
      ',"prompt_token_ids":null}\n\n'
    );
  }

  token(text: string, finish: FinishReason | null, usage: Usage | null): string {
    const u = usage ? `,"usage":${streamUsage(usage)}` : '';
    const fin = finish === null ? '"finish_reason":null' : `"finish_reason":"${finish}","stop_reason":null`;
    if (this.kind === 'chat') {
      return (
        this.head +
        `[{"index":0,"delta":{"content":${JSON.stringify(text)},"reasoning_content":null},"logprobs":null,${fin},"token_ids":null}]` +
        u +
        '}\n\n'
      );
    }
    // Completions set every choice field explicitly, so stop_reason and the id lists are always present.
    return (
      this.head +
      `[{"index":0,"text":${JSON.stringify(text)},"logprobs":null,"finish_reason":${finish === null ? 'null' : `"${finish}"`},` +
      '"stop_reason":null,"prompt_token_ids":null,"token_ids":null}]' +
      u +
      '}\n\n'
    );
  }

  usage(usage: Usage): string {
    return this.head + `[],"usage":${streamUsage(usage)}}\n\n`;
  }
}

export function chatCompletionBody(
  id: string,
  created: number,
  model: string,
  content: string,
  finish: FinishReason,
  usage: Usage,
): string {
  return (
    `{"id":${JSON.stringify(id)},"object":"chat.completion","created":${created},"model":${JSON.stringify(model)},` +
    `"choices":[{"index":0,"message":{"role":"assistant","content":${JSON.stringify(content)},"refusal":null,` +
    '"annotations":null,"audio":null,"function_call":null,"tool_calls":[],"reasoning":null,"reasoning_content":null},' +
    `"logprobs":null,"finish_reason":"${finish}","stop_reason":null,"token_ids":null}],` +
    `"service_tier":null,"system_fingerprint":null,"usage":${fullUsage(usage)},` +
    '"prompt_logprobs":null,"prompt_token_ids":null,"kv_transfer_params":null}'
  );
}

export function textCompletionBody(
  id: string,
  created: number,
  model: string,
  text: string,
  finish: FinishReason,
  usage: Usage,
): string {
  return (
    `{"id":${JSON.stringify(id)},"object":"text_completion","created":${created},"model":${JSON.stringify(model)},` +
    `"choices":[{"index":0,"text":${JSON.stringify(text)},"logprobs":null,"finish_reason":"${finish}",` +
    '"stop_reason":null,"token_ids":null,"prompt_logprobs":null,"prompt_token_ids":null}],' +
    `"service_tier":null,"system_fingerprint":null,"usage":${fullUsage(usage)},"kv_transfer_params":null}`
  );
}

export function embeddingsBody(
  id: string,
  created: number,
  model: string,
  data: readonly (number[] | string)[],
  promptTokens: number,
): string {
  const items = data.map((e, index) => ({ index, object: 'embedding', embedding: e }));
  return JSON.stringify({
    id,
    object: 'list',
    created,
    model,
    data: items,
    usage: {
      prompt_tokens: promptTokens,
      total_tokens: promptTokens,
      completion_tokens: 0,
      prompt_tokens_details: null,
    },
  });
}

export function modelsBody(names: readonly string[], maxModelLen: number, created: number): string {
  return JSON.stringify({
    object: 'list',
    data: names.map((id) => ({
      id,
      object: 'model',
      created,
      owned_by: 'vllm',
      root: names[0],
      parent: null,
      max_model_len: maxModelLen,
      permission: [
        {
          id: `modelperm-${randomHex(16)}`,
          object: 'model_permission',
          created,
          allow_create_engine: false,
          allow_sampling: true,
          allow_logprobs: true,
          allow_search_indices: false,
          allow_view: true,
          allow_fine_tuning: false,
          organization: '*',
          group: null,
          is_blocking: false,
        },
      ],
    })),
  });
}

const HEX = '0123456789abcdef';

/** Random lowercase hex; Math.random is enough for ids and far cheaper than crypto on the hot path. */
export function randomHex(length: number): string {
  let s = '';
  for (let i = 0; i < length; i++) s += HEX[Math.floor(Math.random() * 16)] ?? '0';
  return s;
}
