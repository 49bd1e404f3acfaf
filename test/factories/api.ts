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

/** The header for a client key or an admin token. */
export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

/** An admin token from `POST /admin/auth/login` as `admin`; fails the test when the login is refused. */
export async function adminToken(baseUrl: string, password: string): Promise<string> {
  const login = await jsonApi(baseUrl)<{ access_token: string }>('POST', '/admin/auth/login', {
    username: 'admin',
    password,
  });
  if (login.status !== 200) throw new Error(`POST /admin/auth/login: ${login.status} ${JSON.stringify(login.body)}`);
  return login.body.access_token;
}

/** JSON calls to the admin API, signed in as `admin`. */
export async function adminApi(baseUrl: string, password: string): Promise<JsonApi> {
  return jsonApi(baseUrl, bearer(await adminToken(baseUrl, password)));
}

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
