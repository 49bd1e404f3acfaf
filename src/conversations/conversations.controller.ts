import { Body, Controller, Delete, Get, HttpCode, Patch, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ownerScope, type Principal } from '../common/principal.js';
import { CurrentPrincipal } from '../auth/request-principal.js';
import { Auth } from '../common/decorators/auth.decorator.js';
import { LogIdParamAs } from '../common/interceptors/route-log.interceptor.js';
import { UuidParam } from '../common/uuid.js';
import {
  ConversationDto,
  ConversationListDto,
  ConversationWithMessagesDto,
  CreateConversationDto,
  MessageListDto,
  PageQueryDto,
  toConversationDto,
  toConversationListDto,
  toConversationWithMessagesDto,
  toMessageDto,
  UpdateConversationDto,
} from './conversation.dto.js';
import { ConversationsService } from './conversations.service.js';

/** A client key sees only the conversations it created; another key's id is a 404, as if it did not exist. */
@ApiTags('Conversations')
@Auth('api-key', 'chat')
@LogIdParamAs('conversation_id')
@Controller('v1/conversations')
export class ConversationsController {
  constructor(private readonly conversations: ConversationsService) {}

  @Post()
  @ApiOperation({ summary: 'Create a conversation; send turns with `conversation_id` on /v1/chat/completions' })
  @ApiCreatedResponse({ type: ConversationDto })
  async create(@Body() dto: CreateConversationDto, @CurrentPrincipal() principal: Principal): Promise<ConversationDto> {
    return toConversationDto(await this.conversations.create(dto, ownerScope(principal)));
  }

  @Get()
  @ApiOperation({ summary: 'Conversations, newest first, by cursor' })
  @ApiOkResponse({ type: ConversationListDto })
  async list(@Query() query: PageQueryDto, @CurrentPrincipal() principal: Principal): Promise<ConversationListDto> {
    return toConversationListDto(
      await this.conversations.list(query.limit, query.after, { owner: ownerScope(principal) }),
    );
  }

  @Get(':id')
  @ApiOperation({ summary: 'A conversation with its newest messages, oldest first' })
  @ApiOkResponse({ type: ConversationWithMessagesDto })
  async get(
    @UuidParam('id') id: string,
    @CurrentPrincipal() principal: Principal,
  ): Promise<ConversationWithMessagesDto> {
    return toConversationWithMessagesDto(await this.conversations.get(id, ownerScope(principal)));
  }

  @Get(':id/messages')
  @ApiOperation({ summary: 'A conversation’s messages in order, by cursor' })
  @ApiOkResponse({ type: MessageListDto })
  async messages(
    @UuidParam('id') id: string,
    @Query() query: PageQueryDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<MessageListDto> {
    const page = await this.conversations.listMessages(id, ownerScope(principal), query.limit, query.after);
    return { object: 'list', data: page.items.map(toMessageDto), has_more: page.hasMore, next_cursor: page.nextCursor };
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Change the title, the LLM config or the metadata' })
  @ApiOkResponse({ type: ConversationDto })
  async update(
    @UuidParam('id') id: string,
    @Body() dto: UpdateConversationDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<ConversationDto> {
    return toConversationDto(await this.conversations.update(id, dto, ownerScope(principal)));
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a conversation and its messages' })
  @ApiNoContentResponse()
  async remove(@UuidParam('id') id: string, @CurrentPrincipal() principal: Principal): Promise<void> {
    await this.conversations.remove(id, ownerScope(principal));
  }
}
