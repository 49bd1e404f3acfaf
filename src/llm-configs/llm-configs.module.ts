import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { LlmConfig } from './llm-config.entity.js';
import { LlmConfigsController } from './llm-configs.controller.js';
import { LlmConfigsService } from './llm-configs.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([LlmConfig])],
  controllers: [LlmConfigsController],
  providers: [LlmConfigsService],
  exports: [LlmConfigsService],
})
export class LlmConfigsModule {}
