import { AppError } from '../common/errors/app-error.js';

const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const SPACE = 0x20;
const DONE = Buffer.from('[DONE]');
const DATA = Buffer.from('data');
const ERROR_KEY = Buffer.from('"error"');

/**
 * One server-sent event. `raw` holds the event's original bytes, terminating blank line included, so the relay can
 * write them to the client without re-serialising. Everything else is computed on first use: most events are only
 * ever written, never read.
 */
export class SseEvent {
  private text: string | undefined;

  constructor(
    readonly raw: Buffer,
    /** Offsets into `raw`, as [start, end) pairs, of each `data:` line's value. */
    private readonly dataRanges: readonly number[],
    /** True for `data: [DONE]`, the end-of-stream marker of OpenAI-style streams. */
    readonly done: boolean,
  ) {}

  /** The event's data: its `data:` values joined with `\n`, as the SSE spec defines. */
  get data(): string {
    if (this.text === undefined) {
      const parts: string[] = [];
      for (let i = 0; i < this.dataRanges.length; i += 2) {
        parts.push(this.raw.toString('utf8', this.dataRanges[i], this.dataRanges[i + 1]));
      }
      this.text = parts.join('\n');
    }
    return this.text;
  }

  /**
   * Whether the data is an `{"error": …}` object, vLLM's in-stream failure report. Checked on the bytes so a healthy
   * stream never pays for a JSON parse: chunks start with `{"id"`, so this usually stops at the second byte.
   */
  get isError(): boolean {
    const start = this.dataRanges[0];
    const end = this.dataRanges[1];
    if (start === undefined || end === undefined) return false;
    let i = skipWhitespace(this.raw, start, end);
    if (this.raw[i] !== 0x7b /* { */) return false;
    i = skipWhitespace(this.raw, i + 1, end);
    return end - i >= ERROR_KEY.length && bytesAt(this.raw, i, ERROR_KEY);
  }
}

/**
 * Whether `buf` holds `expected` at `at` (the caller checked the length). A byte loop: the patterns are a few bytes
 * long, and Buffer#compare's argument checks and native call cost more than the comparison itself, per event.
 */
function bytesAt(buf: Buffer, at: number, expected: Buffer): boolean {
  for (let k = 0; k < expected.length; k++) if (buf[at + k] !== expected[k]) return false;
  return true;
}

function skipWhitespace(buf: Buffer, from: number, end: number): number {
  let i = from;
  while (i < end && (buf[i] === SPACE || buf[i] === 0x09 || buf[i] === LF || buf[i] === CR)) i++;
  return i;
}

/**
 * Incremental SSE parser (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation)
 * that splits a byte stream into events and keeps the bytes of an incomplete event between TCP chunks.
 *
 * - Lines end with LF, CRLF or CR; a CR at the very end of a chunk waits for the next one, which may start with LF.
 * - Comment lines (`:` first) are skipped; a block without any `data:` line is not an event and is dropped.
 * - After `data: [DONE]` the stream is over: later bytes are ignored.
 */
export class SseParser {
  /** Bytes from the start of the pending (incomplete) event. */
  private tail: Buffer | undefined;
  /** Offset in `tail` of the first line not yet interpreted. */
  private scanned = 0;
  /** `data:` value ranges of the pending event, relative to its first byte. */
  private ranges: number[] = [];
  private finished = false;

  /**
   * @param maxEventBytes the largest event accepted (VLLM_MAX_EVENT_SIZE): a larger one, complete or still pending,
   * makes `push` throw `bad_gateway`, so an upstream that never sends a blank line cannot grow `tail` without bound.
   */
  constructor(private readonly maxEventBytes = Infinity) {}

  /** True once `[DONE]` has been seen. */
  get done(): boolean {
    return this.finished;
  }

  /** True when bytes of an event without its terminating blank line are pending. */
  get hasPartial(): boolean {
    return this.tail !== undefined && this.tail.length > 0;
  }

  /** Feeds one chunk and returns the events it completed, in order. */
  push(chunk: Buffer): SseEvent[] {
    if (this.finished || chunk.length === 0) return [];
    const buf = this.tail === undefined ? chunk : Buffer.concat([this.tail, chunk]);
    const events: SseEvent[] = [];
    const length = buf.length;
    let eventStart = 0;
    let pos = this.scanned;
    let ranges = this.ranges;
    // Positions of the next LF and CR, cached so a chunk is scanned in linear time.
    let nextLf = -2;
    let nextCr = -2;

    while (pos < length) {
      if (nextLf !== -1 && nextLf < pos) nextLf = buf.indexOf(LF, pos);
      if (nextCr !== -1 && nextCr < pos) nextCr = buf.indexOf(CR, pos);
      let lineEnd: number;
      let next: number;
      if (nextCr !== -1 && (nextLf === -1 || nextCr < nextLf)) {
        // A CR as the last byte may be the first half of a CRLF split across chunks.
        if (nextCr + 1 >= length) break;
        lineEnd = nextCr;
        next = buf[nextCr + 1] === LF ? nextCr + 2 : nextCr + 1;
      } else if (nextLf !== -1) {
        lineEnd = nextLf;
        next = nextLf + 1;
      } else {
        break;
      }

      if (lineEnd === pos) {
        // Blank line: dispatch the pending event, if it has data.
        if (ranges.length > 0) {
          const raw = buf.subarray(eventStart, next);
          if (raw.length > this.maxEventBytes) throw this.tooLarge();
          const valueStart = ranges[0] ?? 0;
          const done =
            ranges.length === 2 && (ranges[1] ?? 0) - valueStart === DONE.length && bytesAt(raw, valueStart, DONE);
          events.push(new SseEvent(raw, ranges, done));
          ranges = [];
          if (done) {
            this.finished = true;
            this.tail = undefined;
            this.ranges = ranges;
            this.scanned = 0;
            return events;
          }
        }
        eventStart = next;
      } else if (buf[pos] !== COLON && isDataField(buf, pos, lineEnd)) {
        let valueStart = pos + DATA.length;
        if (valueStart < lineEnd) valueStart++; // the colon
        if (valueStart < lineEnd && buf[valueStart] === SPACE) valueStart++;
        ranges.push(valueStart - eventStart, lineEnd - eventStart);
      }
      // Other fields (event, id, retry) stay in `raw` untouched; the gateway does not need them.
      pos = next;
    }

    this.tail = eventStart < length ? buf.subarray(eventStart) : undefined;
    if (this.tail !== undefined && this.tail.length > this.maxEventBytes) throw this.tooLarge();
    this.scanned = pos - eventStart;
    this.ranges = ranges;
    return events;
  }

  private tooLarge(): AppError {
    this.finished = true;
    this.tail = undefined;
    return new AppError(
      'bad_gateway',
      `vLLM sent a stream event larger than the limit of ${this.maxEventBytes} bytes (VLLM_MAX_EVENT_SIZE)`,
    );
  }
}

/** `data` followed by `:` or by the end of the line (a bare `data` line is a data field with an empty value). */
function isDataField(buf: Buffer, pos: number, lineEnd: number): boolean {
  const afterName = pos + DATA.length;
  if (afterName > lineEnd) return false;
  if (!bytesAt(buf, pos, DATA)) return false;
  return afterName === lineEnd || buf[afterName] === COLON;
}
