import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from './app.module.js';
import type { AppConfig } from './config/app-config.js';

/** Builds the fully configured application; shared by `main.ts` and the e2e tests so both run the same app. */
export async function createApp(config: AppConfig): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
    bodyParser: false,
    bufferLogs: true,
  });
  app.useBodyParser('json', { limit: config.bodyLimit });
  app.enableShutdownHooks();
  return app;
}
