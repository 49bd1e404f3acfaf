import { type DynamicModule, Module } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { AdminModule } from './admin/admin.module.js';
import { AdminUiModule } from './admin/admin-ui.module.js';
import { AuthModule } from './auth/auth.module.js';
import { ChatModule } from './chat/chat.module.js';
import { RouteLogInterceptor } from './common/interceptors/route-log.interceptor.js';
import { ShutdownService } from './common/shutdown/shutdown.service.js';
import { LoggingModule } from './common/logging/logging.module.js';
import { AppConfig } from './config/app-config.js';
import { ConversationsModule } from './conversations/conversations.module.js';
import { DatabaseModule } from './database/database.module.js';
import { HealthModule } from './health/health.module.js';
import { LlmConfigsModule } from './llm-configs/llm-configs.module.js';
import { ModelsModule } from './models/models.module.js';
import { PlaygroundModule } from './playground/playground.module.js';

/**
 * The root module is built from an already validated `AppConfig`, so a test can boot the real app with its own
 * settings and nothing reads `process.env` after `loadConfig`.
 */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        LoggingModule.forRoot(config.log),
        DatabaseModule,
        // Its global guard covers every route, and the admin API's too.
        AuthModule,
        HealthModule,
        ChatModule,
        ConversationsModule,
        LlmConfigsModule,
        ModelsModule,
        AdminModule,
        AdminUiModule,
        PlaygroundModule,
      ],
      providers: [
        { provide: AppConfig, useValue: config },
        { provide: APP_INTERCEPTOR, useClass: RouteLogInterceptor },
        ShutdownService,
      ],
      exports: [AppConfig, ShutdownService],
      global: true,
    };
  }
}
