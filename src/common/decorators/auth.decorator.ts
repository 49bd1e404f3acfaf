import { applyDecorators, SetMetadata } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiForbiddenResponse,
  ApiTooManyRequestsResponse,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { ApiKeyScope } from '../principal.js';
import { OpenAiErrorDto } from '../errors/error-body.dto.js';

/**
 * What a handler requires of the caller. The global guard denies a handler that declares nothing, so every route
 * states one of these (on the handler, or on its controller for all of its handlers).
 * - public: anyone, authentication or not (health, docs, the admin UI's static files, the login itself).
 * - api-key: a client key with `scope` (or anyone when authentication is off).
 * - admin: a valid admin JWT, whether authentication of clients is on or off.
 */
export type AuthRequirement =
  { readonly kind: 'public' } | { readonly kind: 'api-key'; readonly scope: ApiKeyScope } | { readonly kind: 'admin' };

export const AUTH_REQUIREMENT = 'llm-gateway:auth-requirement';

/** The OpenAPI security schemes (bootstrap's Swagger set-up defines them): one per kind of credential. */
export const API_KEY_SECURITY = 'api-key';
export const ADMIN_SECURITY = 'admin-jwt';

/** Open to anyone: rare by design, each use is a decision. */
export const Public = (): MethodDecorator & ClassDecorator =>
  SetMetadata<string, AuthRequirement>(AUTH_REQUIREMENT, { kind: 'public' });

export function Auth(kind: 'api-key', scope: ApiKeyScope): MethodDecorator & ClassDecorator;
export function Auth(kind: 'admin'): MethodDecorator & ClassDecorator;
/**
 * Also documents the requirement: the operation's security scheme and its 401 (and, for a key, the 403 of its scope
 * and the 429 of its limits).
 */
export function Auth(kind: 'api-key' | 'admin', scope?: ApiKeyScope): MethodDecorator & ClassDecorator {
  if (kind === 'admin') {
    return applyDecorators(
      SetMetadata<string, AuthRequirement>(AUTH_REQUIREMENT, { kind }),
      ApiBearerAuth(ADMIN_SECURITY),
      ApiUnauthorizedResponse({ type: OpenAiErrorDto, description: 'No admin token, or not a valid one' }),
    );
  }
  const required = scope ?? 'chat';
  return applyDecorators(
    SetMetadata<string, AuthRequirement>(AUTH_REQUIREMENT, { kind, scope: required }),
    ApiBearerAuth(API_KEY_SECURITY),
    ApiUnauthorizedResponse({ type: OpenAiErrorDto, description: 'No API key, or an unknown, revoked or expired one' }),
    ApiForbiddenResponse({ type: OpenAiErrorDto, description: `The key lacks the '${required}' scope` }),
    ApiTooManyRequestsResponse({
      type: OpenAiErrorDto,
      description: "Over the key's rate_limit_rpm or max_concurrent (rate_limit_error); see Retry-After",
    }),
  );
}
