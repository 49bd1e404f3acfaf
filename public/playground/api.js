/**
 * The playground's calls to the gateway's /v1 API, made exactly as any client makes them: with the API key the user
 * entered (kept in localStorage, so it is remembered across visits; only this origin's pages can read it), or with
 * no Authorization header at all when none is set, which is what a gateway with auth off expects.
 */

const KEY_STORAGE = 'llm-gateway.playground.api-key';

export function loadKey() {
  return localStorage.getItem(KEY_STORAGE) ?? '';
}

/** @param {string} key an empty key forgets the stored one */
export function saveKey(key) {
  if (key === '') localStorage.removeItem(KEY_STORAGE);
  else localStorage.setItem(KEY_STORAGE, key);
}

/** Raised for every answer that is not 2xx, and for an error event inside a stream. */
export class ApiError extends Error {
  /** @param {number} status @param {string} message */
  constructor(status, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}

function headers(hasBody, accept) {
  const result = { Accept: accept };
  if (hasBody) result['Content-Type'] = 'application/json';
  const key = loadKey();
  if (key !== '') result.Authorization = `Bearer ${key}`;
  return result;
}

async function errorFrom(res) {
  let message = `The gateway answered ${res.status} ${res.statusText}`.trim();
  try {
    const body = await res.json();
    if (typeof body?.error?.message === 'string' && body.error.message !== '') message = body.error.message;
  } catch {
    // Not OpenAI's error body: the status line says enough.
  }
  return new ApiError(res.status, message);
}

async function request(method, path, { body, signal, accept = 'application/json' } = {}) {
  let res;
  try {
    res = await fetch(path, {
      method,
      headers: headers(body !== undefined, accept),
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiError(0, 'The gateway cannot be reached. Check your connection and try again.');
  }
  if (!res.ok) throw await errorFrom(res);
  return res;
}

/** A JSON call. */
export async function api(method, path, body) {
  const res = await request(method, path, { body });
  return res.json();
}

/** Where one SSE event ends: a blank line, whichever line endings the server uses. */
const EVENT_END = /\r\n\r\n|\n\n|\r\r/;

/**
 * Streams a chat completion: yields each `chat.completion.chunk` as its event arrives, read from the response body
 * as it comes in (fetch + ReadableStream; EventSource cannot POST). Ends at `data: [DONE]`. An error event (the
 * gateway sends one when vLLM fails mid-stream) is thrown as an ApiError. Aborting `signal` cancels the request: the
 * gateway sees the connection close, stops vLLM's generation and stores the reply as `aborted`.
 * @param {Record<string, unknown>} body
 * @param {AbortSignal} signal
 */
export async function* streamChat(body, signal) {
  const res = await request('POST', '/v1/chat/completions', {
    body: { ...body, stream: true },
    signal,
    accept: 'text/event-stream',
  });
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      for (let end = EVENT_END.exec(buffer); end !== null; end = EVENT_END.exec(buffer)) {
        const event = buffer.slice(0, end.index);
        buffer = buffer.slice(end.index + end[0].length);
        const data = event
          .split(/\r\n|\n|\r/)
          .filter((line) => line.startsWith('data:'))
          .map((line) => line.slice(5).replace(/^ /, ''))
          .join('\n');
        if (data === '') continue;
        if (data === '[DONE]') return;
        const chunk = JSON.parse(data);
        if (chunk?.error) throw new ApiError(500, chunk.error.message ?? 'The stream failed');
        yield chunk;
      }
    }
  } finally {
    reader.releaseLock();
  }
}
