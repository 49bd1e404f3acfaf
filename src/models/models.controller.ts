import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
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
  list(): Promise<ModelList> {
    return this.vllm.listModels();
  }
}
