import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { createHash, randomBytes } from 'node:crypto';
import type { Repository } from 'typeorm';
import { AppError } from '../common/errors/app-error.js';
import { AppConfig } from '../config/app-config.js';
import { ApiKey } from './api-key.entity.js';
import { KeyGate, type KeyLimits, sameLimits, UNLIMITED } from './key-gate.js';
import { API_KEY_SCOPES, type ApiKeyScope, type Principal } from '../common/principal.js';

export type ApiKeyPrincipal = Extract<Principal, { kind: 'api-key' }>;

export const KEY_PREFIX = 'sk-gw-';
/** 40 base62 characters: about 238 bits, far beyond guessing, and each one is unbiased (see `randomBase62`). */
const KEY_RANDOM_CHARS = 40;
/** `sk-gw-` and 6 random characters: tells keys apart in a list, says nothing useful about the other 34. */
const VISIBLE_PREFIX_LENGTH = KEY_PREFIX.length + 6;
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** `last_used_at` is at most this stale, and a key's row is written at most this often. */
export const LAST_USED_FLUSH_MS = 60_000;
/**
 * Keys made or revoked by another gateway process (cluster workers, other hosts) arrive through the change feed
 * within milliseconds (AuthModule re-reads the table on each notification and after the feed reconnects). This
 * periodic re-read stays as the fallback for the one case the feed cannot see, a listening connection that died
 * silently (a half-open socket): one small query per process every 30 s, off the request path.
 */
export const KEY_RELOAD_MS = 30_000;
/** How much of a static key's digest names its owner: unique among any realistic number of keys, and not the key. */
const STATIC_OWNER_DIGEST_CHARS = 16;

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Rejection sampling over random bytes: 248 = 4 × 62, so every kept byte maps to a character with equal odds. */
function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248 && out.length < length) out += BASE62[byte % 62];
    }
  }
  return out;
}

/** A valid key, as the access policy sees it. */
export interface KnownKey {
  readonly principal: ApiKeyPrincipal;
  /** Its per-key limits' counters; undefined: unlimited (nothing to count). */
  readonly gate: KeyGate | undefined;
}

interface KeyEntry extends KnownKey {
  /** Epoch ms; undefined: never expires. */
  readonly expiresAt: number | undefined;
  revoked: boolean;
}

export interface CreatedApiKey {
  row: ApiKey;
  /** The key itself: returned once, to the admin who made it, and kept nowhere. */
  key: string;
}

/**
 * Client keys: the static ones of `API_KEY` (every scope) and those made through the admin API, all held in memory
 * by SHA-256, so checking a key is one hash and one map lookup, never a database query. Rows are loaded at start-up
 * and re-read on every change another process announces, and every `KEY_RELOAD_MS`; this process's own creations
 * and revocations update the map at once. `last_used_at` is collected in memory and written in one batched UPDATE a
 * minute. Keys are never logged or echoed in an error.
 */
