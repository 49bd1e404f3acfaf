import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { type FindOptionsWhere, MoreThan, type Repository } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity.js';
import { AppError } from '../common/errors/app-error.js';
import { isUuid } from '../common/uuid.js';
import { ChatMessage } from './chat-message.entity.js';
import { Conversation } from './conversation.entity.js';
import type { CreateConversationDto, UpdateConversationDto } from './conversation.dto.js';
import { isPgError, PG_FOREIGN_KEY_VIOLATION } from '../common/errors/pg-error.js';

export const DEFAULT_PAGE_SIZE = 20;
/** Messages returned inline with a conversation; older ones are paged through `/messages`. */
export const INLINE_MESSAGES = 100;

/**
 * Whose conversations a call may see: an owner (a client key's identity: only its own, anyone else's is a 404 so ids
 * do not leak) or null (the admin, or authentication off: all of them). The value of `ownerScope(principal)`.
 */
export type OwnerScope = string | null;

export interface ConversationFilter {
  owner?: OwnerScope;
  /** Matches titles and message text, case-insensitively (admin search). */
  search?: string;
}

export interface ConversationWithMessages {
  conversation: Conversation;
  /** The newest ones, oldest first. */
  messages: ChatMessage[];
  /** Older messages exist. */
  hasMore: boolean;
}

export interface Page<T> {
  items: T[];
  hasMore: boolean;
  nextCursor: string | null;
}

