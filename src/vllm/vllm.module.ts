import { Module } from '@nestjs/common';
import { VllmService } from './vllm.service.js';

/** Imported by each feature that calls vLLM; Nest builds the module once, so they share one service and its pool. */
@Module({ providers: [VllmService], exports: [VllmService] })
export class VllmModule {}
