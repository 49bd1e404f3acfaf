import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { AppError } from '../common/errors/app-error.js';
import type { Principal } from '../common/principal.js';

declare module 'http' {
  interface IncomingMessage {
    /** Set by the global guard (or the chat fast lane) once the access policy admitted the request. */
    principal?: Principal;
  }
}

/** Who the request acts for, as the guard established it. */
export const CurrentPrincipal = createParamDecorator((_data: unknown, ctx: ExecutionContext): Principal => {
  const { principal } = ctx.switchToHttp().getRequest<IncomingMessage>();
  // The global guard always sets it; a handler reached some other way must not fall back to seeing everything.
  if (principal === undefined) throw new AppError('forbidden', 'The request was not authorized.');
  return principal;
});