@Injectable()
export class ApiKeyService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(ApiKeyService.name);
  private readonly byDigest = new Map<string, KeyEntry>();
  /** Key id → when it was last used, since the last flush. */
  /** Key id → epoch ms of its last use: a number, so a request allocates no Date. */
  private readonly usedSinceFlush = new Map<string, number>();
  private flushTimer: NodeJS.Timeout | undefined;
  private reloadTimer: NodeJS.Timeout | undefined;

  constructor(
    config: AppConfig,
    @InjectRepository(ApiKey) private readonly keys: Repository<ApiKey>,
  ) {
    for (const key of config.auth.apiKeys) {
      const digest = sha256(key);
      const gate = gateFor(config.auth.staticKeyLimits, undefined);
      this.byDigest.set(digest, {
        principal: {
          kind: 'api-key',
          keyId: null,
          owner: `static:${digest.slice(0, STATIC_OWNER_DIGEST_CHARS)}`,
          scopes: API_KEY_SCOPES,
        },
        gate,
        expiresAt: undefined,
        revoked: false,
      });
    }
  }

  async onModuleInit(): Promise<void> {
    await this.reload();
    this.flushTimer = setInterval(() => void this.flushLastUsed(), LAST_USED_FLUSH_MS).unref();
    this.reloadTimer = setInterval(() => {
      this.reload().catch((err: unknown) => {
        this.logger.warn({ err }, 'could not re-read the API keys; keeping the ones in memory');
      });
    }, KEY_RELOAD_MS).unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.reloadTimer);
    clearInterval(this.flushTimer);
    await this.flushLastUsed();
  }

  /**
   * The principal a client key acts as; a 401 for an unknown, revoked or expired key. The message never repeats the
   * key, and an unknown key is not told apart from a malformed one.
   */
  authenticate(key: string): ApiKeyPrincipal {
    return this.lookup(key).principal;
  }

  /** `authenticate`, with the key's limits' gate for the access policy to admit the request through. */
  lookup(key: string): KnownKey {
    const entry = this.byDigest.get(sha256(key));
    if (entry === undefined) throw new AppError('unauthorized', 'Invalid API key.');
    if (entry.revoked) throw new AppError('unauthorized', 'This API key has been revoked.');
    if (entry.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
      throw new AppError('unauthorized', 'This API key has expired.');
    }
    const { keyId } = entry.principal;
    if (keyId !== null) this.usedSinceFlush.set(keyId, Date.now());
    return entry;
  }

  async create(
    name: string,
    scopes: readonly ApiKeyScope[],
    expiresAt: Date | null,
    limits: KeyLimits = UNLIMITED,
  ): Promise<CreatedApiKey> {
    const key = `${KEY_PREFIX}${randomBase62(KEY_RANDOM_CHARS)}`;
    const row = await this.keys.save(
      this.keys.create({
        name,
        keyHash: sha256(key),
        prefix: key.slice(0, VISIBLE_PREFIX_LENGTH),
        scopes: API_KEY_SCOPES.filter((scope) => scopes.includes(scope)),
        expiresAt,
        rateLimitRpm: limits.rateLimitRpm,
        maxConcurrent: limits.maxConcurrent,
        revokedAt: null,
        lastUsedAt: null,
      }),
    );
    this.remember(row);
    return { row, key };
  }

  /** Every key made through the admin API, newest first, revoked ones included. */
  list(): Promise<ApiKey[]> {
    return this.keys.find({ order: { createdAt: 'DESC', id: 'ASC' } });
  }

  /** Refused at once in this process; the row stays (its conversations keep a known owner). Idempotent. */
  async revoke(id: string): Promise<ApiKey> {
    await this.keys
      .createQueryBuilder()
      .update()
      .set({ revokedAt: () => 'now()' })
      .where('id = :id AND revoked_at IS NULL', { id })
      .execute();
    const row = await this.keys.findOneBy({ id });
    if (row === null) throw new AppError('not_found', `No API key with id '${id}'`, { param: 'id' });
    this.remember(row);
    this.usedSinceFlush.delete(id);
    return row;
  }

  /** Every row into the map: new keys appear, revocations and expiry changes apply. */
  async reload(): Promise<void> {
    for (const row of await this.keys.find()) this.remember(row);
  }

  /** One UPDATE for every key used since the last flush; failures are logged and the times kept for the next one. */
  async flushLastUsed(): Promise<void> {
    if (this.usedSinceFlush.size === 0) return;
    const batch = [...this.usedSinceFlush];
    this.usedSinceFlush.clear();
    try {
      await this.keys.query(
        `UPDATE "api_keys" k SET "last_used_at" = u.used_at
         FROM unnest($1::uuid[], $2::timestamptz[]) AS u(id, used_at)
         WHERE k."id" = u.id AND (k."last_used_at" IS NULL OR k."last_used_at" < u.used_at)`,
        [batch.map(([id]) => id), batch.map(([, at]) => new Date(at).toISOString())],
      );
    } catch (err) {
      for (const [id, at] of batch) if (!this.usedSinceFlush.has(id)) this.usedSinceFlush.set(id, at);
      this.logger.warn({ err }, 'could not record when API keys were last used; retrying at the next flush');
    }
  }

  private remember(row: ApiKey): void {
    // Revocation is final: a reload that read the row just before this process revoked it must not undo it.
    const known = this.byDigest.get(row.keyHash);
    const revoked = row.revokedAt !== null || known?.revoked === true;
    this.byDigest.set(row.keyHash, {
      principal: { kind: 'api-key', keyId: row.id, owner: row.id, scopes: row.scopes },
      // The counters outlive a reload: requests in flight keep their slots, the bucket keeps its level.
      gate: gateFor({ rateLimitRpm: row.rateLimitRpm, maxConcurrent: row.maxConcurrent }, known?.gate),
      expiresAt: row.expiresAt?.getTime(),
      revoked,
    });
  }
}

/** The gate a key's limits need: the one it has while they are unchanged, none when there are none. */
function gateFor(limits: KeyLimits, current: KeyGate | undefined): KeyGate | undefined {
  if (limits.rateLimitRpm === null && limits.maxConcurrent === null) return undefined;
  return current !== undefined && sameLimits(current.limits, limits) ? current : new KeyGate(limits);
}
