import { describe, expect, it } from '@jest/globals';
import type { ChatMessageStatus } from '../chat-message.entity.js';
import type { StoredMessage } from './message-store.js';
import { replayedHistory } from './replay.js';

/**
 * Stored messages from words `role:content`, oldest first; a message that is not complete ends in `/status`
 * (`assistant:/error` is a failed reply with no content).
 */
function stored(thread: string): StoredMessage[] {
  return thread.split(' ').map((word, i) => {
    const [role = '', rest = ''] = word.split(':');
    const [content = '', status = 'complete'] = rest.split('/');
    return {
      seq: i + 1,
      role,
      content,
      contentParts: null,
      toolCalls: null,
      toolCallId: null,
      name: null,
      status: status as ChatMessageStatus,
      tokenCount: 1,
    };
  });
}

/** What a later turn sends of `thread`, in the same words (statuses left out). */
const replayed = (thread: string): string =>
  replayedHistory(stored(thread))
    .map((m) => `${m.role}:${m.content}`)
    .join(' ');

describe('replayedHistory', () => {
  it('replays answered exchanges as stored', () => {
    expect(replayed('user:a assistant:A user:b assistant:B')).toBe('user:a assistant:A user:b assistant:B');
  });

  it('leaves out an exchange whose reply failed, or was aborted before any content: no two user messages in a row', () => {
    const thread = 'user:a assistant:A user:failed assistant:/error user:aborted assistant:/aborted user:c assistant:C';
    expect(replayed(thread)).toBe('user:a assistant:A user:c assistant:C');
  });

  it('keeps a reply aborted after some content, as the client saw it', () => {
    expect(replayed('user:a assistant:partial/aborted')).toBe('user:a assistant:partial');
  });

  it('leaves out a user message with no reply yet (a turn still in flight, or one whose process died)', () => {
    expect(replayed('user:a assistant:A user:pending')).toBe('user:a assistant:A');
  });

  it('keeps a tool exchange whose final reply failed up to the tool result, without the failed reply', () => {
    const thread = 'user:weather? assistant:call tool:sunny assistant:/error user:again assistant:Sunny.';
    expect(replayed(thread)).toBe('user:weather? assistant:call tool:sunny user:again assistant:Sunny.');
  });
});
