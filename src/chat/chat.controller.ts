import { Body, Controller, HttpCode, Post, Res } from '@nestjs/common';
import { ApiBody, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { Auth } from '../common/decorators/auth.decorator.js';
import {
  CHAT_REQUEST,
  CHAT_REQUEST_EXAMPLES,
  CHAT_RESPONSE,
  COMPLETION_REQUEST,
  COMPLETION_RESPONSE,
  EMBEDDING_REQUEST,
  EMBEDDING_RESPONSE,
} from './chat.openapi.js';
import { ChatService } from './chat.service.js';
import { CurrentRequestContext } from './request-context.decorator.js';
import { FastLane } from './fast-lane.decorator.js';
import type { RequestContext } from './relay.types.js';

/**
 * vLLM's OpenAI routes. The body is taken as a plain object (`unknown`, so the global ValidationPipe leaves it
 * alone): whitelisting would strip vLLM's extra fields, and the relay writes the response itself. Each route is also
 * served by the chat fast lane (`@FastLane()`), which reads its path and requirement from here. `@Res()` is there
 * only to tell Nest that the relay writes the response; the exchange already carries it.
 */
@ApiTags('OpenAI-compatible')
@Auth('api-key', 'chat')
@Controller('v1')
export class ChatController {
  constructor(private readonly chat: ChatService) {}

  @Post('chat/completions')
  @FastLane()
  @HttpCode(200)
  @ApiOperation({ summary: 'Chat completion (JSON or SSE), relayed to vLLM with every vLLM extra field' })
  @ApiBody({ schema: CHAT_REQUEST, examples: CHAT_REQUEST_EXAMPLES })
  @ApiOkResponse({ description: 'The completion, or with `stream: true` its events', content: CHAT_RESPONSE })
  chatCompletions(
    @Body() body: unknown,
    @CurrentRequestContext() exchange: RequestContext,
    @Res() _res?: Response,
  ): Promise<void> {
    return this.chat.chatCompletions(body, exchange);
  }

  @Post('completions')
  @FastLane()
  @HttpCode(200)
  @ApiOperation({ summary: 'Text completion (JSON or SSE), relayed to vLLM' })
  @ApiBody({ schema: COMPLETION_REQUEST })
  @ApiOkResponse({ description: 'The completion, or with `stream: true` its events', content: COMPLETION_RESPONSE })
  completions(
    @Body() body: unknown,
    @CurrentRequestContext() exchange: RequestContext,
    @Res() _res?: Response,
  ): Promise<void> {
    return this.chat.completions(body, exchange);
  }

  @Post('embeddings')
  @FastLane()
  @HttpCode(200)
  @ApiOperation({ summary: 'Embeddings, relayed to vLLM (pooling models)' })
  @ApiBody({ schema: EMBEDDING_REQUEST })
  @ApiOkResponse({ description: 'One embedding per input', content: EMBEDDING_RESPONSE })
  embeddings(
    @Body() body: unknown,
    @CurrentRequestContext() exchange: RequestContext,
    @Res() _res?: Response,
  ): Promise<void> {
    return this.chat.embeddings(body, exchange);
  }
}
