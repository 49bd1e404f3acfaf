import { AppError } from '../common/errors/app-error.js';
import { isJsonObject } from '../common/json.js';

/** Longest upstream text quoted in a message when vLLM answered with something that is not its JSON error. */
const MAX_QUOTED = 500;

export interface ParsedUpstreamError {
  message: string;
  type: string | undefined;
  param: string | null;
}

/**
 * Reads a vLLM error body in any of the shapes it has used (tools/vllm-sim/CONTRACT.md §5):
 * - current, nested: `{"error":{"message","type","param","code"}}`
 * - legacy, flat (≤ v0.10): `{"object":"error","message","type","param","code"}`
 * - plain string: `{"error":"Unauthorized"}` (API-key middleware, elastic-EP scaling)
 * - FastAPI's default `{"detail": …}` (e.g. an unknown route)
 * and falls back to the raw text, or to the status alone for an empty body (an engine death in Jan-2026 vLLM).
 */
export function parseUpstreamError(status: number, body: Buffer | string): ParsedUpstreamError {
  const text = (typeof body === 'string' ? body : body.toString('utf8')).trim();
  const fallback: ParsedUpstreamError = {
    message: text === '' ? `vLLM answered HTTP ${status}` : `vLLM answered HTTP ${status}: ${truncate(text)}`,
    type: undefined,
    param: null,
  };
  if (text === '') return fallback;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return fallback;
  }
  if (!isJsonObject(json)) return fallback;

  const nested = json['error'];
  if (isJsonObject(nested)) return fromFields(nested, fallback);
  if (typeof nested === 'string') return { message: nested, type: undefined, param: null };
  if (typeof json['message'] === 'string') return fromFields(json, fallback);

  const detail = json['detail'];
  if (typeof detail === 'string') return { message: detail, type: undefined, param: null };
  if (detail !== undefined)
    return { ...fallback, message: `vLLM answered HTTP ${status}: ${truncate(JSON.stringify(detail))}` };
  return fallback;
}

/**
 * The `AppError` that carries vLLM's status, type and message (at most `maxMessageChars` of it) to the client. A 401
 * or 403 is vLLM refusing the gateway's own credentials (VLLM_API_KEY), not the client's: relayed as such it would
 * tell a client with a valid key that its key is wrong, so it is a 502 that names the cause and quotes nothing.
 */
export function upstreamError(status: number, body: Buffer | string, maxMessageChars = Infinity): AppError {
  if (status === 401 || status === 403) {
    return new AppError(
      'bad_gateway',
      `vLLM refused the gateway's credentials (HTTP ${status}); the gateway's VLLM_API_KEY needs fixing`,
    );
  }
  const parsed = parseUpstreamError(status, body);
  const message =
    parsed.message.length > maxMessageChars ? `${parsed.message.slice(0, maxMessageChars)}…` : parsed.message;
  return new AppError('upstream_error', message, { status, type: parsed.type, param: parsed.param });
}

function fromFields(fields: Record<string, unknown>, fallback: ParsedUpstreamError): ParsedUpstreamError {
  const message = fields['message'];
  const type = fields['type'];
  const param = fields['param'];
  return {
    message: typeof message === 'string' && message !== '' ? message : fallback.message,
    type: typeof type === 'string' && type !== '' ? type : undefined,
    param: typeof param === 'string' ? param : null,
  };
}

function truncate(text: string): string {
  return text.length > MAX_QUOTED ? `${text.slice(0, MAX_QUOTED)}…` : text;
}

/** Thrown (or raised by a stream's iteration) once the caller has cancelled: the client has gone. */
export class UpstreamCancelledError extends Error {
  constructor() {
    super('The client went away; the upstream request was aborted');
    this.name = 'UpstreamCancelledError';
  }
}
