import { Controller, Get, Header, Res } from '@nestjs/common';
import { ApiOkResponse, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { Public } from '../common/decorators/auth.decorator.js';
import { HealthReportDto, RootInfoDto } from './health.dto.js';
import { HealthService } from './health.service.js';

@ApiTags('health')
// Load balancers and people probe these without a key; they show no secret (upstream URLs hold none).
@Public()
@Controller()
export class HealthController {
  constructor(private readonly health: HealthService) {}

  @Get()
  @ApiOkResponse({ type: RootInfoDto, description: 'Service name, version and where to go next' })
  root(): RootInfoDto {
    return this.health.info();
  }

  @Get('health')
  @Header('Cache-Control', 'no-store')
  @ApiOkResponse({ type: HealthReportDto, description: 'ok, or degraded when some (not all) upstreams are down' })
  @ApiServiceUnavailableResponse({ type: HealthReportDto, description: 'The database or every upstream is down' })
  async check(@Res({ passthrough: true }) res: Response): Promise<HealthReportDto> {
    const report = await this.health.check();
    // Load balancers read the status code, so a failed check is a 503 carrying the same report (not an error body).
    res.status(report.status === 'error' ? 503 : 200);
    return report;
  }
}
