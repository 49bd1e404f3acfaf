import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ChangeFeed } from '../database/change-feed.js';
import { DatabaseModule } from '../database/database.module.js';
import { LlmConfig } from './llm-config.entity.js';
import { LlmConfigsController } from './llm-configs.controller.js';
import { LlmConfigsService } from './llm-configs.service.js';

@Module({
  imports: [DatabaseModule, TypeOrmModule.forFeature([LlmConfig])],
  controllers: [LlmConfigsController],
  providers: [LlmConfigsService],
  exports: [LlmConfigsService],
})
export class LlmConfigsModule {
  /**
   * A config written by any process (this one included: its own writes already dropped the cache) drops this
   * process's cache, so the chat path sees the change within the notification's delivery. Subscribed at construction,
   * before any lifecycle hook, so no notification after the feed's first LISTEN is missed.
   */
  constructor(changes: ChangeFeed, configs: LlmConfigsService) {
    changes.subscribe('llm_configs', () => configs.invalidate());
  }
}
