import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { AuthModule } from '../auth/auth.module.js';
import { ConversationsModule } from '../conversations/conversations.module.js';
import { MetricsModule } from '../metrics/metrics.module.js';
import { UsageModule } from '../usage/usage.module.js';
import { VllmModule } from '../vllm/vllm.module.js';
import { ChatFastLane } from './chat-fast-lane.js';
import { CompletionAccounting } from './completion-accounting.js';
import { ChatController } from './chat.controller.js';
import { ChatService } from './chat.service.js';
import { RelayService } from './relay.service.js';

@Module({
  imports: [AuthModule, DiscoveryModule, VllmModule, ConversationsModule, MetricsModule, UsageModule],
  controllers: [ChatController],
  providers: [ChatService, RelayService, ChatFastLane, CompletionAccounting],
  exports: [ChatFastLane],
})
export class ChatModule {}
