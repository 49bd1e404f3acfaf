import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsObject, IsOptional, IsString, IsUUID, MaxLength, ValidateBy } from 'class-validator';
import { IfPresent, IsIntInRange, IsNonEmptyString } from '../common/decorators/validation.decorator.js';
import { unixSeconds } from '../common/time.js';
import { CHAT_MESSAGE_STATUSES, type ChatMessage, type ChatMessageStatus } from './chat-message.entity.js';
import type { Conversation } from './conversation.entity.js';
import type { ConversationWithMessages, Page } from './conversations.service.js';

/** OpenAI's limits for `metadata`: at most 16 pairs, keys up to 64 characters, string values up to 512. */
const METADATA_MAX_PAIRS = 16;
const METADATA_MAX_KEY = 64;
const METADATA_MAX_VALUE = 512;

const IsMetadata = (): PropertyDecorator =>
  ValidateBy({
    name: 'isMetadata',
    validator: {
      validate: (value: unknown): boolean =>
        typeof value === 'object' &&
        value !== null &&
        !Array.isArray(value) &&
        Object.keys(value).length <= METADATA_MAX_PAIRS &&
        Object.entries(value).every(
          ([key, v]) => key.length <= METADATA_MAX_KEY && typeof v === 'string' && v.length <= METADATA_MAX_VALUE,
        ),
      defaultMessage: () =>
        `metadata must be an object of at most ${METADATA_MAX_PAIRS} string values ` +
        `(keys up to ${METADATA_MAX_KEY} characters, values up to ${METADATA_MAX_VALUE})`,
    },
  });

const METADATA_DOC = {
  type: 'object',
  additionalProperties: { type: 'string' },
  example: { topic: 'billing' },
  description: `Up to ${METADATA_MAX_PAIRS} string pairs`,
} as const;

export class CreateConversationDto {
  @ApiPropertyOptional({ example: 'Refund for order 1234', maxLength: 512, nullable: true, type: String })
  @IsOptional()
  @IsString()
  @MaxLength(512)
  title?: string | null;

  @ApiPropertyOptional({ format: 'uuid', nullable: true, type: String, description: 'The LLM config its turns use' })
  @IsOptional()
  @IsUUID()
  llm_config_id?: string | null;

  @ApiPropertyOptional(METADATA_DOC)
  @IfPresent()
  @IsObject()
  @IsMetadata()
  metadata?: Record<string, string>;
}

/** Every field optional; `null` clears the title or the config. `metadata` replaces the stored object. */
export class UpdateConversationDto extends CreateConversationDto {}

export class PageQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 20 })
  @IsOptional()
  @Type(() => Number)
  @IsIntInRange(1, 100)
  limit?: number;

  @ApiPropertyOptional({ description: 'The `next_cursor` of the previous page' })
  @IsOptional()
  @IsNonEmptyString(512)
  after?: string;
}

export class ConversationDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ enum: ['conversation'] }) object: 'conversation';
  @ApiProperty({ nullable: true, type: String }) title: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'uuid' }) llm_config_id: string | null;
  @ApiProperty(METADATA_DOC) metadata: Record<string, unknown>;
  @ApiProperty({ description: 'Unix seconds' }) created_at: number;
  @ApiProperty({ description: 'Unix seconds; moves with every turn' }) updated_at: number;
}

export class MessageUsageDto {
  @ApiProperty({ nullable: true, type: Number }) prompt_tokens: number | null;
  @ApiProperty({ nullable: true, type: Number }) completion_tokens: number | null;
}

