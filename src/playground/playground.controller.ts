import { Controller } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { Public } from '../common/decorators/auth.decorator.js';
import { publicDir, StaticUi, StaticUiController } from '../common/http/static-ui.js';

/**
 * The chat playground: plain HTML, CSS and ES modules from public/playground. The page itself is public (it holds
 * no data); what it shows comes from the /v1 API, called with the key the user enters, exactly as a client would.
 */
@ApiExcludeController()
@Public()
@Controller('playground')
export class PlaygroundController extends StaticUiController {
  protected readonly ui = new StaticUi(publicDir('playground'), 'playground');
}
