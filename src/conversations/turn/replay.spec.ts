import { describe, expect, it } from '@jest/globals';
import type { ChatMessageStatus } from '../chat-message.entity.js';
import type { HistoryMessage } from './message-store.js';
import { replayedHistory } from './replay.js';

let seq = 0;
function message(role: string, content: string, status: ChatMessageStatus = 'complete'): HistoryMessage {
  seq += 1;
  return {
    seq,
    role,
    content,
    contentParts: null,
    toolCalls: null,
    toolCallId: null,
    name: null,
    status,
    tokenCount: 1,
  };
}

const roles = (history: readonly HistoryMessage[]): string[] => history.map((m) => `${m.role}:${m.content}`);

describe('replayedHistory', () => {
  it('replays answered exchanges as stored', () => {
    const history = [message('user', 'a'), message('assistant', 'A'), message('user', 'b'), message('assistant', 'B')];
    expect(roles(replayedHistory(history))).toEqual(['user:a', 'assistant:A', 'user:b', 'assistant:B']);
  });

  it('leaves out an exchange whose reply failed, or was aborted before any content: no two user messages in a row', () => {
    const history = [
      message('user', 'a'),
      message('assistant', 'A'),
      message('user', 'failed'),
      message('assistant', '', 'error'),
      message('user', 'aborted'),
      message('assistant', '', 'aborted'),
      message('user', 'c'),
      message('assistant', 'C'),
    ];
    expect(roles(replayedHistory(history))).toEqual(['user:a', 'assistant:A', 'user:c', 'assistant:C']);
  });

  it('keeps a reply aborted after some content, as the client saw it', () => {
    const history = [message('user', 'a'), message('assistant', 'partial', 'aborted')];
    expect(roles(replayedHistory(history))).toEqual(['user:a', 'assistant:partial']);
  });

  it('leaves out a user message with no reply yet (a turn still in flight, or one whose process died)', () => {
    const history = [message('user', 'a'), message('assistant', 'A'), message('user', 'pending')];
    expect(roles(replayedHistory(history))).toEqual(['user:a', 'assistant:A']);
  });

  it('keeps a tool exchange whose final reply failed up to the tool result, without the failed reply', () => {
    const history = [
      message('user', 'weather?'),
      message('assistant', 'call'),
      message('tool', 'sunny'),
      message('assistant', '', 'error'),
      message('user', 'again'),
      message('assistant', 'Sunny.'),
    ];
    expect(roles(replayedHistory(history))).toEqual([
      'user:weather?',
      'assistant:call',
      'tool:sunny',
      'user:again',
      'assistant:Sunny.',
    ]);
  });
});
