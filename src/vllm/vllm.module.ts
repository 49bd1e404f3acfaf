import { Global, Module } from '@nestjs/common';
import { VllmService } from './vllm.service.js';

@Global()
@Module({ providers: [VllmService], exports: [VllmService] })
export class VllmModule {}
