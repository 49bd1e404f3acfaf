import { SetMetadata } from '@nestjs/common';
import type { ApiKeyScope } from '../../auth/principal.js';

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

/** Open to anyone: rare by design, each use is a decision. */
export const Public = (): MethodDecorator & ClassDecorator =>
  SetMetadata<string, AuthRequirement>(AUTH_REQUIREMENT, { kind: 'public' });

export function Auth(kind: 'api-key', scope: ApiKeyScope): MethodDecorator & ClassDecorator;
export function Auth(kind: 'admin'): MethodDecorator & ClassDecorator;
export function Auth(kind: 'api-key' | 'admin', scope?: ApiKeyScope): MethodDecorator & ClassDecorator {
  const requirement: AuthRequirement = kind === 'admin' ? { kind } : { kind, scope: scope ?? 'chat' };
  return SetMetadata<string, AuthRequirement>(AUTH_REQUIREMENT, requirement);
}
