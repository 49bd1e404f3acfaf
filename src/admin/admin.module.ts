import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { ConversationsModule } from '../conversations/conversations.module.js';
import { LlmConfigsModule } from '../llm-configs/llm-configs.module.js';
import { AdminApiKeysController } from './admin-api-keys.controller.js';
import { AdminAuthController } from './admin-auth.controller.js';
import { AdminConversationsController } from './admin-conversations.controller.js';
import { AdminLlmConfigsController } from './admin-llm-configs.controller.js';

/** The admin JSON API (admin token only, except the login): thin controllers over the feature modules' services. */
@Module({
  imports: [AuthModule, ConversationsModule, LlmConfigsModule],
  controllers: [AdminAuthController, AdminConversationsController, AdminLlmConfigsController, AdminApiKeysController],
})
export class AdminModule {}
