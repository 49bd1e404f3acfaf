import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DataSource } from 'typeorm';
import { ChatMessage } from '../../src/conversations/chat-message.entity.js';
import {
  type ConversationBody,
  type ErrorBody,
  jsonApi,
  type JsonApi,
  postConversation,
  postLlmConfig,
} from '../factories/api.js';
import { createMessages } from '../factories/conversations.js';
import { type RunningGateway, startGateway } from '../helpers/gateway.js';

/** These tests make no upstream call; any http URL satisfies the config. */
const NO_UPSTREAM = { VLLM_BASE_URL: 'http://127.0.0.1:9' };
const UNKNOWN_ID = '00000000-0000-4000-8000-00000000dead';

interface Page<T> {
  object: 'list';
  data: T[];
  has_more: boolean;
  next_cursor: string | null;
}

interface MessageBody {
  id: string;
  object: string;
  seq: number;
  role: string;
  content: string;
  status: string;
}

describe('/v1/conversations (e2e)', () => {
  let gateway: RunningGateway;
  let call: JsonApi;
  let db: DataSource;

  beforeAll(async () => {
    gateway = await startGateway(NO_UPSTREAM);
    call = jsonApi(gateway.url);
    db = gateway.app.get(DataSource);
  });

  afterAll(async () => {
    await gateway?.close();
  });

  const error = (body: unknown): ErrorBody['error'] => (body as ErrorBody).error;

  describe('create and read', () => {
    it('creates a conversation and reads it back with its (no) messages', async () => {
      const created = await postConversation(call, { title: 'Refunds', metadata: { topic: 'billing' } });

      expect(created).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        object: 'conversation',
        title: 'Refunds',
        llm_config_id: null,
        metadata: { topic: 'billing' },
        created_at: expect.any(Number),
        updated_at: expect.any(Number),
      });
      expect(Math.abs(created.created_at - Date.now() / 1000)).toBeLessThan(60);
      const read = await call('GET', `/v1/conversations/${created.id}`);
      expect(read.status).toBe(200);
      expect(read.body).toEqual({ ...created, messages: [], has_more_messages: false });
    });

    it('creates one with nothing at all', async () => {
      const created = await postConversation(call);
      expect(created).toMatchObject({ title: null, llm_config_id: null, metadata: {} });
    });

    it('links an existing LLM config, and names llm_config_id when it does not exist', async () => {
      const config = await postLlmConfig(call);
      expect((await postConversation(call, { llm_config_id: config.id })).llm_config_id).toBe(config.id);

      const unknown = await call('POST', '/v1/conversations', { llm_config_id: UNKNOWN_ID });
      expect(unknown.status).toBe(404);
      expect(error(unknown.body)).toMatchObject({ param: 'llm_config_id', type: 'not_found_error' });

      const malformed = await call('POST', '/v1/conversations', { llm_config_id: 'nope' });
      expect(malformed.status).toBe(400);
      expect(error(malformed.body).param).toBe('llm_config_id');
    });

    it.each([
      [{ title: 5 }, 'title'],
      [{ metadata: { topic: 1 } }, 'metadata'],
      [{ metadata: 'x' }, 'metadata'],
      [{ metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])) }, 'metadata'],
      [{ owner: 'me' }, 'owner'],
    ])('rejects %j with a 400 naming the field', async (body, param) => {
      const res = await call('POST', '/v1/conversations', body);
      expect(res.status).toBe(400);
      expect(error(res.body)).toMatchObject({ param, type: 'invalid_request_error' });
    });

    it('answers an unknown id with 404 and a malformed one with 400 naming id', async () => {
      for (const path of ['', '/messages']) {
        const unknown = await call('GET', `/v1/conversations/${UNKNOWN_ID}${path}`);
        expect(unknown.status).toBe(404);
        expect(error(unknown.body).param).toBe('id');
        const malformed = await call('GET', `/v1/conversations/not-a-uuid${path}`);
        expect(malformed.status).toBe(400);
        expect(error(malformed.body).param).toBe('id');
      }
    });
  });

  describe('listing', () => {
    it('pages newest first with a cursor, every conversation exactly once', async () => {
      const mine: ConversationBody[] = [];
      for (let i = 0; i < 5; i++) mine.push(await postConversation(call, { title: `page ${i}` }));
      const ids = new Set(mine.map((c) => c.id));

      const seen: string[] = [];
      let cursor: string | null = null;
      for (let pages = 0; pages < 1000; pages++) {
        const query: string = cursor === null ? '?limit=2' : `?limit=2&after=${cursor}`;
        const res = await call<Page<ConversationBody>>('GET', `/v1/conversations${query}`);
        expect(res.status).toBe(200);
        expect(res.body.data.length).toBeLessThanOrEqual(2);
        seen.push(...res.body.data.map((c) => c.id));
        if (!res.body.has_more) {
          expect(res.body.next_cursor).toBeNull();
          break;
        }
        cursor = res.body.next_cursor;
      }

      expect(new Set(seen).size).toBe(seen.length);
      expect(seen.filter((id) => ids.has(id))).toEqual(mine.map((c) => c.id).reverse());
    });

    it('defaults to 20 per page', async () => {
      // At least 21 exist whatever other tests left behind, so a full default page is 20 with more to come.
      for (let i = 0; i < 21; i++) await postConversation(call, { title: `default page ${i}` });
      const res = await call<Page<ConversationBody>>('GET', '/v1/conversations');
      expect(res.status).toBe(200);
      expect(res.body.object).toBe('list');
      expect(res.body.data.length).toBe(20);
      expect(res.body.has_more).toBe(true);
    });

    it.each([
      ['?limit=0', 'limit'],
      ['?limit=101', 'limit'],
      ['?limit=ten', 'limit'],
      ['?after=garbage', 'after'],
      [`?after=${Buffer.from('["2026-01-01", "x"]').toString('base64url')}`, 'after'],
      ['?order=asc', 'order'],
    ])('rejects %s with a 400 naming the parameter', async (query, param) => {
      const res = await call('GET', `/v1/conversations${query}`);
      expect(res.status).toBe(400);
      expect(error(res.body).param).toBe(param);
    });
  });

  describe('messages', () => {
    it('returns a conversation’s messages in seq order, paged by cursor', async () => {
      const conversation = await postConversation(call);
      await createMessages(db, conversation.id, 25);

      const seqs: number[] = [];
      let cursor: string | null = null;
      for (let pages = 0; pages < 10; pages++) {
        const query: string = cursor === null ? '?limit=10' : `?limit=10&after=${cursor}`;
        const res = await call<Page<MessageBody>>('GET', `/v1/conversations/${conversation.id}/messages${query}`);
        expect(res.status).toBe(200);
        seqs.push(...res.body.data.map((m) => m.seq));
        if (!res.body.has_more) break;
        cursor = res.body.next_cursor;
      }

      expect(seqs).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
      const read = await call<{ messages: MessageBody[]; has_more_messages: boolean }>(
        'GET',
        `/v1/conversations/${conversation.id}`,
      );
      expect(read.body.messages.map((m) => m.seq)).toEqual(seqs);
      expect(read.body.messages[0]).toMatchObject({
        object: 'conversation.message',
        role: 'user',
        content: 'm1',
        status: 'complete',
      });
      expect(read.body.has_more_messages).toBe(false);
    });

    it('inlines only the newest 100 messages of a long conversation, in order', async () => {
      const conversation = await postConversation(call);
      await createMessages(db, conversation.id, 130);

      const read = await call<{ messages: MessageBody[]; has_more_messages: boolean }>(
        'GET',
        `/v1/conversations/${conversation.id}`,
      );

      expect(read.body.messages.map((m) => m.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 31));
      expect(read.body.has_more_messages).toBe(true);
    });

    it('answers an empty page for a conversation without messages', async () => {
      const conversation = await postConversation(call);
      const res = await call('GET', `/v1/conversations/${conversation.id}/messages`);
      expect(res.body).toEqual({ object: 'list', data: [], has_more: false, next_cursor: null });
    });
  });

  it('rejects text PostgreSQL cannot store (a NUL character) with a 400, not a 500', async () => {
    for (const body of [{ title: 'bad\u0000title' }, { metadata: { note: 'bad\u0000value' } }]) {
      const res = await call('POST', '/v1/conversations', body);
      expect(res.status).toBe(400);
      expect(error(res.body)).toMatchObject({ type: 'invalid_request_error', code: 'bad_request' });
      expect(error(res.body).message).toMatch(/NUL/);
    }
  });

  describe('update and delete', () => {
    it('changes the title, the metadata and the config, and clears them with null', async () => {
      const conversation = await postConversation(call, { title: 'old', metadata: { a: '1' } });
      const config = await postLlmConfig(call);

      const patched = await call<ConversationBody>('PATCH', `/v1/conversations/${conversation.id}`, {
        title: 'new',
        metadata: { b: '2' },
        llm_config_id: config.id,
      });
      expect(patched.status).toBe(200);
      expect(patched.body).toMatchObject({ title: 'new', metadata: { b: '2' }, llm_config_id: config.id });

      const cleared = await call<ConversationBody>('PATCH', `/v1/conversations/${conversation.id}`, {
        title: null,
        llm_config_id: null,
      });
      expect(cleared.body).toMatchObject({ title: null, metadata: { b: '2' }, llm_config_id: null });
    });

    it('names the field of a bad patch, and answers an unknown conversation or config with 404', async () => {
      const conversation = await postConversation(call);

      const bad = await call('PATCH', `/v1/conversations/${conversation.id}`, { metadata: null });
      expect(bad.status).toBe(400);
      expect(error(bad.body).param).toBe('metadata');
      const unknownConfig = await call('PATCH', `/v1/conversations/${conversation.id}`, {
        llm_config_id: UNKNOWN_ID,
      });
      expect(unknownConfig.status).toBe(404);
      expect(error(unknownConfig.body).param).toBe('llm_config_id');
      const unknown = await call('PATCH', `/v1/conversations/${UNKNOWN_ID}`, { title: 'x' });
      expect(unknown.status).toBe(404);
    });

    it('deletes a conversation with its messages: 204, then 404', async () => {
      const conversation = await postConversation(call);
      await createMessages(db, conversation.id, 3);

      const deleted = await fetch(`${gateway.url}/v1/conversations/${conversation.id}`, { method: 'DELETE' });
      expect(deleted.status).toBe(204);
      expect(await deleted.text()).toBe('');

      expect((await call('GET', `/v1/conversations/${conversation.id}`)).status).toBe(404);
      expect((await call('DELETE', `/v1/conversations/${conversation.id}`)).status).toBe(404);
      expect(await db.getRepository(ChatMessage).countBy({ conversationId: conversation.id })).toBe(0);
    });

    it('keeps a conversation when its config is deleted, without the link', async () => {
      const config = await postLlmConfig(call);
      const conversation = await postConversation(call, { llm_config_id: config.id });

      expect((await call('DELETE', `/v1/llm-configs/${config.id}`)).status).toBe(204);

      const read = await call<ConversationBody>('GET', `/v1/conversations/${conversation.id}`);
      expect(read.status).toBe(200);
      expect(read.body.llm_config_id).toBeNull();
    });
  });
});
