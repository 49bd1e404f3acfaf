import { ApiKey } from './auth/api-key.entity.js';
import { ChatMessage } from './conversations/chat-message.entity.js';
import { Conversation } from './conversations/conversation.entity.js';
import { LlmConfig } from './llm-configs/llm-config.entity.js';
import { UsageRecord } from './usage/usage-record.entity.js';

/**
 * Every entity, listed explicitly (no globs: they break between src/ and dist/), for the TypeORM CLI and the tests.
 * The app itself registers them per feature module.
 */
export const ENTITIES = [Conversation, ChatMessage, LlmConfig, ApiKey, UsageRecord];
