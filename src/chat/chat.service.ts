import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { assertChatBody, assertCompletionBody, assertEmbeddingBody, upstreamBody } from './chat-request.js';
import { RelayService } from './relay.service.js';
import type { Exchange, RelayPlan } from './relay.types.js';

/**
 * The OpenAI routes. Each request goes validate → plan → relay → settle. The plan step is where conversation and
 * config resolution plugs in (only when the extension fields are present): it may rewrite the body, choose a sticky
 * key and attach an `onSettled` hook that stores the reply after the client has it.
 */
@Injectable()
export class ChatService {
  constructor(
    private readonly config: AppConfig,
    private readonly relay: RelayService,
  ) {}

  async chatCompletions(body: unknown, exchange: Exchange): Promise<void> {
    assertChatBody(body);
    const plan: RelayPlan = { body: upstreamBody(body, this.config.defaultTemperature) };
    await this.relay.relay('/v1/chat/completions', plan, exchange);
  }

  async completions(body: unknown, exchange: Exchange): Promise<void> {
    assertCompletionBody(body);
    await this.relay.relay('/v1/completions', { body: upstreamBody(body, this.config.defaultTemperature) }, exchange);
  }

  async embeddings(body: unknown, exchange: Exchange): Promise<void> {
    assertEmbeddingBody(body);
    await this.relay.relay('/v1/embeddings', { body }, exchange);
  }
}
