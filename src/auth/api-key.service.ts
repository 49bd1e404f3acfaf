import { Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppError } from '../common/errors/app-error.js';
import { sendError } from '../common/filters/all-exceptions.filter.js';
import { AppConfig } from '../config/app-config.js';

function digest(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/**
 * Client authentication with the static keys of `API_KEY` (when `ENABLE_AUTH` is true): an in-memory set of their
 * SHA-256 digests, so a check is one hash and one lookup, never a database query, and the comparison does not run
 * over the key's own characters. Keys are never echoed in an error or a log line.
 */
@Injectable()
export class ApiKeyService {
  /** Undefined when authentication is off. */
  private readonly digests: ReadonlySet<string> | undefined;

  constructor(config: AppConfig) {
    this.digests = config.auth.enabled ? new Set(config.auth.apiKeys.map(digest)) : undefined;
  }

  /** Throws a 401 unless authentication is off or `authorization` is `Bearer <one of the keys>`. */
  check(authorization: string | undefined): void {
    if (this.digests === undefined) return;
    const match = authorization === undefined ? null : /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
    const key = match?.[1];
    if (key === undefined) {
      throw new AppError('unauthorized', 'Missing API key: send it as "Authorization: Bearer <key>".');
    }
    if (!this.digests.has(digest(key))) throw new AppError('unauthorized', 'Invalid API key.');
  }

  /**
   * For the two places that admit API requests (Express' `/v1` middleware and the chat fast lane): true when the
   * request may go on, else the 401 is written (before the body is read) and false returned.
   */
  admits(req: IncomingMessage, res: ServerResponse): boolean {
    try {
      this.check(req.headers.authorization);
      return true;
    } catch (err) {
      sendError(err, res);
      return false;
    }
  }
}
