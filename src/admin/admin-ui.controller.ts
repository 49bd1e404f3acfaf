import { Controller, Get, Param, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Response } from 'express';
import { Public } from '../common/decorators/auth.decorator.js';
import { publicDir, StaticUi } from '../common/http/static-ui.js';

/**
 * The admin web UI: plain HTML, CSS and ES modules from public/admin, read once at start-up; the JSON API it calls
 * lives beside it under /admin/auth, /admin/conversations, /admin/llm-configs and /admin/api-keys.
 */
@ApiExcludeController()
@Public()
@Controller('admin')
export class AdminUiController {
  private readonly ui = new StaticUi(publicDir('admin'), 'admin UI');

  @Get()
  page(@Res() res: Response): void {
    this.ui.send(res, 'index.html');
  }

  @Get('ui/:file')
  asset(@Param('file') file: string, @Res() res: Response): void {
    this.ui.send(res, file);
  }
}
