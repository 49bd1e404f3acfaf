import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { type EntityManager, Not, type Repository } from 'typeorm';
import { AppError } from '../common/errors/app-error.js';
import type { CreateLlmConfigDto, UpdateLlmConfigDto } from './llm-config.dto.js';
import { LlmConfig } from './llm-config.entity.js';
import { isPgError, PG_UNIQUE_VIOLATION } from '../common/errors/pg-error.js';

/**
 * A fallback bound on staleness: a write by any process reaches every cache through the change feed at once
 * (LlmConfigsModule), and this covers a feed connection that died without anyone noticing.
 */
const CACHE_TTL_MS = 30_000;
/** Configs are few; the bound only stops a flood of distinct ids from growing the map. */
const CACHE_MAX_ENTRIES = 1_000;
/** Serialises default switches: two concurrent "make X the default" would otherwise both clear, then collide. */
const DEFAULT_SWITCH_LOCK = 0x11c0_0001;

interface CacheEntry {
  at: number;
  config: Promise<Readonly<LlmConfig> | null>;
}

@Injectable()
export class LlmConfigsService {
  private readonly cache = new Map<string, CacheEntry>();
  private defaultEntry: CacheEntry | undefined;

  constructor(@InjectRepository(LlmConfig) private readonly configs: Repository<LlmConfig>) {}

  list(): Promise<LlmConfig[]> {
    return this.configs.find({ order: { name: 'ASC' } });
  }

  async get(id: string): Promise<LlmConfig> {
    const config = await this.configs.findOneBy({ id });
    if (config === null) throw notFound(id);
    return config;
  }

  create(dto: CreateLlmConfigDto): Promise<LlmConfig> {
    return this.write(dto.name, async (manager) => {
      const config = manager.create(LlmConfig, {
        name: dto.name,
        model: dto.model ?? null,
        temperature: dto.temperature ?? null,
        topP: dto.top_p ?? null,
        maxTokens: dto.max_tokens ?? null,
        systemPrompt: dto.system_prompt ?? null,
        extraParams: dto.extra_params ?? {},
        isDefault: dto.is_default ?? false,
      });
      if (config.isDefault) await clearDefault(manager, undefined);
      return manager.save(config);
    });
  }

  update(id: string, dto: UpdateLlmConfigDto): Promise<LlmConfig> {
    return this.write(dto.name, async (manager) => {
      const config = await manager.findOneBy(LlmConfig, { id });
      if (config === null) throw notFound(id);
      if (dto.name !== undefined) config.name = dto.name;
      if (dto.model !== undefined) config.model = dto.model;
      if (dto.temperature !== undefined) config.temperature = dto.temperature;
      if (dto.top_p !== undefined) config.topP = dto.top_p;
      if (dto.max_tokens !== undefined) config.maxTokens = dto.max_tokens;
      if (dto.system_prompt !== undefined) config.systemPrompt = dto.system_prompt;
      if (dto.extra_params !== undefined) config.extraParams = dto.extra_params;
      if (dto.is_default === true && !config.isDefault) await clearDefault(manager, id);
      if (dto.is_default !== undefined) config.isDefault = dto.is_default;
      return manager.save(config);
    });
  }

  /** Conversations that used it keep their messages; their `llm_config_id` becomes null (ON DELETE SET NULL). */
  async remove(id: string): Promise<void> {
    const result = await this.configs.delete({ id });
    this.invalidate();
    if (result.affected === 0) throw notFound(id);
  }

  /** For the chat path: a config by id through the cache; null when there is none. */
  findCached(id: string): Promise<Readonly<LlmConfig> | null> {
    const now = performance.now();
    const hit = this.cache.get(id);
    if (hit !== undefined && now - hit.at < CACHE_TTL_MS) return hit.config;
    if (this.cache.size >= CACHE_MAX_ENTRIES) this.cache.clear();
    const entry = this.load(
      now,
      () => this.configs.findOneBy({ id }),
      false,
      (stale) => {
        if (this.cache.get(id) === stale) this.cache.delete(id);
      },
    );
    this.cache.set(id, entry);
    return entry.config;
  }

  /** For the chat path: the default config through the cache; null when none is marked default. */
  findDefaultCached(): Promise<Readonly<LlmConfig> | null> {
    const now = performance.now();
    if (this.defaultEntry !== undefined && now - this.defaultEntry.at < CACHE_TTL_MS) return this.defaultEntry.config;
    // "No default" is cached too: a conversation without a config asks for the default on every turn.
    const entry = this.load(
      now,
      () => this.configs.findOneBy({ isDefault: true }),
      true,
      (stale) => {
        if (this.defaultEntry === stale) this.defaultEntry = undefined;
      },
    );
    this.defaultEntry = entry;
    return entry.config;
  }

  /**
   * A write (here or, through the change feed, in another process) drops every cached config. Loads already in
   * flight were registered before, so `clear()` removes them too: a request that started reading before the write
   * may still see the old config, none after it will.
   */
  invalidate(): void {
    this.cache.clear();
    this.defaultEntry = undefined;
  }

  /** A failure is never cached (a database back up is seen at once); a miss only when `cacheMiss`. */
  private load(
    at: number,
    query: () => Promise<LlmConfig | null>,
    cacheMiss: boolean,
    forget: (entry: CacheEntry) => void,
  ): CacheEntry {
    const entry: CacheEntry = { at, config: query().then((found) => (found === null ? null : Object.freeze(found))) };
    entry.config.then(
      (found) => {
        if (found === null && !cacheMiss) forget(entry);
      },
      () => forget(entry),
    );
    return entry;
  }

  private async write(
    name: string | undefined,
    work: (manager: EntityManager) => Promise<LlmConfig>,
  ): Promise<LlmConfig> {
    try {
      return await this.configs.manager.transaction(work);
    } catch (err) {
      if (isPgError(err, PG_UNIQUE_VIOLATION, 'uq_llm_configs_name')) {
        throw new AppError('conflict', `An LLM config named '${name ?? ''}' already exists`, { param: 'name' });
      }
      throw err;
    } finally {
      this.invalidate();
    }
  }
}

async function clearDefault(manager: EntityManager, keep: string | undefined): Promise<void> {
  await manager.query('SELECT pg_advisory_xact_lock($1)', [DEFAULT_SWITCH_LOCK]);
  await manager.update(LlmConfig, keep === undefined ? { isDefault: true } : { isDefault: true, id: Not(keep) }, {
    isDefault: false,
  });
}

function notFound(id: string): AppError {
  return new AppError('not_found', `No LLM config with id '${id}'`, { param: 'id' });
}
