import { Controller } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { Auth } from '../common/decorators/auth.decorator.js';
import { llmConfigRoutes } from '../llm-configs/llm-configs.controller.js';

/** The same CRUD as /v1/llm-configs, for the admin token only. */
@ApiTags('Admin')
@Controller('admin/llm-configs')
export class AdminLlmConfigsController extends llmConfigRoutes({ read: Auth('admin'), write: Auth('admin') }) {}
