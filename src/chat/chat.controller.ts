import { Body, Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { randomUUID } from 'node:crypto';
import { RequestId } from '../common/decorators/request-id.decorator.js';
import { ChatService } from './chat.service.js';
import type { Exchange } from './relay.types.js';

/** OpenAI's request schema plus vLLM's extra fields: forwarded as sent, so any field is accepted. */
const PASSTHROUGH_BODY = { type: 'object', additionalProperties: true } as const;

/**
 * vLLM's OpenAI routes. The body is taken as a plain object (`unknown`, so the global ValidationPipe leaves it
 * alone): whitelisting would strip vLLM's extra fields, and the relay writes the response itself.
 */
@ApiTags('OpenAI-compatible')
@Controller('v1')
export class ChatController {
  constructor(private readonly chat: ChatService) {}

  @Post('chat/completions')
  @HttpCode(200)
  @ApiOperation({ summary: 'Chat completion (JSON or SSE), relayed to vLLM with every vLLM extra field' })
  @ApiBody({ schema: PASSTHROUGH_BODY })
  chatCompletions(
    @Body() body: unknown,
    @Req() req: Request,
    @Res() res: Response,
    @RequestId() requestId: string,
  ): Promise<void> {
    return this.chat.chatCompletions(body, exchange(req, res, requestId));
  }

  @Post('completions')
  @HttpCode(200)
  @ApiOperation({ summary: 'Text completion (JSON or SSE), relayed to vLLM' })
  @ApiBody({ schema: PASSTHROUGH_BODY })
  completions(
    @Body() body: unknown,
    @Req() req: Request,
    @Res() res: Response,
    @RequestId() requestId: string,
  ): Promise<void> {
    return this.chat.completions(body, exchange(req, res, requestId));
  }

  @Post('embeddings')
  @HttpCode(200)
  @ApiOperation({ summary: 'Embeddings, relayed to vLLM (pooling models)' })
  @ApiBody({ schema: PASSTHROUGH_BODY })
  embeddings(
    @Body() body: unknown,
    @Req() req: Request,
    @Res() res: Response,
    @RequestId() requestId: string,
  ): Promise<void> {
    return this.chat.embeddings(body, exchange(req, res, requestId));
  }
}

function exchange(req: Request, res: Response, requestId: string): Exchange {
  // The request logger always sets the id; an app built without it still gets a unique one upstream.
  return { req, res, requestId: requestId === '' ? randomUUID() : requestId, receivedAt: performance.now() };
}