/** Postgres keeps microseconds; a JS Date only milliseconds, so the cursor carries the time as Postgres prints it. */
const CURSOR_TIME_SQL = `to_char(c.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
const CURSOR_TIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

@Injectable()
export class ConversationsService {
  constructor(
    @InjectRepository(Conversation) private readonly conversations: Repository<Conversation>,
    @InjectRepository(ChatMessage) private readonly messages: Repository<ChatMessage>,
  ) {}

  /** `owner` is the creating key's identity (`ownerScope`); null when authentication is off or an admin made it. */
  async create(dto: CreateConversationDto, owner: OwnerScope): Promise<Conversation> {
    const conversation = this.conversations.create({
      title: dto.title ?? null,
      llmConfigId: dto.llm_config_id ?? null,
      metadata: dto.metadata ?? {},
      owner,
    });
    try {
      return await this.conversations.save(conversation);
    } catch (err) {
      throw unknownConfig(err, dto.llm_config_id);
    }
  }

  /**
   * Newest first, keyset-paginated on the (created_at DESC, id) index, or (owner, created_at DESC, id) for one owner.
   * A search scans titles and messages (ILIKE, no text index): meant for the admin's occasional look-up.
   */
  async list(limit = DEFAULT_PAGE_SIZE, after?: string, filter: ConversationFilter = {}): Promise<Page<Conversation>> {
    const query = this.conversations
      .createQueryBuilder('c')
      .addSelect(CURSOR_TIME_SQL, 'cursor_time')
      .where('TRUE')
      .orderBy('c.created_at', 'DESC')
      .addOrderBy('c.id', 'ASC')
      .limit(limit + 1);
    if (filter.owner !== undefined && filter.owner !== null)
      query.andWhere('c.owner = :owner', { owner: filter.owner });
    if (filter.search !== undefined && filter.search !== '') {
      query.andWhere(
        `(c.title ILIKE :pattern OR EXISTS (
          SELECT 1 FROM chat_messages m WHERE m.conversation_id = c.id AND m.content ILIKE :pattern))`,
        { pattern: `%${filter.search.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%` },
      );
    }
    if (after !== undefined) {
      const [time, id] = decodeConversationCursor(after);
      query.andWhere('(c.created_at < :time OR (c.created_at = :time AND c.id > :id))', { time, id });
    }
    const { entities, raw } = await query.getRawAndEntities<{ cursor_time: string }>();
    const hasMore = entities.length > limit;
    const items = entities.slice(0, limit);
    const last = items.at(-1);
    const lastTime = raw[items.length - 1]?.cursor_time;
    return {
      items,
      hasMore,
      nextCursor: hasMore && last !== undefined && lastTime !== undefined ? encodeCursor([lastTime, last.id]) : null,
    };
  }

  /** The conversation and its newest messages, oldest first; `hasMore` when older ones exist. */
  async get(id: string, owner: OwnerScope): Promise<ConversationWithMessages> {
    const [conversation, newest] = await Promise.all([
      this.conversations.findOneBy(owned(id, owner)),
      this.messages.find({ where: { conversationId: id }, order: { seq: 'DESC' }, take: INLINE_MESSAGES + 1 }),
    ]);
    if (conversation === null) throw notFound(id);
    const hasMore = newest.length > INLINE_MESSAGES;
    return { conversation, messages: newest.slice(0, INLINE_MESSAGES).reverse(), hasMore };
  }

  /** Messages in seq order, keyset-paginated on the (conversation_id, seq) index. */
  async listMessages(
    id: string,
    owner: OwnerScope,
    limit = DEFAULT_PAGE_SIZE,
    after?: string,
  ): Promise<Page<ChatMessage>> {
    const afterSeq = after === undefined ? 0 : decodeMessageCursor(after);
    // One indexed lookup first, so another owner's messages are never read.
    if (owner !== null && !(await this.conversations.existsBy(owned(id, owner)))) throw notFound(id);
    const found = await this.messages.find({
      where: { conversationId: id, seq: MoreThan(afterSeq) },
      order: { seq: 'ASC' },
      take: limit + 1,
    });
    if (found.length === 0 && !(await this.conversations.existsBy({ id }))) throw notFound(id);
    const hasMore = found.length > limit;
    const items = found.slice(0, limit);
    const last = items.at(-1);
    return { items, hasMore, nextCursor: hasMore && last !== undefined ? encodeCursor([last.seq]) : null };
  }

  async update(id: string, dto: UpdateConversationDto, owner: OwnerScope): Promise<Conversation> {
    const patch: QueryDeepPartialEntity<Conversation> = {};
    if (dto.title !== undefined) patch.title = dto.title;
    if (dto.llm_config_id !== undefined) patch.llmConfigId = dto.llm_config_id;
    if (dto.metadata !== undefined) patch.metadata = dto.metadata;
    if (Object.keys(patch).length > 0) {
      try {
        const result = await this.conversations.update(owned(id, owner), patch);
        if (result.affected === 0) throw notFound(id);
      } catch (err) {
        throw unknownConfig(err, dto.llm_config_id);
      }
    }
    const conversation = await this.conversations.findOneBy(owned(id, owner));
    if (conversation === null) throw notFound(id);
    return conversation;
  }

  /** Its messages go with it (ON DELETE CASCADE). */
  async remove(id: string, owner: OwnerScope): Promise<void> {
    const result = await this.conversations.delete(owned(id, owner));
    if (result.affected === 0) throw notFound(id);
  }
}

/** Another owner's conversation matches nothing: the caller gets the same 404 as for an id that never existed. */
function owned(id: string, owner: OwnerScope): FindOptionsWhere<Conversation> {
  return owner === null ? { id } : { id, owner };
}

function notFound(id: string): AppError {
  return new AppError('not_found', `No conversation with id '${id}'`, { param: 'id' });
}

/** The foreign key is the check that the config exists: no read before the write, no race with a delete. */
function unknownConfig(err: unknown, configId: string | null | undefined): unknown {
  if (isPgError(err, PG_FOREIGN_KEY_VIOLATION, 'fk_conversations_llm_config')) {
    return new AppError('not_found', `No LLM config with id '${configId ?? ''}'`, { param: 'llm_config_id' });
  }
  return err;
}

function encodeCursor(parts: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(parts)).toString('base64url');
}

function decodeCursor(cursor: string): unknown[] {
  try {
    const parts: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(parts)) return parts;
  } catch {
    // Reported below, as for any other malformed cursor.
  }
  throw invalidCursor();
}

function decodeConversationCursor(cursor: string): [string, string] {
  const [time, id, ...extra] = decodeCursor(cursor);
  if (typeof time !== 'string' || !CURSOR_TIME_RE.test(time) || typeof id !== 'string' || !isUuid(id)) {
    throw invalidCursor();
  }
  if (extra.length > 0) throw invalidCursor();
  return [time, id];
}

function decodeMessageCursor(cursor: string): number {
  const [seq, ...extra] = decodeCursor(cursor);
  if (typeof seq !== 'number' || !Number.isInteger(seq) || seq < 0 || extra.length > 0) throw invalidCursor();
  return seq;
}

function invalidCursor(): AppError {
  return new AppError('bad_request', "'after' is not a cursor this API returned", { param: 'after' });
}
