import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Request, Response } from 'express';
import { randomUUID } from 'node:crypto';
import { AppError } from '../common/errors/app-error.js';
import '../auth/request-principal.js';
import type { RequestContext } from './relay.types.js';

/** The exchange an OpenAI route hands to ChatService, built from the request as the guard left it. */
export const CurrentRequestContext = createParamDecorator((_data: unknown, ctx: ExecutionContext): RequestContext => {
  const http = ctx.switchToHttp();
  const req = http.getRequest<Request>();
  const { principal } = req;
  // The global guard always sets it; without it the request must not fall back to seeing every conversation.
  if (principal === undefined) throw new AppError('forbidden', 'The request was not authorized.');
  // The request logger always sets the id; an app built without it still gets a unique one upstream.
  const requestId = typeof req.id === 'string' && req.id !== '' ? req.id : randomUUID();
  return { req, res: http.getResponse<Response>(), requestId, receivedAt: performance.now(), principal };
});
