import { Controller, Get, Headers, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';
import type { Response } from 'express';
import { createHash, timingSafeEqual } from 'node:crypto';
import { Public } from '../common/decorators/auth.decorator.js';
import { AppError } from '../common/errors/app-error.js';
import { OpenAiErrorDto } from '../common/errors/error-body.dto.js';
import { AppConfig } from '../config/app-config.js';
import { MetricsService } from './metrics.service.js';

/**
 * Prometheus' scrape target. Public by the global policy (scrapers carry no API key or admin token); with
 * METRICS_TOKEN set, this handler itself requires `Authorization: Bearer <METRICS_TOKEN>`. The request logger keeps
 * /metrics out of the logs.
 */
@ApiTags('health')
@Public()
@Controller('metrics')
export class MetricsController {
  private readonly tokenDigest: Buffer | undefined;

  constructor(
    private readonly metrics: MetricsService,
    config: AppConfig,
  ) {
    this.tokenDigest = config.metricsToken === undefined ? undefined : digest(config.metricsToken);
  }

  @Get()
  @ApiOperation({ summary: 'Prometheus metrics (text exposition format); Bearer METRICS_TOKEN when one is set' })
  @ApiProduces('text/plain')
  @ApiOkResponse({
    description: 'Prometheus text format, version 0.0.4',
    content: {
      'text/plain': {
        schema: { type: 'string' },
        example:
          '# HELP gateway_streams_in_flight Streams being relayed.\n# TYPE gateway_streams_in_flight gauge\n' +
          'gateway_streams_in_flight 0\n',
      },
    },
  })
  @ApiUnauthorizedResponse({ type: OpenAiErrorDto, description: 'METRICS_TOKEN is set and was not sent' })
  async scrape(@Headers('authorization') authorization: string | undefined, @Res() res: Response): Promise<void> {
    if (this.tokenDigest !== undefined) this.assertToken(authorization, this.tokenDigest);
    const body = await this.metrics.render();
    res.status(200).setHeader('Content-Type', this.metrics.registry.contentType).setHeader('Cache-Control', 'no-store');
    res.end(body);
  }

  private assertToken(authorization: string | undefined, expected: Buffer): void {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    // Digests have one length, so the comparison takes the same time whatever the caller sent.
    if (match?.[1] === undefined || !timingSafeEqual(digest(match[1]), expected)) {
      throw new AppError('unauthorized', 'This endpoint requires Authorization: Bearer <METRICS_TOKEN>.');
    }
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
