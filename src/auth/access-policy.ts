import { Injectable } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import type { AuthRequirement } from '../common/decorators/auth.decorator.js';
import { AppError } from '../common/errors/app-error.js';
import { AppConfig } from '../config/app-config.js';
import { AdminAuthService } from './admin-auth.service.js';
import { ApiKeyService } from './api-key.service.js';
import type { ResponseEnd } from './key-gate.js';
import { ANONYMOUS, type Principal } from '../common/principal.js';

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/** Requests admitted before their body was read, with what they were admitted for (entries go with their request). */
const admittedAhead = new WeakMap<
  IncomingMessage,
  { readonly requirement: AuthRequirement; readonly principal: Principal }
>();

/** What a handler that declares no requirement gets, whoever checks it. */
export function closedRoute(): AppError {
  return new AppError('forbidden', 'This route declares no access requirement, so it is closed.');
}

function sameRequirement(a: AuthRequirement, b: AuthRequirement): boolean {
  return a.kind === b.kind && (a.kind !== 'api-key' || b.kind !== 'api-key' || a.scope === b.scope);
}

/**
 * The one access policy: what a route requires (its `@Public()` / `@Auth(...)` metadata) and the request's
 * Authorization header give the principal it acts as, or an error. The global guard and the chat fast lane both call
 * it, so both paths decide alike. Only in-memory work: a hash and a map lookup for a client key, an HMAC for an admin
 * token.
 *
 * A client key never opens an admin route and an admin token is never a client key: each requirement looks its
 * credential up in its own place only.
 */
@Injectable()
export class AccessPolicy {
  constructor(
    private readonly config: AppConfig,
    private readonly keys: ApiKeyService,
    private readonly admin: AdminAuthService,
  ) {}

  /**
   * Throws 401 (no or bad credential), 403 (a key without the scope) or 429 (over the key's limits); else returns
   * who the request acts for. An admitted key request holds one of its key's concurrency slots until `response`
   * closes.
   */
  authorize(requirement: AuthRequirement, authorization: string | undefined, response: ResponseEnd): Principal {
    switch (requirement.kind) {
      case 'public':
        return ANONYMOUS;
      case 'api-key': {
        // Authentication off: everything is shared, as before keys existed.
        if (!this.config.auth.enabled) return ANONYMOUS;
        const { principal, gate } = this.keys.lookup(bearer(authorization, 'API key'));
        if (!principal.scopes.includes(requirement.scope)) {
          throw new AppError('forbidden', `This API key lacks the '${requirement.scope}' scope.`);
        }
        gate?.admit(response);
        return principal;
      }
      case 'admin':
        return this.admin.authenticate(bearer(authorization, 'admin token'));
    }
  }

  /**
   * `authorize` for a request whose body has not been read yet (`Expect: 100-continue`, ahead of Express' body
   * parser). The guard later takes the principal from here for the same requirement: authorizing the request again
   * would spend a second rate-limit token and hold a second concurrency slot for its one response.
   */
  authorizeAhead(requirement: AuthRequirement, req: IncomingMessage, response: ResponseEnd): void {
    const principal = this.authorize(requirement, req.headers.authorization, response);
    admittedAhead.set(req, { requirement, principal });
  }

  /** The guard's check: the principal `authorizeAhead` admitted for this same requirement, else `authorize`. */
  authorizeRequest(requirement: AuthRequirement, req: IncomingMessage, response: ResponseEnd): Principal {
    const ahead = admittedAhead.get(req);
    if (ahead !== undefined && sameRequirement(ahead.requirement, requirement)) return ahead.principal;
    return this.authorize(requirement, req.headers.authorization, response);
  }
}

/** `Bearer <token>` as nearly every client writes it: one space, no trailing blank. */
function plainBearer(authorization: string): string | undefined {
  if (!authorization.startsWith('Bearer ') || authorization.length === 7) return undefined;
  const token = authorization.slice(7);
  return /\s/.test(token) ? undefined : token;
}

function bearer(authorization: string | undefined, what: 'API key' | 'admin token'): string {
  const token =
    authorization === undefined ? undefined : (plainBearer(authorization) ?? BEARER.exec(authorization)?.[1]);
  if (token === undefined) {
    const code = what === 'API key' ? 'unauthorized' : 'invalid_token';
    throw new AppError(
      code,
      `Missing ${what}: send it as "Authorization: Bearer <${what === 'API key' ? 'key' : 'token'}>".`,
    );
  }
  return token;
}
