import { Controller, Get, Param, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Response } from 'express';
import { Public } from '../common/decorators/auth.decorator.js';
import { publicDir, StaticUi } from '../common/http/static-ui.js';

/**
 * The chat playground: plain HTML, CSS and ES modules from public/playground. The page itself is public (it holds
 * no data); what it shows comes from the /v1 API, called with the key the user enters, exactly as a client would.
 */
@ApiExcludeController()
@Public()
@Controller('playground')
export class PlaygroundController {
  private readonly ui = new StaticUi(publicDir('playground'), 'playground');

  @Get()
  page(@Res() res: Response): void {
    this.ui.send(res, 'index.html');
  }

  @Get('ui/:file')
  asset(@Param('file') file: string, @Res() res: Response): void {
    this.ui.send(res, file);
  }
}
