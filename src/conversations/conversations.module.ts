import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { LlmConfigsModule } from '../llm-configs/llm-configs.module.js';
import { VllmModule } from '../vllm/vllm.module.js';
import { ChatMemoryService } from './chat-memory.service.js';
import { ChatMessage } from './chat-message.entity.js';
import { Conversation } from './conversation.entity.js';
import { ConversationsController } from './conversations.controller.js';
import { ConversationsService } from './conversations.service.js';
import { MessageStore } from './turn/message-store.js';
import { RequestResolver } from './turn/request-resolver.js';
import { TokenCounter } from './turn/token-counter.js';
import { TurnBudget } from './turn/turn-budget.js';
import { TurnRecorder } from './turn/turn-recorder.js';

@Module({
  imports: [TypeOrmModule.forFeature([Conversation, ChatMessage]), LlmConfigsModule, VllmModule],
  controllers: [ConversationsController],
  providers: [
    ConversationsService,
    ChatMemoryService,
    RequestResolver,
    TurnBudget,
    TurnRecorder,
    MessageStore,
    TokenCounter,
  ],
  exports: [ChatMemoryService, ConversationsService],
})
export class ConversationsModule {}
