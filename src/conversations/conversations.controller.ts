import { Body, Controller, Delete, Get, HttpCode, Patch, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { UuidParam } from '../llm-configs/uuid-param.js';
import {
  ConversationDto,
  ConversationListDto,
  ConversationWithMessagesDto,
  CreateConversationDto,
  MessageListDto,
  PageQueryDto,
  toConversationDto,
  toMessageDto,
  UpdateConversationDto,
} from './conversation.dto.js';
import { ConversationsService } from './conversations.service.js';

@ApiTags('Conversations')
@Controller('v1/conversations')
export class ConversationsController {
  constructor(private readonly conversations: ConversationsService) {}

  @Post()
  @ApiOperation({ summary: 'Create a conversation; send turns with `conversation_id` on /v1/chat/completions' })
  @ApiCreatedResponse({ type: ConversationDto })
  async create(@Body() dto: CreateConversationDto): Promise<ConversationDto> {
    // No client identity exists yet; the owner is set here once authentication provides one.
    return toConversationDto(await this.conversations.create(dto, null));
  }

  @Get()
  @ApiOperation({ summary: 'Conversations, newest first, by cursor' })
  @ApiOkResponse({ type: ConversationListDto })
  async list(@Query() query: PageQueryDto): Promise<ConversationListDto> {
    const page = await this.conversations.list(query.limit, query.after);
    return {
      object: 'list',
      data: page.items.map(toConversationDto),
      has_more: page.hasMore,
      next_cursor: page.nextCursor,
    };
  }

  @Get(':id')
  @ApiOperation({ summary: 'A conversation with its newest messages, oldest first' })
  @ApiOkResponse({ type: ConversationWithMessagesDto })
  async get(@UuidParam('id') id: string): Promise<ConversationWithMessagesDto> {
    const { conversation, messages, hasMore } = await this.conversations.get(id);
    return { ...toConversationDto(conversation), messages: messages.map(toMessageDto), has_more_messages: hasMore };
  }

  @Get(':id/messages')
  @ApiOperation({ summary: 'A conversation’s messages in order, by cursor' })
  @ApiOkResponse({ type: MessageListDto })
  async messages(@UuidParam('id') id: string, @Query() query: PageQueryDto): Promise<MessageListDto> {
    const page = await this.conversations.listMessages(id, query.limit, query.after);
    return { object: 'list', data: page.items.map(toMessageDto), has_more: page.hasMore, next_cursor: page.nextCursor };
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Change the title, the LLM config or the metadata' })
  @ApiOkResponse({ type: ConversationDto })
  async update(@UuidParam('id') id: string, @Body() dto: UpdateConversationDto): Promise<ConversationDto> {
    return toConversationDto(await this.conversations.update(id, dto));
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a conversation and its messages' })
  @ApiNoContentResponse()
  async remove(@UuidParam('id') id: string): Promise<void> {
    await this.conversations.remove(id);
  }
}
