import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  IsBoolean,
  IsObject,
  IsOptional,
  IsString,
  MaxLength,
  ValidateBy,
  type ValidationOptions,
} from 'class-validator';
import type { LlmConfig } from './llm-config.entity.js';
import {
  IfPresent,
  IsIntInRange,
  IsNonEmptyString,
  IsNumberInRange,
} from '../common/decorators/validation.decorator.js';
import { EXTENSION_FIELDS } from '../common/extension-fields.js';
import { unixSeconds } from '../common/time.js';

/**
 * Request fields a config must not set through `extra_params`: the first-class settings (so there is one place for
 * each), the conversation itself, and the gateway's own extension fields.
 */
export const RESERVED_EXTRA_PARAMS: readonly string[] = [
  'messages',
  'stream',
  'model',
  'temperature',
  'top_p',
  'max_tokens',
  ...EXTENSION_FIELDS,
];

const MAX_SYSTEM_PROMPT_CHARS = 200_000;
const MAX_EXTRA_PARAMS_JSON_CHARS = 16_384;

function IsExtraParams(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isExtraParams',
      validator: {
        validate: (value: unknown): boolean =>
          typeof value === 'object' &&
          value !== null &&
          !Array.isArray(value) &&
          !Object.keys(value).some((key) => RESERVED_EXTRA_PARAMS.includes(key)) &&
          JSON.stringify(value).length <= MAX_EXTRA_PARAMS_JSON_CHARS,
        defaultMessage: () =>
          `extra_params must be an object of vLLM request fields (at most ${MAX_EXTRA_PARAMS_JSON_CHARS} characters ` +
          `as JSON) without ${RESERVED_EXTRA_PARAMS.join(', ')}`,
      },
    },
    options,
  );
}

/** Every setting but the name; `null` clears a nullable one. */
class LlmConfigSettingsDto {
  @ApiPropertyOptional({ example: 'meta-llama/Llama-3.1-8B-Instruct', nullable: true, type: String })
  @IsOptional()
  @IsNonEmptyString(512)
  model?: string | null;

  @ApiPropertyOptional({ example: 0.7, minimum: 0, maximum: 2, nullable: true, type: Number })
  @IsOptional()
  @IsNumberInRange(0, 2)
  temperature?: number | null;

  @ApiPropertyOptional({ example: 0.9, minimum: 0, maximum: 1, nullable: true, type: Number })
  @IsOptional()
  @IsNumberInRange(Number.MIN_VALUE, 1)
  top_p?: number | null;

  @ApiPropertyOptional({ example: 512, minimum: 1, nullable: true, type: Number })
  @IsOptional()
  @IsIntInRange(1)
  max_tokens?: number | null;

  @ApiPropertyOptional({
    example: 'You are a support agent for {{product}}. Answer in {{language}}.',
    description: 'May hold `{{name}}` placeholders, filled from the chat request’s `prompt_variables`',
    nullable: true,
    type: String,
  })
  @IsOptional()
  @IsString()
  @MaxLength(MAX_SYSTEM_PROMPT_CHARS)
  system_prompt?: string | null;

  @ApiPropertyOptional({
    example: { top_k: 40, repetition_penalty: 1.1 },
    description: 'Any other vLLM request fields, sent as they are unless the request sets them',
    type: 'object',
    additionalProperties: true,
  })
  @IfPresent()
  @IsObject()
  @IsExtraParams()
  extra_params?: Record<string, unknown>;

  @ApiPropertyOptional({ description: 'Making this config the default clears the previous default', default: false })
  @IfPresent()
  @IsBoolean()
  is_default?: boolean;
}

export class CreateLlmConfigDto extends LlmConfigSettingsDto {
  @ApiProperty({ example: 'support-bot', maxLength: 128, description: 'Unique' })
  @IsNonEmptyString(128)
  name: string;
}

/** Every field optional. */
export class UpdateLlmConfigDto extends LlmConfigSettingsDto {
  @ApiPropertyOptional({ example: 'support-bot', maxLength: 128 })
  @IfPresent()
  @IsNonEmptyString(128)
  name?: string;
}

export class LlmConfigDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ enum: ['llm_config'] }) object: 'llm_config';
  @ApiProperty() name: string;
  @ApiProperty({ nullable: true, type: String }) model: string | null;
  @ApiProperty({ nullable: true, type: Number }) temperature: number | null;
  @ApiProperty({ nullable: true, type: Number }) top_p: number | null;
  @ApiProperty({ nullable: true, type: Number }) max_tokens: number | null;
  @ApiProperty({ nullable: true, type: String }) system_prompt: string | null;
  @ApiProperty({ type: 'object', additionalProperties: true }) extra_params: Record<string, unknown>;
  @ApiProperty() is_default: boolean;
  @ApiProperty({ description: 'Unix seconds' }) created_at: number;
  @ApiProperty({ description: 'Unix seconds' }) updated_at: number;
}

export class LlmConfigListDto {
  @ApiProperty({ enum: ['list'] }) object: 'list';
  @ApiProperty({ type: [LlmConfigDto] }) data: LlmConfigDto[];
}

export function toLlmConfigDto(config: LlmConfig): LlmConfigDto {
  return {
    id: config.id,
    object: 'llm_config',
    name: config.name,
    model: config.model,
    temperature: config.temperature,
    top_p: config.topP,
    max_tokens: config.maxTokens,
    system_prompt: config.systemPrompt,
    extra_params: config.extraParams,
    is_default: config.isDefault,
    created_at: unixSeconds(config.createdAt),
    updated_at: unixSeconds(config.updatedAt),
  };
}
