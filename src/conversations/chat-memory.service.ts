import { Injectable } from '@nestjs/common';
import type { JsonObject } from '../common/json.js';
import { AppConfig } from '../config/app-config.js';
import type { ReplyRecorder } from '../vllm/relay-outcome.js';
import { assertStorable, fromRequestMessage } from './stored-message.js';
import { replayedHistory } from './turn/replay.js';
import { RequestResolver } from './turn/request-resolver.js';
import { TurnBudget } from './turn/turn-budget.js';
import { TurnRecorder } from './turn/turn-recorder.js';
import { applyConfig, replyReserve, systemMessages, turnUpstreamBody } from './turn/upstream-body.js';

export interface ChatRequestContext {
  /** The gateway's request id, stored with the turn's messages. */
  requestId: string;
  /** performance.now() when the request arrived: the start of the stored TTFT and duration. */
  receivedAt: number;
  /** The owner whose conversations the request may use; null: any (admin, or authentication off). */
  owner: string | null;
}

export interface PreparedChat {
  /** Exactly what vLLM should receive (the extension fields removed). */
  body: JsonObject;
  /** Keeps a conversation on one upstream, for its prefix cache. */
  stickyKey?: string;
  /** A conversation turn's hooks for the relay: its messages are stored, its reply is stored through these. */
  recorder?: ReplyRecorder;
  /** The LLM config applied (the request's, else the conversation's or the default one), for usage accounting. */
  llmConfigId?: string;
  /** The conversation the turn belongs to, for usage accounting. */
  conversationId?: string;
}

/** True when the request names a conversation or an LLM config; a request that names neither needs no database. */
export function namesConversationOrConfig(body: JsonObject): boolean {
  return isPresent(body['conversation_id']) || isPresent(body['llm_config_id']);
}

function isPresent(value: unknown): boolean {
  return value !== undefined && value !== null;
}

/**
 * Chat with memory. A request that names only a config gets the config applied. A conversation turn runs the steps
 * of `turn/`, each once and in this order: resolve the ids (and the owner's right to the conversation) → budget the
 * history against the context window → build the upstream body → store the new messages → hand the relay the
 * recorder, which commits the reply before the client's last byte and fills in token counts afterwards.
 */
@Injectable()
export class ChatMemoryService {
  constructor(
    private readonly resolver: RequestResolver,
    private readonly budget: TurnBudget,
    private readonly recorder: TurnRecorder,
    private readonly config: AppConfig,
  ) {}

  async prepare(body: JsonObject, context: ChatRequestContext): Promise<PreparedChat> {
    const resolved = await this.resolver.resolve(body, context.owner);
    const withConfig = applyConfig(body, resolved.config);
    const system = systemMessages(resolved.requestSystem, resolved.config, resolved.variables);
    const { conversation, rest } = resolved;
    if (conversation === undefined) {
      withConfig['messages'] = [...system, ...rest];
      return { body: withConfig, llmConfigId: resolved.config?.id };
    }

    assertStorable(rest, this.config.limits.maxStoredMessageBytes, resolved.requestSystem.length);
    const { id: conversationId, context: stored } = conversation;
    const model = typeof withConfig['model'] === 'string' ? withConfig['model'] : undefined;
    const fitted = await this.budget.fit({
      model,
      reserveTokens: replyReserve(withConfig),
      system,
      history: replayedHistory(stored.history),
      complete: stored.complete,
      lastSeq: stored.lastSeq,
      rest,
      requestId: context.requestId,
      conversationId,
    });
    const upstream = turnUpstreamBody(withConfig, { system, history: fitted.kept, rest });

    const newMessages = rest.map((m, i) => ({ ...fromRequestMessage(m), tokenCount: fitted.newCounts[i] ?? null }));
    const replySeq = await this.recorder.storeRequest(
      conversationId,
      newMessages,
      context.requestId,
      fitted.newContextStart,
    );
    const recorder = this.recorder.recorder({
      conversationId,
      replySeq,
      newMessages: rest,
      newCounts: fitted.newCounts,
      historyCounts: fitted.historyCounts,
      model,
      requestId: context.requestId,
      receivedAt: context.receivedAt,
      hideUsageChunk: upstream.hideUsageChunk,
    });
    return {
      body: upstream.body,
      stickyKey: conversationId,
      recorder,
      llmConfigId: resolved.config?.id,
      conversationId,
    };
  }
}
