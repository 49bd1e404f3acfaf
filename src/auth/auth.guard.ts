import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AUTH_REQUIREMENT, type AuthRequirement } from '../common/decorators/auth.decorator.js';
import { AccessPolicy, closedRoute } from './access-policy.js';
import './request-principal.js';

/** The requirement a handler declares (on itself, else on its controller); undefined when it declares none. */
export function requirementOf(
  reflector: Reflector,
  handler: ReturnType<ExecutionContext['getHandler']>,
  controller: ReturnType<ExecutionContext['getClass']>,
): AuthRequirement | undefined {
  return reflector.getAllAndOverride<AuthRequirement | undefined>(AUTH_REQUIREMENT, [handler, controller]);
}

/**
 * The global guard (APP_GUARD): every handler must declare `@Public()` or `@Auth(...)`; one that declares nothing is
 * refused, so a forgotten decorator closes a route instead of opening it. The principal the policy returns is put on
 * the request for the handler (`@CurrentPrincipal()`).
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly policy: AccessPolicy,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const requirement = requirementOf(this.reflector, context.getHandler(), context.getClass());
    if (requirement === undefined) throw closedRoute();
    const http = context.switchToHttp();
    const req = http.getRequest<IncomingMessage>();
    req.principal = this.policy.authorizeRequest(requirement, req, http.getResponse<ServerResponse>());
    return true;
  }
}