export class MessageDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ enum: ['conversation.message'] }) object: 'conversation.message';
  @ApiProperty({ description: 'Position in the conversation; increasing, not necessarily contiguous' }) seq: number;
  @ApiProperty({ example: 'user' }) role: string;
  @ApiProperty({
    description: 'A string, or the array of content parts the client sent',
    oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'object' } }],
  })
  content: string | unknown[] | null;
  @ApiPropertyOptional({ type: String }) name?: string;
  @ApiPropertyOptional({ type: 'array', items: { type: 'object' } }) tool_calls?: unknown[];
  @ApiPropertyOptional({ type: String }) tool_call_id?: string;
  @ApiPropertyOptional({ type: String }) reasoning?: string;
  @ApiProperty({ enum: CHAT_MESSAGE_STATUSES }) status: ChatMessageStatus;
  @ApiProperty({ nullable: true, type: String }) finish_reason: string | null;
  @ApiProperty({ nullable: true, type: MessageUsageDto, description: 'The turn’s usage, on assistant replies' })
  usage: MessageUsageDto | null;
  @ApiProperty({ nullable: true, type: String }) model: string | null;
  @ApiProperty({ nullable: true, type: String }) request_id: string | null;
  @ApiProperty({ nullable: true, type: Number }) ttft_ms: number | null;
  @ApiProperty({ nullable: true, type: Number }) duration_ms: number | null;
  @ApiProperty({ description: 'Unix seconds' }) created_at: number;
}

export class ConversationWithMessagesDto extends ConversationDto {
  @ApiProperty({ type: [MessageDto], description: 'The newest messages, oldest first' }) messages: MessageDto[];
  @ApiProperty({ description: 'Older messages exist: page through /messages' }) has_more_messages: boolean;
}

export class ConversationListDto {
  @ApiProperty({ enum: ['list'] }) object: 'list';
  @ApiProperty({ type: [ConversationDto] }) data: ConversationDto[];
  @ApiProperty() has_more: boolean;
  @ApiProperty({ nullable: true, type: String }) next_cursor: string | null;
}

export class MessageListDto {
  @ApiProperty({ enum: ['list'] }) object: 'list';
  @ApiProperty({ type: [MessageDto] }) data: MessageDto[];
  @ApiProperty() has_more: boolean;
  @ApiProperty({ nullable: true, type: String }) next_cursor: string | null;
}

export function toConversationDto(conversation: Conversation): ConversationDto {
  return {
    id: conversation.id,
    object: 'conversation',
    title: conversation.title,
    llm_config_id: conversation.llmConfigId,
    metadata: conversation.metadata,
    created_at: unixSeconds(conversation.createdAt),
    updated_at: unixSeconds(conversation.updatedAt),
  };
}

export function toConversationListDto(page: Page<Conversation>): ConversationListDto {
  return {
    object: 'list',
    data: page.items.map(toConversationDto),
    has_more: page.hasMore,
    next_cursor: page.nextCursor,
  };
}

export function toConversationWithMessagesDto({
  conversation,
  messages,
  hasMore,
}: ConversationWithMessages): ConversationWithMessagesDto {
  return { ...toConversationDto(conversation), messages: messages.map(toMessageDto), has_more_messages: hasMore };
}

export function toMessageDto(message: ChatMessage): MessageDto {
  const dto: MessageDto = {
    id: message.id,
    object: 'conversation.message',
    seq: message.seq,
    role: message.role,
    content: message.contentParts ?? (message.toolCalls !== null && message.content === '' ? null : message.content),
    status: message.status,
    finish_reason: message.finishReason,
    usage:
      message.promptTokens === null && message.completionTokens === null
        ? null
        : { prompt_tokens: message.promptTokens, completion_tokens: message.completionTokens },
    model: message.model,
    request_id: message.requestId,
    ttft_ms: message.ttftMs,
    duration_ms: message.durationMs,
    created_at: unixSeconds(message.createdAt),
  };
  if (message.name !== null) dto.name = message.name;
  if (message.toolCalls !== null) dto.tool_calls = message.toolCalls;
  if (message.toolCallId !== null) dto.tool_call_id = message.toolCallId;
  if (message.reasoning !== null) dto.reasoning = message.reasoning;
  return dto;
}
