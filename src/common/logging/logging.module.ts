import { type DynamicModule, Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import type { AppConfig } from '../../config/app-config.js';
import { attachLogOutputs, type LogOutputs, processLogger } from './process-logger.js';

const LOG_OUTPUTS = Symbol('LOG_OUTPUTS');

/**
 * Structured logging: nestjs-pino's `Logger` / `PinoLogger` (global) on the process logger, with this app's level
 * and log file attached at start-up and flushed and closed at shutdown. The request logger itself (`http-logger.ts`)
 * is installed by `createApp` (`useExisting: true` here) because it has to run before the body parser, so that a request rejected
 * by the parser still gets its id and its two lines.
 */
@Module({})
export class LoggingModule implements OnApplicationShutdown {
  constructor(@Inject(LOG_OUTPUTS) private readonly outputs: LogOutputs) {}

  static forRoot(log: AppConfig['log']): DynamicModule {
    return {
      module: LoggingModule,
      imports: [
        LoggerModule.forRoot({ pinoHttp: { logger: processLogger(), wrapSerializers: false }, useExisting: true }),
      ],
      providers: [{ provide: LOG_OUTPUTS, useFactory: (): LogOutputs => attachLogOutputs(log) }],
    };
  }

  onApplicationShutdown(): Promise<void> {
    return this.outputs.close();
  }
}
