import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppConfig } from '../config/app-config.js';
import { ChangeFeed } from './change-feed.js';
import { postgresOptions } from './database.options.js';

/**
 * The connection pool (one per process), and the change feed: one more connection that hears what other processes
 * wrote. Each feature module registers its own entities with `TypeOrmModule.forFeature`, and only it injects their
 * repositories. Migrations run at boot only when MIGRATIONS_RUN is true.
 */
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => ({
        ...postgresOptions(config.databaseUrl, [], config.database),
        migrationsRun: config.migrationsRun,
        autoLoadEntities: true,
      }),
    }),
  ],
  providers: [ChangeFeed],
  exports: [TypeOrmModule, ChangeFeed],
})
export class DatabaseModule {}
