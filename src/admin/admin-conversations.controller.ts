import { Controller, Delete, Get, HttpCode, Query } from '@nestjs/common';
import { ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Auth } from '../common/decorators/auth.decorator.js';
import { LogIdParamAs } from '../common/interceptors/route-log.interceptor.js';
import {
  ConversationListDto,
  ConversationWithMessagesDto,
  toConversationListDto,
  toConversationWithMessagesDto,
} from '../conversations/conversation.dto.js';
import { ConversationsService } from '../conversations/conversations.service.js';
import { UuidParam } from '../common/uuid.js';
import { AdminConversationQueryDto } from './admin.dto.js';

/** Every client's conversations (the admin sees all of them), in the same shapes as /v1/conversations. */
@ApiTags('Admin')
@Auth('admin')
@LogIdParamAs('conversation_id')
@Controller('admin/conversations')
export class AdminConversationsController {
  constructor(private readonly conversations: ConversationsService) {}

  @Get()
  @ApiOperation({ summary: 'Conversations of every client, newest first; `search` matches titles and messages' })
  @ApiOkResponse({ type: ConversationListDto })
  async list(@Query() query: AdminConversationQueryDto): Promise<ConversationListDto> {
    return toConversationListDto(
      await this.conversations.list(query.limit, query.after, { owner: null, search: query.search }),
    );
  }

  @Get(':id')
  @ApiOperation({ summary: 'A conversation with its newest messages (and their statuses), oldest first' })
  @ApiOkResponse({ type: ConversationWithMessagesDto })
  async get(@UuidParam('id') id: string): Promise<ConversationWithMessagesDto> {
    return toConversationWithMessagesDto(await this.conversations.get(id, null));
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a conversation and its messages' })
  @ApiNoContentResponse()
  async remove(@UuidParam('id') id: string): Promise<void> {
    await this.conversations.remove(id, null);
  }
}
