import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppConfig } from '../config/app-config.js';
import { ENTITIES, postgresOptions } from './database.options.js';

/**
 * The connection pool (one per process) and the repositories of every entity: a module that imports this one can
 * inject `Repository<Conversation>` and friends. Migrations run at boot only when MIGRATIONS_RUN is true.
 */
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => ({
        ...postgresOptions(config.databaseUrl),
        migrationsRun: config.migrationsRun,
      }),
    }),
    TypeOrmModule.forFeature(ENTITIES),
  ],
  exports: [TypeOrmModule],
})
export class DatabaseModule {}
