import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppConfig } from '../config/app-config.js';
import { postgresOptions } from './database.options.js';

/**
 * The connection pool (one per process). Each feature module registers its own entities with
 * `TypeOrmModule.forFeature`, and only it injects their repositories. Migrations run at boot only when
 * MIGRATIONS_RUN is true.
 */
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => ({
        ...postgresOptions(config.databaseUrl),
        migrationsRun: config.migrationsRun,
        autoLoadEntities: true,
      }),
    }),
  ],
  exports: [TypeOrmModule],
})
export class DatabaseModule {}
