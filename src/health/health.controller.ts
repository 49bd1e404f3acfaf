import { Controller, Get, Header, Req, Res } from '@nestjs/common';
import { ApiOkResponse, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { AdminAuthService } from '../auth/admin-auth.service.js';
import { ApiKeyService } from '../auth/api-key.service.js';
import { Public } from '../common/decorators/auth.decorator.js';
import { HealthReportDto, RootInfoDto } from './health.dto.js';
import { AppConfig } from '../config/app-config.js';
import { HealthService } from './health.service.js';

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

@ApiTags('health')
// Load balancers and people probe these without a key; they show no secret, and upstream URLs only to a caller with
// a key or an admin token.
@Public()
@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthService,
    private readonly config: AppConfig,
    private readonly keys: ApiKeyService,
    private readonly admin: AdminAuthService,
  ) {}

  @Get()
  @ApiOkResponse({ type: RootInfoDto, description: 'Service name, version and where to go next' })
  root(): RootInfoDto {
    return this.health.info();
  }

  @Get('health')
  @Header('Cache-Control', 'no-store')
  @ApiOkResponse({ type: HealthReportDto, description: 'ok, or degraded when some (not all) upstreams are down' })
  @ApiServiceUnavailableResponse({ type: HealthReportDto, description: 'The database or every upstream is down' })
  async check(@Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<HealthReportDto> {
    const report = await this.health.check();
    // Load balancers read the status code, so a failed check is a 503 carrying the same report (not an error body).
    res.status(report.status === 'error' ? 503 : 200);
    if (this.authenticated(req.headers.authorization)) return report;
    // Where the GPUs are is for operators: anonymous callers see each upstream by its position in VLLM_BASE_URL.
    const upstreams = report.checks.upstreams.map(({ url: _url, ...rest }, i) => ({
      ...rest,
      url: `upstream-${i + 1}`,
    }));
    return { ...report, checks: { ...report.checks, upstreams } };
  }

  /** A valid client key or admin token; with authentication off, /v1 is open to all, and so is this. */
  private authenticated(authorization: string | undefined): boolean {
    if (!this.config.auth.enabled) return true;
    const token = authorization === undefined ? undefined : BEARER.exec(authorization)?.[1];
    if (token === undefined) return false;
    for (const check of [() => this.keys.authenticate(token), () => this.admin.authenticate(token)]) {
      try {
        check();
        return true;
      } catch {
        // Not this kind of credential; try the next.
      }
    }
    return false;
  }
}
