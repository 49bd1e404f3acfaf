import { Injectable } from '@nestjs/common';
import { AppError } from '../../common/errors/app-error.js';
import type { JsonObject } from '../../common/json.js';
import { isUuid } from '../../common/uuid.js';
import type { LlmConfig } from '../../llm-configs/llm-config.entity.js';
import { LlmConfigsService } from '../../llm-configs/llm-configs.service.js';
import type { PromptVariables } from '../../llm-configs/prompt-template.js';
import { type HistoryBounds, MessageStore, type TurnContext } from './message-store.js';
import { splitLeadingSystem } from './upstream-body.js';

/** What a turn reads of its conversation at most: the bound on what one request can cost the database. */
export const HISTORY_BOUNDS: HistoryBounds = { rows: 512, bytes: 8 * 1024 * 1024 };

/** A chat request whose extension fields have been looked up. */
export interface ResolvedRequest {
  /** The config that applies: the request's `llm_config_id`, else (for a turn) the conversation's, else the default. */
  config: Readonly<LlmConfig> | null;
  variables: PromptVariables | undefined;
  /** The request's leading system/developer messages, and the messages after them. */
  requestSystem: JsonObject[];
  rest: JsonObject[];
  /** Set for a conversation turn. */
  conversation?: { id: string; context: TurnContext };
}

/**
 * Step 1 of a turn: resolves `conversation_id`, `llm_config_id` and `prompt_variables` to the rows they name, with
 * the conversation read only when `owner` may see it (another owner's id is a 404, so ids do not leak). Reads only.
 */
@Injectable()
export class RequestResolver {
  constructor(
    private readonly configs: LlmConfigsService,
    private readonly store: MessageStore,
  ) {}

  async resolve(body: JsonObject, owner: string | null): Promise<ResolvedRequest> {
    const conversationId = idField(body, 'conversation_id');
    const configId = idField(body, 'llm_config_id');
    const variables = (body['prompt_variables'] ?? undefined) as PromptVariables | undefined;
    const { system: requestSystem, rest } = splitLeadingSystem(body['messages'] as JsonObject[]);
    const [requestConfig, context] = await Promise.all([
      configId === undefined ? undefined : this.requireConfig(configId),
      conversationId === undefined ? undefined : this.store.loadTurnContext(conversationId, HISTORY_BOUNDS, owner),
    ]);
    if (conversationId === undefined || context === undefined) {
      return { config: requestConfig ?? null, variables, requestSystem, rest };
    }
    if (context === null) throw conversationNotFound(conversationId);
    if (rest.length === 0) {
      throw new AppError('bad_request', 'A conversation turn needs a new message besides system messages', {
        param: 'messages',
      });
    }
    const config = requestConfig ?? (await this.conversationConfig(context.llmConfigId));
    return { config, variables, requestSystem, rest, conversation: { id: conversationId, context } };
  }

  private async requireConfig(id: string): Promise<Readonly<LlmConfig>> {
    const config = await this.configs.findCached(id);
    if (config === null) {
      throw new AppError('not_found', `No LLM config with id '${id}'`, { param: 'llm_config_id' });
    }
    return config;
  }

  /** The conversation's own config, else the default one, else none. */
  private async conversationConfig(id: string | null): Promise<Readonly<LlmConfig> | null> {
    const own = id === null ? null : await this.configs.findCached(id);
    return own ?? (await this.configs.findDefaultCached());
  }
}

function idField(body: JsonObject, field: 'conversation_id' | 'llm_config_id'): string | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || !isUuid(value)) {
    throw new AppError('bad_request', `'${field}' must be a UUID`, { param: field });
  }
  return value;
}

export function conversationNotFound(id: string): AppError {
  return new AppError('not_found', `No conversation with id '${id}'`, { param: 'conversation_id' });
}
