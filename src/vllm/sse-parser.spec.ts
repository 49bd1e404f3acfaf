import { describe, it, expect } from '@jest/globals';
import { AppError } from '../common/errors/app-error.js';
import { type SseEvent, SseParser } from './sse-parser.js';

const b = (s: string): Buffer => Buffer.from(s, 'utf8');

/** Feeds `chunks` one by one and returns every event with its raw bytes as text. */
function feed(chunks: readonly string[]): { events: SseEvent[]; parser: SseParser } {
  const parser = new SseParser();
  const events: SseEvent[] = [];
  for (const chunk of chunks) events.push(...parser.push(b(chunk)));
  return { events, parser };
}

const CHUNK = 'data: {"id":"chatcmpl-1","choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\n';
const STREAM =
  'data: {"id":"chatcmpl-1","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\n' +
  CHUNK +
  'data: {"id":"chatcmpl-1","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}]}\n\n' +
  'data: [DONE]\n\n';

describe('SseParser', () => {
  it('yields each event with its original bytes', () => {
    const { events } = feed([CHUNK]);
    expect(events).toHaveLength(1);
    expect(events[0]!.raw.toString()).toBe(CHUNK);
    expect(events[0]!.data).toBe('{"id":"chatcmpl-1","choices":[{"index":0,"delta":{"content":"Hel"}}]}');
    expect(events[0]!.done).toBe(false);
    expect(events[0]!.isError).toBe(false);
  });

  it('splits several events in one chunk and stops at [DONE]', () => {
    const { events, parser } = feed([STREAM + 'data: {"after":"done"}\n\n']);
    expect(events.map((e) => e.raw.toString()).join('')).toBe(STREAM);
    expect(events).toHaveLength(4);
    expect(events[3]!.done).toBe(true);
    expect(events[3]!.data).toBe('[DONE]');
    expect(parser.done).toBe(true);
    expect(parser.push(b('data: {"x":1}\n\n'))).toEqual([]);
  });

  it('keeps partial lines and events across chunks, whatever the split', () => {
    for (let size = 1; size <= 17; size++) {
      const chunks: string[] = [];
      for (let i = 0; i < STREAM.length; i += size) chunks.push(STREAM.slice(i, i + size));
      const { events, parser } = feed(chunks);
      expect(events.map((e) => e.raw.toString())).toEqual([
        STREAM.split('\n\n')[0] + '\n\n',
        CHUNK,
        STREAM.split('\n\n')[2] + '\n\n',
        'data: [DONE]\n\n',
      ]);
      expect(parser.done).toBe(true);
    }
  });

  it('keeps multi-byte characters split between chunks intact', () => {
    const text = 'data: {"c":"héllo ✓ 日本"}\n\n';
    const bytes = b(text);
    const parser = new SseParser();
    const events: SseEvent[] = [];
    for (const byte of bytes) events.push(...parser.push(Buffer.from([byte])));
    expect(events).toHaveLength(1);
    expect(events[0]!.data).toBe('{"c":"héllo ✓ 日本"}');
    expect(events[0]!.raw.equals(bytes)).toBe(true);
  });

  it('accepts CRLF and lone CR line endings, including a CRLF split between chunks', () => {
    const crlf = 'data: {"a":1}\r\n\r\ndata: [DONE]\r\n\r\n';
    const { events } = feed(['data: {"a":1}\r', '\n\r', '\ndata: [DONE]\r\n\r\n']);
    expect(events.map((e) => e.raw.toString()).join('')).toBe(crlf);
    expect(events[0]!.data).toBe('{"a":1}');
    expect(events[1]!.done).toBe(true);

    const cr = feed(['data: {"b":2}\r\rdata: [DONE]\r\r']);
    // The last CR could still be the first half of a CRLF, so that event waits for the next byte.
    expect(cr.events.map((e) => e.data)).toEqual(['{"b":2}']);
    expect(cr.parser.push(b(':')).map((e) => e.data)).toEqual(['[DONE]']);
  });

  it('ignores comment lines and comment-only blocks', () => {
    const { events } = feed([': ping\n\n', ':keep-alive\ndata: {"a":1}\n\n', ': x\n', '\ndata: [DONE]\n\n']);
    expect(events.map((e) => e.data)).toEqual(['{"a":1}', '[DONE]']);
    // A comment inside an event is part of its bytes: the relay writes what came.
    expect(events[0]!.raw.toString()).toBe(':keep-alive\ndata: {"a":1}\n\n');
  });

  it('joins multi-line data and tolerates a missing space, other fields and bare data lines', () => {
    const { events } = feed(['event: message\nid: 7\ndata:{"a":\ndata: 1}\n\n', 'data\n\n']);
    expect(events[0]!.data).toBe('{"a":\n1}');
    expect(events[1]!.data).toBe('');
  });

  it('does not treat a field that merely starts with "data" as data', () => {
    const { events } = feed(['database: x\n\n', 'data: [DONE]\n\n']);
    expect(events.map((e) => e.data)).toEqual(['[DONE]']);
  });

  it('does not dispatch an event without its terminating blank line', () => {
    const { events, parser } = feed(['data: {"a":1}\n']);
    expect(events).toEqual([]);
    expect(parser.hasPartial).toBe(true);
    expect(parser.push(b('\n'))).toHaveLength(1);
    expect(parser.hasPartial).toBe(false);
  });

  it('spots in-stream error events from their bytes, in either vLLM shape', () => {
    const { events } = feed([
      'data: {"error":{"message":"Internal server error","type":"InternalServerError","param":null,"code":500}}\n\n',
      'data: { "error" : {"object":"error","message":"x","code":500}}\n\n',
      'data: {"id":"x","error_count":0}\n\n',
      'data: "error"\n\n',
    ]);
    expect(events.map((e) => e.isError)).toEqual([true, true, false, false]);
  });

  it('only treats an exact [DONE] as the end', () => {
    const { events, parser } = feed(['data: [DONE] \n\n', 'data: [DONE]x\n\n']);
    expect(events.map((e) => e.done)).toEqual([false, false]);
    expect(parser.done).toBe(false);
  });
});

describe('SseParser event size limit', () => {
  const event = (size: number): string => `data: ${'x'.repeat(size - 8)}\n\n`;

  it('accepts an event of exactly the limit, complete or split', () => {
    expect(event(100)).toHaveLength(100);
    expect(new SseParser(100).push(b(event(100)))).toHaveLength(1);
    const parser = new SseParser(100);
    expect(parser.push(b(event(100).slice(0, 60)))).toEqual([]);
    expect(parser.push(b(event(100).slice(60)))).toHaveLength(1);
  });

  it('throws bad_gateway for a complete event over the limit', () => {
    expect(() => new SseParser(100).push(b(event(101)))).toThrow(AppError);
  });

  it('throws as soon as a pending event outgrows the limit, before its end arrives', () => {
    const parser = new SseParser(100);
    parser.push(b('data: ' + 'x'.repeat(80)));
    let error: unknown;
    try {
      parser.push(b('x'.repeat(40)));
    } catch (err) {
      error = err;
    }
    expect(error).toMatchObject({ code: 'bad_gateway', message: expect.stringContaining('VLLM_MAX_EVENT_SIZE') });
    expect(parser.hasPartial).toBe(false);
  });
});
