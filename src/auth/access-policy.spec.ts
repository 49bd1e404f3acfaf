import { describe, expect, it, jest } from '@jest/globals';
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import type { Repository } from 'typeorm';
import { AppError } from '../common/errors/app-error.js';
import type { AppConfig } from '../config/app-config.js';
import { AccessPolicy } from './access-policy.js';
import type { AdminAuthService } from './admin-auth.service.js';
import type { ApiKey } from './api-key.entity.js';
import { ApiKeyService, sha256 } from './api-key.service.js';
import { type ResponseEnd, UNLIMITED } from './key-gate.js';
import { ANONYMOUS } from '../common/principal.js';

const STATIC_KEYS = ['key-one', 'key-two'];
/** These keys have no limits, so nothing waits for the response to close. */
const OPEN_RESPONSE: ResponseEnd = { closed: false, once: () => OPEN_RESPONSE as ServerResponse };

function keyRow(overrides: Partial<ApiKey> = {}): ApiKey {
  return {
    id: '11111111-1111-4111-8111-111111111111',
    name: 'test',
    keyHash: sha256('sk-gw-chatonly'),
    prefix: 'sk-gw-chato',
    scopes: ['chat'],
    expiresAt: null,
    rateLimitRpm: null,
    maxConcurrent: null,
    revokedAt: null,
    lastUsedAt: null,
    createdAt: new Date(),
    ...overrides,
  };
}

async function setUp(enabled: boolean, rows: ApiKey[] = []) {
  const config = { auth: { enabled, apiKeys: STATIC_KEYS, staticKeyLimits: UNLIMITED } } as unknown as AppConfig;
  const repo: jest.Mocked<Pick<Repository<ApiKey>, 'find' | 'query' | 'create' | 'save'>> = {
    find: jest.fn<Repository<ApiKey>['find']>().mockResolvedValue(rows),
    query: jest.fn(() => Promise.resolve([])) as unknown as jest.Mocked<Repository<ApiKey>>['query'],
    create: jest.fn((row: Partial<ApiKey>) => row as ApiKey) as unknown as jest.Mocked<Repository<ApiKey>>['create'],
    save: jest.fn((row: ApiKey) =>
      Promise.resolve({ ...row, id: '44444444-4444-4444-8444-444444444444', createdAt: new Date() }),
    ) as unknown as jest.Mocked<Repository<ApiKey>>['save'],
  };
  const keys = new ApiKeyService(config, repo as unknown as Repository<ApiKey>);
  await keys.reload();
  const admin: jest.Mocked<Pick<AdminAuthService, 'authenticate'>> = {
    authenticate: jest.fn<AdminAuthService['authenticate']>(() => {
      throw new AppError('invalid_token', 'Invalid or expired admin token.');
    }),
  };
  return { policy: new AccessPolicy(config, keys, admin as unknown as AdminAuthService), keys, repo, admin };
}

