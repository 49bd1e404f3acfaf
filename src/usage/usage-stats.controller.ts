import { Controller, Get, Header, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Auth } from '../common/decorators/auth.decorator.js';
import { StatsDto, StatsQueryDto } from './usage.dto.js';
import { UsageStatsService } from './usage-stats.service.js';

@ApiTags('Admin')
@Auth('admin')
@Controller('admin/stats')
export class UsageStatsController {
  constructor(private readonly stats: UsageStatsService) {}

  @Get()
  @Header('Cache-Control', 'no-store')
  @ApiOperation({ summary: 'Requests, tokens, errors and p50/p95 time to first token, by day, model or key' })
  @ApiOkResponse({ type: StatsDto })
  get(@Query() query: StatsQueryDto): Promise<StatsDto> {
    return this.stats.stats(query);
  }
}
