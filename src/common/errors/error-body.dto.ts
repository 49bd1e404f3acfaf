import { ApiProperty } from '@nestjs/swagger';

export class OpenAiErrorDetailDto {
  @ApiProperty({ example: 'Invalid API key.' }) message: string;
  @ApiProperty({
    example: 'authentication_error',
    description: 'invalid_request_error, authentication_error, permission_error, not_found_error, server_error, …',
  })
  type: string;
  @ApiProperty({ nullable: true, type: String, description: 'The request field at fault' }) param: string | null;
  @ApiProperty({ nullable: true, oneOf: [{ type: 'string' }, { type: 'integer' }], example: 'invalid_api_key' })
  code: string | number | null;
}

/** OpenAI's error body, which every error answer of the gateway has (see app-error.ts). */
export class OpenAiErrorDto {
  @ApiProperty({ type: OpenAiErrorDetailDto }) error: OpenAiErrorDetailDto;
}
