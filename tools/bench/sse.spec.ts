import { describe, expect, it } from '@jest/globals';
import { hasChoices, SseSplitter, StreamMeter } from './sse.js';
import { Samples } from './stats.js';

const chunk = (content: string): string =>
  `data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":${JSON.stringify(content)}},"finish_reason":null}]}\n\n`;
const ROLE = 'data: {"id":"c1","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\n';
const USAGE = 'data: {"id":"c1","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12}}\n\n';
const DONE = 'data: [DONE]\n\n';

function split(pieces: string[]): string[] {
  const splitter = new SseSplitter();
  const out: string[] = [];
  for (const piece of pieces) splitter.push(piece, (d) => out.push(d));
  return out;
}

describe('SseSplitter', () => {
  it('keeps the partial tail of an event split across chunks', () => {
    const event = chunk('Hello');
    // Cut inside "data: ", inside the JSON, and between the two newlines that end the event.
    const pieces = [event.slice(0, 3), event.slice(3, 6), event.slice(6, 20), event.slice(20, -1), event.slice(-1)];
    const out = split(pieces);
    expect(out).toHaveLength(1);
    expect(JSON.parse(out[0] ?? '')).toMatchObject({ choices: [{ delta: { content: 'Hello' } }] });
  });

  it('splits several events in one chunk and holds back the unfinished one', () => {
    const splitter = new SseSplitter();
    const out: string[] = [];
    splitter.push(`${chunk('a')}${chunk('b')}data: {"x"`, (d) => out.push(d));
    expect(out).toHaveLength(2);
    expect(splitter.pending).toBe('data: {"x"');
    splitter.push(':1}\n\n', (d) => out.push(d));
    expect(out[2]).toBe('{"x":1}');
    expect(splitter.pending).toBe('');
  });

  it('skips comments and events without data, and joins multi-line data', () => {
    expect(split([': keep-alive\n\n', 'event: ping\n\n', 'data: one\ndata: two\n\n', ': c\ndata:x\n\n'])).toEqual([
      'one\ntwo',
      'x',
    ]);
  });
});

describe('hasChoices', () => {
  it('tells a chunk with choices from the usage chunk and from an error', () => {
    expect(hasChoices('{"id":"1","choices":[{"index":0}]}')).toBe(true);
    expect(hasChoices('{"id":"1","choices" : [ {"index":0}]}')).toBe(true);
    expect(hasChoices('{"id":"1","choices":[],"usage":{}}')).toBe(false);
    expect(hasChoices('{"id":"1","choices": [ ] }')).toBe(false);
    expect(hasChoices('{"error":{"message":"boom"}}')).toBe(false);
    // Quotes inside a string are escaped, so content that mentions choices is not the key.
    expect(hasChoices('{"note":"\\"choices\\":[1]","choices":[]}')).toBe(false);
  });
});

describe('StreamMeter', () => {
  it('takes TTFT at the first event with choices, ITL per event, E2EL at the usage chunk', () => {
    const itl = new Samples();
    const meter = new StreamMeter(itl);
    const stream = ROLE + chunk('Hel') + chunk('lo') + chunk('!') + USAGE + DONE;
    // Split mid-event: the role chunk and half of "Hel" arrive at 10 ms, the rest of "Hel" at 15 ms, …
    const cut1 = ROLE.length + 12;
    const cut2 = ROLE.length + chunk('Hel').length + chunk('lo').length;
    meter.push(stream.slice(0, cut1), 10);
    meter.push(stream.slice(cut1, cut2), 15);
    meter.push(stream.slice(cut2, cut2 + 30), 22);
    meter.push(stream.slice(cut2 + 30), 30);
    expect(meter.ttftMs).toBe(10);
    // "Hel" and "lo" complete at 15 ms (gap 5, then 0), "!" at 30 ms (gap 15).
    meter.commitItl();
    expect(Array.from(itl.sorted())).toEqual([0, 5, 15]);
    expect(meter.lastEventMs).toBe(30);
    expect(meter.outputTokens).toBe(3);
    expect(meter.done).toBe(true);
    expect(meter.error).toBeUndefined();
  });

  it('falls back to counting content events when there is no usage chunk', () => {
    const meter = new StreamMeter(new Samples());
    meter.push(ROLE + chunk('a') + chunk('b') + DONE, 1);
    expect(meter.usageTokens).toBeUndefined();
    // The role chunk carries no token: "a" and "b" are two.
    expect(meter.outputTokens).toBe(2);
  });

  it('keeps the gaps of a request out of the run until it is committed as a success', () => {
    const itl = new Samples();
    const meter = new StreamMeter(itl);
    meter.push(ROLE + chunk('a'), 1);
    meter.push(chunk('b'), 4);
    expect(itl.sorted()).toHaveLength(0);
    meter.commitItl();
    expect(Array.from(itl.sorted())).toEqual([0, 3]);
  });

  it('reports an in-stream error event', () => {
    const meter = new StreamMeter(new Samples());
    meter.push(ROLE + chunk('a') + 'data: {"error":{"message":"boom","code":500}}\n\n' + DONE, 1);
    expect(meter.error).toBe('in-stream error: boom');
    expect(meter.done).toBe(true);
  });

  it('ignores anything after [DONE]', () => {
    const meter = new StreamMeter(new Samples());
    meter.push(ROLE + DONE + chunk('late'), 1);
    meter.push(chunk('later'), 2);
    expect(meter.choiceEvents).toBe(1);
    expect(meter.lastEventMs).toBe(1);
  });
});
