import { type CallHandler, type ExecutionContext, Injectable, type NestInterceptor, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import type { Observable } from 'rxjs';
import { addRouteLogFields, type RouteLogFields } from '../logging/http-logger.js';

type IdField = 'conversation_id' | 'llm_config_id' | 'api_key_id';

const ID_PARAM_FIELD = 'llm-gateway:log-id-param';

/** Names what a controller's `:id` path parameter is, so its routes log it as that field. */
export const LogIdParamAs = (field: IdField): ClassDecorator => SetMetadata(ID_PARAM_FIELD, field);

/**
 * The fields a request body names: the model and the gateway's extension ids, when they are strings. Shared with the
 * chat fast lane, which reads the same fields from the same body.
 */
export function bodyLogFields(body: unknown): RouteLogFields {
  if (typeof body !== 'object' || body === null) return {};
  const { model, conversation_id: conversationId, llm_config_id: configId } = body as Record<string, unknown>;
  return {
    model: typeof model === 'string' ? model : undefined,
    conversation_id: typeof conversationId === 'string' ? conversationId : undefined,
    llm_config_id: typeof configId === 'string' ? configId : undefined,
  };
}

/** `ChatController.chatCompletions`: the same spelling in both paths and in the route walk. */
export function handlerName(controller: { name: string }, handler: { name: string }): string {
  return `${controller.name}.${handler.name}`;
}

/**
 * Adds what only the matched route knows to the request's end log line (written by the request logger at the HTTP
 * entry, which also logs requests refused before any route): the route template, the handler, the model and the
 * conversation / config ids. Runs after the guard, so a refused request's line has the path but not these.
 */
@Injectable()
export class RouteLogInterceptor implements NestInterceptor {
  constructor(private readonly reflector: Reflector) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() === 'http') {
      const req = context.switchToHttp().getRequest<Request>();
      const route: unknown = req.route;
      const template = (route as { path?: unknown } | undefined)?.path;
      const fields: RouteLogFields = {
        route: typeof template === 'string' ? template : undefined,
        handler: handlerName(context.getClass(), context.getHandler()),
        ...bodyLogFields(req.body),
      };
      const idField = this.reflector.get<IdField | undefined>(ID_PARAM_FIELD, context.getClass());
      const id = req.params['id'];
      if (idField !== undefined && typeof id === 'string') fields[idField] = id;
      addRouteLogFields(req, fields);
    }
    return next.handle();
  }
}