function failure(run: () => unknown): AppError | undefined {
  try {
    run();
    return undefined;
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
}

const CHAT = { kind: 'api-key', scope: 'chat' } as const;
const CONFIGS = { kind: 'api-key', scope: 'configs' } as const;

describe('AccessPolicy', () => {
  it('lets any client through an api-key route when authentication is off, as anonymous', async () => {
    const { policy } = await setUp(false);
    expect(policy.authorize(CHAT, undefined, OPEN_RESPONSE)).toEqual(ANONYMOUS);
    expect(policy.authorize(CONFIGS, 'Bearer whatever', OPEN_RESPONSE)).toEqual(ANONYMOUS);
  });

  it('gives a static key every scope and an owner that is a digest prefix, never the key', async () => {
    const { policy } = await setUp(true);
    for (const header of ['Bearer key-one', 'bearer key-one', 'BEARER  key-one ']) {
      const principal = policy.authorize(CONFIGS, header, OPEN_RESPONSE);
      expect(principal).toEqual({
        kind: 'api-key',
        keyId: null,
        owner: `static:${sha256('key-one').slice(0, 16)}`,
        scopes: ['chat', 'configs'],
      });
    }
    expect(JSON.stringify(policy.authorize(CHAT, 'Bearer key-two', OPEN_RESPONSE))).not.toContain('key-two');
  });

  it('answers a missing or malformed header with 401 asking for a Bearer key', async () => {
    const { policy } = await setUp(true);
    for (const header of [undefined, '', 'Bearer', 'Bearer ', 'Basic a2V5LW9uZQ==', 'key-one', 'Bearer key-one x']) {
      const err = failure(() => policy.authorize(CHAT, header, OPEN_RESPONSE));
      expect(err?.code).toBe('unauthorized');
      expect(err?.message).toContain('Authorization: Bearer');
    }
  });

  it('answers an unknown, revoked or expired key with 401 that does not repeat it', async () => {
    const { policy } = await setUp(true, [
      keyRow({ id: '22222222-2222-4222-8222-222222222222', keyHash: sha256('sk-gw-revoked'), revokedAt: new Date() }),
      keyRow({ id: '33333333-3333-4333-8333-333333333333', keyHash: sha256('sk-gw-expired'), expiresAt: new Date(1) }),
    ]);
    for (const [key, message] of [
      ['KEY-ONE', 'Invalid API key.'],
      ['sk-gw-revoked', 'This API key has been revoked.'],
      ['sk-gw-expired', 'This API key has expired.'],
    ] as const) {
      const err = failure(() => policy.authorize(CHAT, `Bearer ${key}`, OPEN_RESPONSE));
      expect(err?.code).toBe('unauthorized');
      expect(err?.message).toBe(message);
    }
  });

  it("refuses a key without the route's scope with 403, and files a database key under its id", async () => {
    const { policy } = await setUp(true, [keyRow()]);
    expect(policy.authorize(CHAT, 'Bearer sk-gw-chatonly', OPEN_RESPONSE)).toMatchObject({
      kind: 'api-key',
      keyId: '11111111-1111-4111-8111-111111111111',
      owner: '11111111-1111-4111-8111-111111111111',
    });
    const err = failure(() => policy.authorize(CONFIGS, 'Bearer sk-gw-chatonly', OPEN_RESPONSE));
    expect(err?.code).toBe('forbidden');
    expect(err?.message).toContain("'configs' scope");
  });

  it("admits a limited key through its gate: a slot per request until its response closes, and the scope's 403 first", async () => {
    const { policy, keys } = await setUp(true, [keyRow({ maxConcurrent: 1 })]);
    const response = new EventEmitter() as EventEmitter & ResponseEnd;
    Object.assign(response, { closed: false });
    policy.authorize(CHAT, 'Bearer sk-gw-chatonly', response);
    // A request the scope refuses never reaches the gate.
    expect(failure(() => policy.authorize(CONFIGS, 'Bearer sk-gw-chatonly', OPEN_RESPONSE))?.code).toBe('forbidden');
    const over = failure(() => policy.authorize(CHAT, 'Bearer sk-gw-chatonly', OPEN_RESPONSE));
    expect(over?.code).toBe('rate_limited');
    expect(over?.retryAfterSeconds).toBe(1);
    response.emit('close');
    expect(keys.lookup('sk-gw-chatonly').gate?.active).toBe(0);
    // A reload keeps the counters (requests in flight keep their slots).
    const gate = keys.lookup('sk-gw-chatonly').gate;
    await keys.reload();
    expect(keys.lookup('sk-gw-chatonly').gate).toBe(gate);
  });

  it('never takes a client key on an admin route: only the admin token check decides', async () => {
    const { policy, admin } = await setUp(true);
    expect(failure(() => policy.authorize({ kind: 'admin' }, 'Bearer key-one', OPEN_RESPONSE))?.code).toBe(
      'invalid_token',
    );
    expect(admin.authenticate).toHaveBeenCalledWith('key-one');
    expect(failure(() => policy.authorize({ kind: 'admin' }, undefined, OPEN_RESPONSE))?.code).toBe('invalid_token');
    // With client authentication off, the admin routes are still closed.
    const off = await setUp(false);
    expect(failure(() => off.policy.authorize({ kind: 'admin' }, undefined, OPEN_RESPONSE))?.code).toBe(
      'invalid_token',
    );
  });
});

describe('ApiKeyService', () => {
  it('makes sk-gw- keys of 40 base62 characters, each different, with a short prefix', async () => {
    const { keys } = await setUp(true);
    const made = await Promise.all([1, 2, 3].map(() => keys.create('k', ['chat'], null)));
    for (const { key, row } of made) {
      expect(key).toMatch(/^sk-gw-[0-9A-Za-z]{40}$/);
      expect(row.prefix).toBe(key.slice(0, 12));
      expect(row.keyHash).toBe(sha256(key));
      expect(JSON.stringify(row)).not.toContain(key);
    }
    expect(new Set(made.map((m) => m.key)).size).toBe(3);
    // A key made here works at once, with the scopes it was given.
    const first = made[0]?.key ?? '';
    expect(keys.authenticate(first)).toMatchObject({ kind: 'api-key', scopes: ['chat'] });
  });

  it('writes last_used_at in one batched query per flush, never per request', async () => {
    const { keys, repo } = await setUp(true, [keyRow()]);
    for (let i = 0; i < 50; i++) keys.authenticate('sk-gw-chatonly');
    keys.authenticate('key-one');
    expect(repo.query).not.toHaveBeenCalled();

    await keys.flushLastUsed();
    expect(repo.query).toHaveBeenCalledTimes(1);
    const params = repo.query.mock.calls[0]?.[1] as [string[], string[]];
    // Only the database key: a static key has no row.
    expect(params[0]).toEqual(['11111111-1111-4111-8111-111111111111']);

    await keys.flushLastUsed();
    expect(repo.query).toHaveBeenCalledTimes(1);
  });

  it('keeps a key revoked even when a reload read its row from before the revocation', async () => {
    const { keys, repo } = await setUp(true, [keyRow({ revokedAt: new Date() })]);
    repo.find.mockResolvedValue([keyRow()]);
    await keys.reload();
    expect(() => keys.authenticate('sk-gw-chatonly')).toThrow('This API key has been revoked.');
  });
});
