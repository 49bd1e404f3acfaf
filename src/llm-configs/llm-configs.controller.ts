import { Body, Controller, Delete, Get, HttpCode, Patch, Post } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import {
  CreateLlmConfigDto,
  LlmConfigDto,
  LlmConfigListDto,
  toLlmConfigDto,
  UpdateLlmConfigDto,
} from './llm-config.dto.js';
import { LlmConfigsService } from './llm-configs.service.js';
import { UuidParam } from './uuid-param.js';

@ApiTags('LLM configurations')
@Controller('v1/llm-configs')
export class LlmConfigsController {
  constructor(private readonly configs: LlmConfigsService) {}

  @Get()
  @ApiOperation({ summary: 'Every LLM configuration, by name' })
  @ApiOkResponse({ type: LlmConfigListDto })
  async list(): Promise<LlmConfigListDto> {
    const configs = await this.configs.list();
    return { object: 'list', data: configs.map(toLlmConfigDto) };
  }

  @Post()
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
  @ApiOperation({ summary: 'Change an LLM configuration; `is_default: true` moves the default here' })
  @ApiOkResponse({ type: LlmConfigDto })
  async update(@UuidParam('id') id: string, @Body() dto: UpdateLlmConfigDto): Promise<LlmConfigDto> {
    return toLlmConfigDto(await this.configs.update(id, dto));
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete an LLM configuration; conversations using it keep their messages' })
  @ApiNoContentResponse()
  async remove(@UuidParam('id') id: string): Promise<void> {
    await this.configs.remove(id);
  }
}
