// The bench's own SSE reader. It mirrors `vllm bench serve`'s client (split on a blank line, skip `:` comments, strip
// `data: `, stop at `[DONE]`) and deliberately does not reuse the gateway's parser: a measuring instrument should not
// share code, and bugs, with the system it measures. It is kept cheap because it shares the CPU with that system: one
// timestamp per TCP chunk, a string scan per event, and JSON.parse only for events without choices (the usage chunk,
// an error event).

import type { Samples } from './stats.js';

/** Splits a text stream into the data payloads of its events; the partial tail waits for the next chunk. */
export class SseSplitter {
  private tail = '';

  /** Calls `onData` with each complete event's data (its `data:` lines joined by `\n`); events without data are skipped. */
  push(chunk: string, onData: (data: string) => void): void {
    const text = this.tail === '' ? chunk : this.tail + chunk;
    let start = 0;
    for (;;) {
      const end = text.indexOf('\n\n', start);
      if (end === -1) break;
      const data = eventData(text, start, end);
      if (data !== undefined) onData(data);
      start = end + 2;
    }
    this.tail = start === 0 ? text : text.slice(start);
  }

  /** Bytes of an event that never got its blank line (a stream cut short). */
  get pending(): string {
    return this.tail;
  }
}

function eventData(text: string, start: number, end: number): string | undefined {
  // The common case, one `data: …` line, costs one comparison and one slice.
  const firstBreak = text.indexOf('\n', start);
  if (text.startsWith('data: ', start) && (firstBreak === -1 || firstBreak >= end)) return text.slice(start + 6, end);
  let data: string | undefined;
  for (const line of text.slice(start, end).split('\n')) {
    const clean = line.endsWith('\r') ? line.slice(0, -1) : line;
    if (clean === '' || clean.startsWith(':') || !clean.startsWith('data')) continue;
    if (clean.length > 4 && clean[4] !== ':') continue;
    const value = clean.startsWith('data: ') ? clean.slice(6) : clean.slice(5);
    data = data === undefined ? value : `${data}\n${value}`;
  }
  return data;
}

/**
 * Whether a chunk's JSON has a non-empty top-level `choices` array, decided from the text: `"choices"` cannot occur
 * unescaped inside a JSON string, and vLLM writes `choices` before `usage`, so the first occurrence is the key.
 */
export function hasChoices(json: string): boolean {
  const key = json.indexOf('"choices"');
  if (key === -1) return false;
  let i = skipBlanks(json, key + 9);
  if (json[i] !== ':') return false;
  i = skipBlanks(json, i + 1);
  if (json[i] !== '[') return false;
  i = skipBlanks(json, i + 1);
  return i < json.length && json[i] !== ']';
}

function skipBlanks(text: string, from: number): number {
  let i = from;
  while (i < text.length && (text[i] === ' ' || text[i] === '\n' || text[i] === '\t' || text[i] === '\r')) i++;
  return i;
}

/**
 * Measures one streamed response the way `vllm bench serve` does:
 * - TTFT: the first data event whose `choices` is non-empty (vLLM's role chunk, sent with the first token);
 * - ITL: for each later event with choices, the gap since the previous data event (per SSE event, not per token);
 * - E2EL: the last data event (the usage chunk included), `[DONE]` excluded;
 * - output tokens: `usage.completion_tokens` of the usage chunk, else the number of events with choices, a chat
 *   stream's role chunk (first event, empty content) not counted.
 * Unlike vLLM's client, an in-stream `{"error": …}` event marks the request as failed. As in vLLM's
 * `calculate_metrics`, a request's gaps count only once it succeeded: `commitItl()`.
 */
export class StreamMeter {
  ttftMs: number | undefined;
  lastEventMs: number | undefined;
  usageTokens: number | undefined;
  choiceEvents = 0;
  /** The first event with choices was a chat role chunk (no token). */
  private roleChunk = false;
  error: string | undefined;
  done = false;
  private readonly splitter = new SseSplitter();
  private now = 0;
  /** This request's gaps, held until it is known to have succeeded. */
  private readonly gaps: number[] = [];

  /** `itl` is the run's sample store, which `commitItl()` adds this request's gaps to. */
  constructor(private readonly itl: Samples) {}

  /** Adds the gaps to the run's ITL samples; called for a successful request only. */
  commitItl(): void {
    for (const gap of this.gaps) this.itl.push(gap);
  }

  /** Feeds one chunk received `nowMs` after the request was sent. */
  push(chunk: string, nowMs: number): void {
    if (this.done) return;
    this.now = nowMs;
    this.splitter.push(chunk, this.onData);
  }

  get outputTokens(): number {
    return this.usageTokens ?? this.choiceEvents - (this.roleChunk ? 1 : 0);
  }

  private readonly onData = (data: string): void => {
    if (this.done) return;
    if (data === '[DONE]') {
      this.done = true;
      return;
    }
    const now = this.now;
    if (hasChoices(data)) {
      this.choiceEvents++;
      if (this.ttftMs === undefined) {
        this.ttftMs = now;
        // A chat stream opens with the role chunk, which carries no token (vLLM's output JSON is compact).
        this.roleChunk = data.includes('"role":"assistant"') && data.includes('"content":""');
      } else if (this.lastEventMs !== undefined) {
        this.gaps.push(now - this.lastEventMs);
      }
    } else {
      this.readOther(data);
    }
    this.lastEventMs = now;
  };

  private readOther(data: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch {
      return;
    }
    if (typeof parsed !== 'object' || parsed === null) return;
    const body = parsed as { usage?: { completion_tokens?: unknown }; error?: { message?: unknown } | string };
    if (body.error !== undefined) {
      const message = typeof body.error === 'object' ? body.error.message : body.error;
      this.error = `in-stream error: ${typeof message === 'string' ? message : JSON.stringify(body.error)}`;
    }
    const tokens = body.usage?.completion_tokens;
    if (typeof tokens === 'number') this.usageTokens = tokens;
  }
}
