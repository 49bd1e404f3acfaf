import { Injectable } from '@nestjs/common';
import type { JsonObject } from '../common/json.js';
import { AppConfig } from '../config/app-config.js';
import { ownerScope } from '../common/principal.js';
import { ChatMemoryService, namesConversationOrConfig } from '../conversations/chat-memory.service.js';
import { assertChatBody, assertCompletionBody, assertEmbeddingBody, upstreamBody } from './chat-request.js';
import { RelayService } from './relay.service.js';
import type { RequestContext, RelayPlan } from './relay.types.js';

/**
 * The OpenAI routes. Each request goes validate → plan → relay → settle. The plan step is where conversation and
 * config resolution plugs in (only when the extension fields are present): it may rewrite the body, choose a sticky
 * key and attach the recorder that stores the reply before the client's last byte.
 */
@Injectable()
export class ChatService {
  constructor(
    private readonly config: AppConfig,
    private readonly relay: RelayService,
    private readonly memory: ChatMemoryService,
  ) {}

  async chatCompletions(body: unknown, exchange: RequestContext): Promise<void> {
    assertChatBody(body, this.config.maxMessages);
    await this.relay.relay('/v1/chat/completions', await this.planChat(body, exchange), exchange);
  }

  async completions(body: unknown, exchange: RequestContext): Promise<void> {
    assertCompletionBody(body);
    await this.relay.relay(
      '/v1/completions',
      statelessPlan(body, upstreamBody(body, this.config.defaultTemperature), exchange),
      exchange,
    );
  }

  async embeddings(body: unknown, exchange: RequestContext): Promise<void> {
    assertEmbeddingBody(body);
    await this.relay.relay('/v1/embeddings', statelessPlan(body, body, exchange), exchange);
  }

  /**
   * A plain request goes out as it came, without touching the database. With `llm_config_id` or `conversation_id`
   * the config is applied and, for a conversation, the history added and the request's messages stored; the relay
   * then gets the turn's recorder, which stores the reply before the client's last byte.
   */
  private async planChat(body: JsonObject, exchange: RequestContext): Promise<RelayPlan> {
    if (!namesConversationOrConfig(body)) {
      return statelessPlan(body, upstreamBody(body, this.config.defaultTemperature), exchange);
    }
    const prepared = await this.memory.prepare(body, {
      requestId: exchange.requestId,
      receivedAt: exchange.receivedAt,
      owner: ownerScope(exchange.principal),
    });
    return {
      body: upstreamBody(prepared.body, this.config.defaultTemperature),
      stickyKey: prepared.stickyKey,
      recorder: prepared.recorder,
      llmConfigId: prepared.llmConfigId,
      conversationId: prepared.conversationId,
    };
  }
}

/** A stateless plan; the client's bytes go to vLLM when the body going out is the very object they parsed to. */
function statelessPlan(received: JsonObject, outgoing: JsonObject, exchange: RequestContext): RelayPlan {
  return outgoing === received && exchange.rawBody !== undefined
    ? { body: outgoing, payload: exchange.rawBody }
    : { body: outgoing };
}
