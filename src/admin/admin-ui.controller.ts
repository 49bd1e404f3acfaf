import { Controller } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { Public } from '../common/decorators/auth.decorator.js';
import { publicDir, StaticUi, StaticUiController } from '../common/http/static-ui.js';

/**
 * The admin web UI: plain HTML, CSS and ES modules from public/admin, read once at start-up; the JSON API it calls
 * lives beside it under /admin/auth, /admin/conversations, /admin/llm-configs and /admin/api-keys.
 */
@ApiExcludeController()
@Public()
@Controller('admin')
export class AdminUiController extends StaticUiController {
  protected readonly ui = new StaticUi(publicDir('admin'), 'admin UI');
}
