import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { DataSource } from 'typeorm';
import { postgresOptions } from './database/database.options.js';
import { ENTITIES } from './entities.js';

// Only for the TypeORM CLI (`npm run migration:*`, which run it from dist/); the app builds its own from AppConfig.
if (existsSync('.env')) process.loadEnvFile('.env');
const url = process.env.DATABASE_URL;
if (url === undefined || url === '') throw new Error('DATABASE_URL is required to run the TypeORM CLI');

export default new DataSource(postgresOptions(url, ENTITIES));
