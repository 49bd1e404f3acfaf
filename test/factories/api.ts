import { randomUUID } from 'node:crypto';

export interface ApiResponse<T = Record<string, unknown>> {
  status: number;
  body: T;
}

export interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | number | null };
}

/** JSON calls against a running gateway, with `headers` on each (e.g. a key); an empty body (204) comes back as {}. */
export function jsonApi(baseUrl: string, headers: Record<string, string> = {}) {
  return async function call<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<ApiResponse<T>> {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: body === undefined ? headers : { ...headers, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text === '' ? {} : JSON.parse(text)) as T };
  };
}

export type JsonApi = ReturnType<typeof jsonApi>;

export interface ConversationBody {
  id: string;
  object: string;
  title: string | null;
  llm_config_id: string | null;
  metadata: Record<string, string>;
  created_at: number;
  updated_at: number;
}

export interface LlmConfigBody {
  id: string;
  object: string;
  name: string;
  model: string | null;
  temperature: number | null;
  top_p: number | null;
  max_tokens: number | null;
  system_prompt: string | null;
  extra_params: Record<string, unknown>;
  is_default: boolean;
  created_at: number;
  updated_at: number;
}

/** A conversation made through the API; fails the test when the API refuses it. */
export async function postConversation(call: JsonApi, body: Record<string, unknown> = {}): Promise<ConversationBody> {
  const res = await call<ConversationBody>('POST', '/v1/conversations', body);
  if (res.status !== 201) throw new Error(`POST /v1/conversations: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** An LLM config made through the API, with a unique name unless one is given. */
export async function postLlmConfig(call: JsonApi, body: Record<string, unknown> = {}): Promise<LlmConfigBody> {
  const res = await call<LlmConfigBody>('POST', '/v1/llm-configs', { name: `config-${randomUUID()}`, ...body });
  if (res.status !== 201) throw new Error(`POST /v1/llm-configs: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}
