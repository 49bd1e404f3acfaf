import { Module } from '@nestjs/common';
import { VllmModule } from '../vllm/vllm.module.js';
import { ModelsController } from './models.controller.js';

@Module({ imports: [VllmModule], controllers: [ModelsController] })
export class ModelsModule {}
