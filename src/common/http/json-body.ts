import type { RequestHandler } from 'express';
import type { IncomingMessage } from 'node:http';
import { AppError } from '../errors/app-error.js';

/** The same text as for body-parser's `entity.parse.failed` (error-response.ts): both paths answer alike. */
export const UNPARSABLE_JSON_MESSAGE = 'We could not parse the JSON body of your request.';

/** Thrown when the client goes away before its body has arrived: there is nobody left to answer. */
export class BodyAbortedError extends Error {
  constructor() {
    super('the client closed the connection before its body arrived');
    this.name = 'BodyAbortedError';
  }
}

/**
 * The declared length of a body that reading as UTF-8 and `JSON.parse` handle exactly as Express' JSON body parser
 * would: `application/json`, no charset or UTF-8, not compressed, a Content-Length within `limit`. Anything else
 * (chunked, gzip, UTF-16, another media type, too large) gives undefined, and the caller leaves the request to the
 * body parser, which owns those cases and their errors.
 */
export function plainJsonLength(req: IncomingMessage, limit: number): number | undefined {
  const { headers } = req;
  const declared = headers['content-length'];
  if (declared === undefined || headers['transfer-encoding'] !== undefined) return undefined;
  const encoding = headers['content-encoding'];
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') return undefined;
  const contentType = headers['content-type'];
  if (contentType === undefined || !isPlainJsonType(contentType)) return undefined;
  const length = Number(declared);
  return Number.isSafeInteger(length) && length >= 0 && length <= limit ? length : undefined;
}

/** `application/json`, optionally with `charset=utf-8` and nothing else. */
function isPlainJsonType(contentType: string): boolean {
  const semicolon = contentType.indexOf(';');
  const media = (semicolon === -1 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
  if (media !== 'application/json') return false;
  if (semicolon === -1) return true;
  const params = contentType.slice(semicolon + 1).trim();
  return params === '' || /^charset\s*=\s*"?utf-8"?\s*;?$/i.test(params);
}

export interface JsonBody {
  value: unknown;
  /** The bytes as received. */
  raw: Buffer;
}

/**
 * Reads a body `plainJsonLength` accepted and parses it as body-parser does in its default strict mode: an empty body
 * is `{}`, a leading BOM is dropped, and only an object or an array is accepted at the top level.
 */
export function readJsonBody(req: IncomingMessage, maxDepth: number): Promise<JsonBody> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      received += chunk.length;
    };
    const onEnd = (): void => {
      cleanUp();
      try {
        const [first] = chunks;
        const body = chunks.length === 1 && first !== undefined ? first : Buffer.concat(chunks, received);
        resolve({ value: parseStrictJson(body, maxDepth), raw: body });
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    };
    // 'end' always comes before 'close' when the whole body arrived.
    const onClose = (): void => {
      cleanUp();
      reject(new BodyAbortedError());
    };
    const cleanUp = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('close', onClose);
      req.off('error', onClose);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('close', onClose);
    req.on('error', onClose);
  });
}

function parseStrictJson(body: Buffer, maxDepth: number): unknown {
  assertJsonDepth(body, maxDepth);
  let text = body.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.length === 0) return {};
  const first = firstNonSpace(text);
  if (first !== '{' && first !== '[') throw new AppError('bad_request', UNPARSABLE_JSON_MESSAGE);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // JSON.parse's message quotes the body back: not repeated.
    throw new AppError('bad_request', UNPARSABLE_JSON_MESSAGE);
  }
}

/** body-parser's strict-mode test looks past JSON whitespace only. */
function firstNonSpace(text: string): string | undefined {
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c !== ' ' && c !== '\t' && c !== '\n' && c !== '\r') return c;
  }
  return undefined;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;

/**
 * The deepest nesting of `{` / `[` in a JSON text, counted on its bytes: one pass, no allocation, brackets inside
 * strings skipped. Run before `JSON.parse`, so a body nested thousands deep is refused before anything recurses over
 * it (class-transformer overflows the stack near 5,000 levels). Malformed text gives some number: JSON.parse refuses
 * it next anyway.
 */
export function jsonDepth(bytes: Uint8Array, stopAbove = Infinity): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i];
    if (inString) {
      if (byte === BACKSLASH) i++;
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) {
      inString = true;
    } else if (byte === OPEN_OBJECT || byte === OPEN_ARRAY) {
      if (++depth > deepest) {
        deepest = depth;
        if (deepest > stopAbove) return deepest;
      }
    } else if (byte === CLOSE_OBJECT || byte === CLOSE_ARRAY) {
      depth--;
    }
  }
  return deepest;
}

/** Throws the 400 both body readers answer for a body nested deeper than `maxDepth` (JSON_MAX_DEPTH). */
export function assertJsonDepth(bytes: Uint8Array, maxDepth: number): void {
  if (jsonDepth(bytes, maxDepth) > maxDepth) throw tooDeep(maxDepth);
}

function tooDeep(maxDepth: number): AppError {
  return new AppError(
    'bad_request',
    `The JSON body is nested deeper than the limit of ${maxDepth} levels (JSON_MAX_DEPTH).`,
  );
}

/** True when a parsed value nests objects/arrays deeper than `maxDepth`; it never descends below that depth. */
export function valueTooDeep(value: unknown, maxDepth: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (maxDepth === 0) return true;
  if (Array.isArray(value)) {
    for (const item of value) if (valueTooDeep(item, maxDepth - 1)) return true;
    return false;
  }
  for (const key in value) {
    if (valueTooDeep((value as Record<string, unknown>)[key], maxDepth - 1)) return true;
  }
  return false;
}

/**
 * Express middleware for the body parser's output: the same 400 as the fast lane's byte scan (`assertJsonDepth`),
 * for the same bodies (a level is one object or array on both).
 */
export function jsonDepthGuard(maxDepth: number): RequestHandler {
  return (req, _res, next) => {
    next(valueTooDeep(req.body, maxDepth) ? tooDeep(maxDepth) : undefined);
  };
}
