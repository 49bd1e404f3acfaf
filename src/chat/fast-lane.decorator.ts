import { SetMetadata } from '@nestjs/common';
import type { RequestContext } from './relay.types.js';

export const FAST_LANE = 'llm-gateway:fast-lane';

/** What a fast-lane handler must look like: the lane calls it with the parsed body and the exchange it built. */
export type FastLaneHandler = (body: unknown, exchange: RequestContext) => Promise<void>;

/**
 * Marks a `POST` handler that the chat fast lane (chat-fast-lane.ts) also serves, ahead of Express, for plain JSON
 * bodies. The lane takes the route's path and access requirement from the handler's own metadata, so the marked
 * handler stays the one definition of the route. The signature is checked by the type: the lane passes exactly the
 * body and the exchange.
 */
export function FastLane(): <T extends FastLaneHandler>(
  target: object,
  key: string | symbol,
  descriptor: TypedPropertyDescriptor<T>,
) => void {
  return (target, key, descriptor) => {
    SetMetadata(FAST_LANE, true)(target, key, descriptor);
  };
}
