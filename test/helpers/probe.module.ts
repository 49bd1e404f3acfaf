import {
  Body,
  ConflictException,
  Controller,
  Get,
  HttpException,
  Logger,
  Module,
  Post,
  Req,
  Res,
} from '@nestjs/common';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Min, MinLength, ValidateNested } from 'class-validator';
import type { Request, Response } from 'express';
import { PinoLogger } from 'nestjs-pino';
import { Public } from '../../src/common/decorators/auth.decorator.js';

class TagDto {
  @IsString()
  @MinLength(1)
  label: string;
}

export class CreateItemDto {
  @IsString()
  @MinLength(1)
  name: string;

  @IsInt()
  @Min(1)
  count: number;

  @IsOptional()
  @ValidateNested({ each: true })
  @Type(() => TagDto)
  tags?: TagDto[];
}

/** The message of the error the `boom` route throws: it must reach the log and never the client. */
export const BOOM_MESSAGE = 'kaboom: probe failure with internal detail';

/**
 * Test-only routes, compiled into the app by `startGateway(env, [ProbeModule])`; production code has no debug routes.
 */
@Public()
@Controller('__probe')
export class ProbeController {
  private readonly logger = new Logger(ProbeController.name);

  constructor(private readonly pino: PinoLogger) {
    pino.setContext(ProbeController.name);
  }

  @Get('log')
  log(): { ok: true } {
    this.logger.log('line from Nest Logger');
    this.pino.info({ detail: 42 }, 'line from PinoLogger');
    return { ok: true };
  }

  @Post('items')
  create(@Body() item: CreateItemDto): CreateItemDto {
    return item;
  }

  @Post('passthrough')
  passthrough(@Body() body: Record<string, unknown>): Record<string, unknown> {
    return body;
  }

  /** Logs request headers and body as careless code might, to exercise redaction; then fails quoting a token. */
  @Post('careless')
  careless(@Req() req: Request, @Body() body: Record<string, unknown>): never {
    this.pino.warn({ headers: req.headers, body }, 'careless line');
    const auth = req.headers.authorization ?? '';
    throw new Error(`upstream refused ${auth}`);
  }

  @Get('boom')
  boom(): never {
    throw new Error(BOOM_MESSAGE);
  }

  @Get('conflict')
  conflict(): never {
    throw new ConflictException('item already exists');
  }

  @Get('teapot')
  teapot(): never {
    throw new HttpException('short and stout', 418);
  }

  @Get('stream-then-throw')
  streamThenThrow(@Res() res: Response): never {
    res.setHeader('content-type', 'text/event-stream');
    res.write('data: partial\n\n');
    throw new Error('failed after the headers were sent');
  }
}

@Module({ controllers: [ProbeController] })
export class ProbeModule {}
