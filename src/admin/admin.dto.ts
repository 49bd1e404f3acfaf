import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayUnique, IsArray, IsIn, IsOptional, IsString, MaxLength } from 'class-validator';
import type { ApiKey } from '../auth/api-key.entity.js';
import { IsIntInRange, IsNonEmptyString } from '../common/decorators/validation.decorator.js';
import { API_KEY_SCOPES, type ApiKeyScope } from '../common/principal.js';
import { PageQueryDto } from '../conversations/conversation.dto.js';
import { unixSeconds } from '../common/time.js';

export class LoginDto {
  @ApiProperty({ example: 'admin' })
  @IsNonEmptyString(256)
  username: string;

  @ApiProperty({ format: 'password' })
  @IsNonEmptyString(1024)
  password: string;
}

export class AdminTokenDto {
  @ApiProperty({ description: 'An HS256 JWT; send it as `Authorization: Bearer <token>` on /admin routes' })
  access_token: string;
  @ApiProperty({ enum: ['Bearer'] }) token_type: 'Bearer';
  @ApiProperty({ description: 'Seconds until the token expires' }) expires_in: number;
}

export class AdminMeDto {
  @ApiProperty() username: string;
}

export class AdminConversationQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ description: 'Matches titles and message text, case-insensitively' })
  @IsOptional()
  @IsString()
  @MaxLength(256)
  search?: string;
}

export class CreateApiKeyDto {
  @ApiProperty({ example: 'billing-service', maxLength: 256 })
  @IsNonEmptyString(256)
  name: string;

  @ApiPropertyOptional({ enum: API_KEY_SCOPES, isArray: true, default: ['chat'] })
  @IsOptional()
  @IsArray()
  @ArrayUnique()
  @IsIn(API_KEY_SCOPES, { each: true })
  scopes?: ApiKeyScope[];

  @ApiPropertyOptional({ description: 'Unix seconds, in the future; omitted: never expires', type: Number })
  @IsOptional()
  @Type(() => Number)
  @IsIntInRange(1)
  expires_at?: number;

  @ApiPropertyOptional({
    description: 'Requests a minute (bursts up to this, then one every 60/n s), per gateway process; omitted: no limit',
    type: Number,
    minimum: 1,
    maximum: 1_000_000,
  })
  @IsOptional()
  @IsIntInRange(1, 1_000_000)
  rate_limit_rpm?: number;

  @ApiPropertyOptional({
    description: 'Requests (streams included) in flight at once, per gateway process; omitted: no limit',
    type: Number,
    minimum: 1,
    maximum: 100_000,
  })
  @IsOptional()
  @IsIntInRange(1, 100_000)
  max_concurrent?: number;
}

export class ApiKeyDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ enum: ['api_key'] }) object: 'api_key';
  @ApiProperty() name: string;
  @ApiProperty({ description: 'The first characters of the key, to recognise it', example: 'sk-gw-3fA9xQ' })
  prefix: string;
  @ApiProperty({ enum: API_KEY_SCOPES, isArray: true }) scopes: ApiKeyScope[];
  @ApiProperty({ description: 'Unix seconds' }) created_at: number;
  @ApiProperty({ nullable: true, type: Number, description: 'Unix seconds' }) expires_at: number | null;
  @ApiProperty({ nullable: true, type: Number, description: 'Unix seconds' }) revoked_at: number | null;
  @ApiProperty({ nullable: true, type: Number, description: 'Requests a minute; null: no limit' })
  rate_limit_rpm: number | null;
  @ApiProperty({ nullable: true, type: Number, description: 'Requests in flight at once; null: no limit' })
  max_concurrent: number | null;
  @ApiProperty({ nullable: true, type: Number, description: 'Unix seconds; updated about once a minute' })
  last_used_at: number | null;
}

export class CreatedApiKeyDto extends ApiKeyDto {
  @ApiProperty({ description: 'The key itself: shown this once, stored nowhere', example: 'sk-gw-3fA9xQ…' })
  key: string;
}

export class ApiKeyListDto {
  @ApiProperty({ enum: ['list'] }) object: 'list';
  @ApiProperty({ type: [ApiKeyDto] }) data: ApiKeyDto[];
}

const seconds = (date: Date | null): number | null => (date === null ? null : unixSeconds(date));

export function toApiKeyDto(row: ApiKey): ApiKeyDto {
  return {
    id: row.id,
    object: 'api_key',
    name: row.name,
    prefix: row.prefix,
    scopes: row.scopes,
    created_at: unixSeconds(row.createdAt),
    expires_at: seconds(row.expiresAt),
    revoked_at: seconds(row.revokedAt),
    rate_limit_rpm: row.rateLimitRpm,
    max_concurrent: row.maxConcurrent,
    last_used_at: seconds(row.lastUsedAt),
  };
}
