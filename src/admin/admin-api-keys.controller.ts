import { Body, Controller, Delete, Get, Post } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiKeyService } from '../auth/api-key.service.js';
import { Auth } from '../common/decorators/auth.decorator.js';
import { AppError } from '../common/errors/app-error.js';
import { LogIdParamAs } from '../common/interceptors/route-log.interceptor.js';
import { UuidParam } from '../common/uuid.js';
import { ApiKeyDto, ApiKeyListDto, CreateApiKeyDto, CreatedApiKeyDto, toApiKeyDto } from './admin.dto.js';

@ApiTags('Admin')
@Auth('admin')
@LogIdParamAs('api_key_id')
@Controller('admin/api-keys')
export class AdminApiKeysController {
  constructor(private readonly keys: ApiKeyService) {}

  @Post()
  @ApiOperation({ summary: 'Create a client API key; the response is the only time the key is shown' })
  @ApiCreatedResponse({ type: CreatedApiKeyDto })
  async create(@Body() dto: CreateApiKeyDto): Promise<CreatedApiKeyDto> {
    const expiresAt = dto.expires_at === undefined ? null : new Date(dto.expires_at * 1000);
    if (expiresAt !== null && expiresAt.getTime() <= Date.now()) {
      throw new AppError('bad_request', "'expires_at' must be in the future", { param: 'expires_at' });
    }
    const { row, key } = await this.keys.create(dto.name, dto.scopes ?? ['chat'], expiresAt, {
      rateLimitRpm: dto.rate_limit_rpm ?? null,
      maxConcurrent: dto.max_concurrent ?? null,
    });
    return { ...toApiKeyDto(row), key };
  }

  @Get()
  @ApiOperation({ summary: 'Every key made here, newest first, revoked ones included; never the keys themselves' })
  @ApiOkResponse({ type: ApiKeyListDto })
  async list(): Promise<ApiKeyListDto> {
    return { object: 'list', data: (await this.keys.list()).map(toApiKeyDto) };
  }

  @Delete(':id')
  @ApiOperation({ summary: 'Revoke a key: refused at once; its row (and its conversations) stay' })
  @ApiOkResponse({ type: ApiKeyDto })
  async revoke(@UuidParam('id') id: string): Promise<ApiKeyDto> {
    return toApiKeyDto(await this.keys.revoke(id));
  }
}
