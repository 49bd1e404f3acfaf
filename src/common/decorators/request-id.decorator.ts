import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';

/** The request id (a well-formed incoming `X-Request-Id` or a generated UUID), e.g. to forward it upstream. */
export const RequestId = createParamDecorator((_data: unknown, ctx: ExecutionContext): string => {
  const id = ctx.switchToHttp().getRequest<Request>().id;
  // Always a string once createApp's request logger ran; the fallback covers apps built without it.
  return typeof id === 'string' ? id : '';
});
