import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { LlmConfig } from '../../src/llm-configs/llm-config.entity.js';
import { LlmConfigsService } from '../../src/llm-configs/llm-configs.service.js';
import { createLlmConfig } from '../factories/conversations.js';
import { openTestDataSource } from '../helpers/pg.js';

describe('LLM configs (real PostgreSQL)', () => {
  let db: DataSource;
  let service: LlmConfigsService;

  beforeAll(async () => {
    db = await openTestDataSource();
    service = new LlmConfigsService(db.getRepository(LlmConfig));
  });

  afterAll(async () => {
    await db.destroy();
  });

  const defaults = (): Promise<LlmConfig[]> => db.getRepository(LlmConfig).findBy({ isDefault: true });

  it('moves the default: making a config the default clears the previous one', async () => {
    const first = await service.create({ name: `a-${randomUUID()}`, is_default: true });
    const second = await service.create({ name: `b-${randomUUID()}`, is_default: true });

    expect((await defaults()).map((c) => c.id)).toEqual([second.id]);

    await service.update(first.id, { is_default: true });
    expect((await defaults()).map((c) => c.id)).toEqual([first.id]);
  });

  it('keeps exactly one default when several configs claim it at once', async () => {
    const configs = await Promise.all(Array.from({ length: 5 }, () => createLlmConfig(db)));

    await Promise.all(configs.map((c) => service.update(c.id, { is_default: true })));

    const after = await defaults();
    expect(after).toHaveLength(1);
    expect(configs.map((c) => c.id)).toContain(after[0]?.id);
  });

  it('answers a duplicate name with a conflict naming the field', async () => {
    const name = `dup-${randomUUID()}`;
    await service.create({ name });

    await expect(service.create({ name })).rejects.toMatchObject({ code: 'conflict', param: 'name' });
    const other = await service.create({ name: `other-${randomUUID()}` });
    await expect(service.update(other.id, { name })).rejects.toMatchObject({ code: 'conflict', param: 'name' });
  });

  it('serves reads from the cache and drops it on every write', async () => {
    const config = await service.create({ name: `cached-${randomUUID()}`, temperature: 0.1 });
    expect((await service.findCached(config.id))?.temperature).toBe(0.1);

    // A change behind the service's back is not seen: the read came from the cache.
    await db.getRepository(LlmConfig).update({ id: config.id }, { temperature: 0.5 });
    expect((await service.findCached(config.id))?.temperature).toBe(0.1);

    await service.update(config.id, { top_p: 0.9 });
    expect(await service.findCached(config.id)).toMatchObject({ temperature: 0.5, topP: 0.9 });

    await service.update(config.id, { is_default: true });
    expect((await service.findDefaultCached())?.id).toBe(config.id);

    await service.remove(config.id);
    expect(await service.findCached(config.id)).toBeNull();
    expect(await service.findDefaultCached()).toBeNull();
  });

  it('reports an unknown id as not found', async () => {
    const unknown = '00000000-0000-4000-8000-00000000dead';
    await expect(service.get(unknown)).rejects.toMatchObject({ code: 'not_found' });
    await expect(service.update(unknown, { name: 'x' })).rejects.toMatchObject({ code: 'not_found' });
    await expect(service.remove(unknown)).rejects.toMatchObject({ code: 'not_found' });
  });
});
