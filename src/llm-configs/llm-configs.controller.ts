import { Body, Controller, Delete, Get, HttpCode, Patch, Post, type Type } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Auth } from '../common/decorators/auth.decorator.js';
import { LogIdParamAs } from '../common/interceptors/route-log.interceptor.js';
import {
  CreateLlmConfigDto,
  LlmConfigDto,
  LlmConfigListDto,
  toLlmConfigDto,
  UpdateLlmConfigDto,
} from './llm-config.dto.js';
import { LlmConfigsService } from './llm-configs.service.js';
import { UuidParam } from '../common/uuid.js';

/** The access the CRUD routes require: one decorator for reading, one for writing. */
export interface LlmConfigRoutesAccess {
  read: MethodDecorator & ClassDecorator;
  write: MethodDecorator & ClassDecorator;
}

/**
 * The CRUD routes over LlmConfigsService, with the access each side requires: served to clients under /v1 and to
 * the admin under /admin, from one definition. A subclass adds `@Controller(path)` and its tags.
 */
export function llmConfigRoutes(access: LlmConfigRoutesAccess): Type<object> {
  @access.read
  @LogIdParamAs('llm_config_id')
  class LlmConfigRoutes {
    constructor(private readonly configs: LlmConfigsService) {}

    @Get()
    @ApiOperation({ summary: 'Every LLM configuration, by name' })
    @ApiOkResponse({ type: LlmConfigListDto })
    async list(): Promise<LlmConfigListDto> {
      const configs = await this.configs.list();
      return { object: 'list', data: configs.map(toLlmConfigDto) };
    }

    @Post()
    @access.write
    @ApiOperation({ summary: 'Create an LLM configuration (409 when the name is taken)' })
    @ApiCreatedResponse({ type: LlmConfigDto })
    async create(@Body() dto: CreateLlmConfigDto): Promise<LlmConfigDto> {
      return toLlmConfigDto(await this.configs.create(dto));
    }

    @Get(':id')
    @ApiOperation({ summary: 'One LLM configuration' })
    @ApiOkResponse({ type: LlmConfigDto })
    async get(@UuidParam('id') id: string): Promise<LlmConfigDto> {
      return toLlmConfigDto(await this.configs.get(id));
    }

    @Patch(':id')
    @access.write
    @ApiOperation({ summary: 'Change an LLM configuration; `is_default: true` moves the default here' })
    @ApiOkResponse({ type: LlmConfigDto })
    async update(@UuidParam('id') id: string, @Body() dto: UpdateLlmConfigDto): Promise<LlmConfigDto> {
      return toLlmConfigDto(await this.configs.update(id, dto));
    }

    @Delete(':id')
    @access.write
    @HttpCode(204)
    @ApiOperation({ summary: 'Delete an LLM configuration; conversations using it keep their messages' })
    @ApiNoContentResponse()
    async remove(@UuidParam('id') id: string): Promise<void> {
      await this.configs.remove(id);
    }
  }
  return LlmConfigRoutes;
}

/** Reading needs `chat` (a chat request names configs); writing changes what every client's requests send. */
@ApiTags('LLM configurations')
@Controller('v1/llm-configs')
export class LlmConfigsController extends llmConfigRoutes({
  read: Auth('api-key', 'chat'),
  write: Auth('api-key', 'configs'),
}) {}
