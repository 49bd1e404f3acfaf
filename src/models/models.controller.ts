import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Auth } from '../common/decorators/auth.decorator.js';
import { VllmService } from '../vllm/vllm.service.js';
import type { ModelList } from '../vllm/vllm.types.js';

@ApiTags('OpenAI-compatible')
@Auth('api-key', 'chat')
@Controller('v1/models')
export class ModelsController {
  constructor(private readonly vllm: VllmService) {}

  @Get()
  @ApiOperation({ summary: "The models served by the vLLM upstreams, merged (vLLM's model cards as they are)" })
  @ApiOkResponse({
    description: 'OpenAI’s model list',
    schema: {
      type: 'object',
      properties: {
        object: { type: 'string', enum: ['list'] },
        data: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: true,
            properties: {
              id: { type: 'string' },
              object: { type: 'string', enum: ['model'] },
              created: { type: 'integer' },
              owned_by: { type: 'string' },
              max_model_len: { type: 'integer' },
            },
          },
        },
      },
      example: { object: 'list', data: [{ id: 'my-model', object: 'model', created: 1764583200, owned_by: 'vllm' }] },
    },
  })
  list(): Promise<ModelList> {
    return this.vllm.listModels();
  }
}
