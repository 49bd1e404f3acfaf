import { describe, it, expect, jest } from '@jest/globals';
import type { Request, Response } from 'express';
import { EventEmitter } from 'node:events';
import { Cancellation } from '../common/cancellation.js';
import { ANONYMOUS } from '../common/principal.js';
import { AppError } from '../common/errors/app-error.js';
import { ShutdownService } from '../common/shutdown/shutdown.service.js';
import { type SseEvent, SseParser } from '../vllm/sse-parser.js';
import { UpstreamCancelledError, type VllmService } from '../vllm/vllm.service.js';
import type { UpstreamJson, UpstreamResponse, UpstreamStream } from '../vllm/vllm.types.js';
import type { AppConfig } from '../config/app-config.js';
import { RelayService } from './relay.service.js';
import type { CompletionAccounting } from './completion-accounting.js';
import type { RelayOutcome, ReplyRecorder } from '../vllm/relay-outcome.js';
import type { RequestContext } from './relay.types.js';

/** The parts of an Express response the relay uses, recording what was written. */
class FakeResponse extends EventEmitter {
  status = 0;
  headers: Record<string, unknown> = {};
  written: string[] = [];
  /** Calls of `write` (not `end`): each one is a system call on a real socket. */
  writes = 0;
  ended = false;
  writableFinished = false;
  headersSent = false;
  err: Error | undefined;
  /** What `write` returns next: false simulates a full socket buffer. */
  accept = true;

  writeHead(status: number, headers: Record<string, unknown>): this {
    this.status = status;
    this.headers = headers;
    return this;
  }

  flushHeaders(): void {
    this.headersSent = true;
  }

  write(chunk: Buffer | string): boolean {
    this.writes++;
    this.headersSent = true;
    this.written.push(chunk.toString());
    return this.accept;
  }

  destroyed = false;

  /** As node:http: the socket goes, and 'close' comes without the response having finished. */
  destroy(): this {
    this.destroyed = true;
    this.emit('close');
    return this;
  }

  end(chunk?: Buffer | string): this {
    if (chunk !== undefined) this.written.push(chunk.toString());
    this.ended = true;
    this.writableFinished = true;
    return this;
  }
}

function events(text: string): SseEvent[] {
  return new SseParser().push(Buffer.from(text));
}

function setup(
  answer: (cancellation: Cancellation) => Promise<UpstreamResponse>,
  idleTimeoutMs = 60_000,
): {
  relay: RelayService;
  res: FakeResponse;
  exchange: RequestContext;
  send: jest.Mock<VllmService['send']>;
  shutdown: ShutdownService;
} {
  const send = jest.fn<VllmService['send']>((_path, _body, cancellation) => answer(cancellation));
  const vllm: Pick<VllmService, 'send'> = { send };
  const accounting: Pick<CompletionAccounting, 'streamStarted' | 'streamEnded' | 'completed'> = {
    streamStarted: jest.fn(),
    streamEnded: jest.fn(),
    completed: jest.fn(),
  };
  const shutdown = new ShutdownService();
  const relay = new RelayService(
    vllm as VllmService,
    { vllm: { idleTimeoutMs } } as AppConfig,
    accounting as CompletionAccounting,
    shutdown,
  );
  const res = new FakeResponse();
  const req = { socket: { destroyed: false } };
  const exchange: RequestContext = {
    req: req as unknown as Request,
    res: res as unknown as Response,
    requestId: 'req-1',
    receivedAt: performance.now(),
    principal: ANONYMOUS,
  };
  return { relay, res, exchange, send, shutdown };
}

/** What every answer of the fake upstream has: a 200 from one upstream, dispatched and answered at once. */
function answered(contentType: string): Omit<UpstreamJson, 'kind' | 'body' | 'receivedAt'> {
  const now = performance.now();
  return { status: 200, contentType, upstream: 'http://u', attemptId: 'req-1', dispatchedAt: now, headersAt: now };
}

function jsonAnswer(body: Buffer): UpstreamJson {
  const head = answered('application/json');
  return { ...head, kind: 'json', receivedAt: head.headersAt, body };
}

function streamAnswer(source: AsyncIterable<SseEvent>, cancel = jest.fn()): UpstreamStream {
  return { ...answered('text/event-stream; charset=utf-8'), kind: 'stream', batches: oneByOne(source), cancel };
}

async function* sourceOf(frames: readonly SseEvent[]): AsyncGenerator<SseEvent> {
  for (const frame of frames) {
    await Promise.resolve();
    yield frame;
  }
}

/** Each event in a batch of its own, as when every upstream read completes one event. */
async function* oneByOne(source: AsyncIterable<SseEvent>): AsyncGenerator<readonly SseEvent[]> {
  for await (const event of source) yield [event];
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

interface Recording {
  recorder: ReplyRecorder;
  /** The outcomes committed, with what the client had received at that moment. */
  commits: { outcome: RelayOutcome; ended: boolean; written: string }[];
  after: RelayOutcome[];
}

/** A conversation turn's hooks that record when they ran; `fail` makes the commit reject. */
function recording(res: FakeResponse, hide: (event: SseEvent) => boolean = () => false, fail = false): Recording {
  const rec: Recording = {
    commits: [],
    after: [],
    recorder: {
      hidesEvent: hide,
      commit: async (outcome) => {
        rec.commits.push({ outcome: { ...outcome }, ended: res.ended, written: res.written.join('') });
        await Promise.resolve();
        if (fail) throw new Error('database down');
      },
      afterResponse: async (outcome) => {
        rec.after.push(outcome);
        await Promise.resolve();
      },
    },
  };
  return rec;
}

async function settled(rec: Recording): Promise<void> {
  for (let i = 0; i < 5 && rec.after.length === 0; i++) await tick();
}

describe('RelayService', () => {
  it('relays JSON bytes with the gateway timing headers', async () => {
    const json = jsonAnswer(Buffer.from('{"id":"chatcmpl-req-1","x":null}'));
    const { relay, res, exchange, send } = setup(() => Promise.resolve(json));
    await relay.relay('/v1/chat/completions', { body: { messages: [] } }, exchange);
    expect(send).toHaveBeenCalledWith('/v1/chat/completions', { messages: [] }, expect.any(Cancellation), {
      requestId: 'req-1',
      stickyKey: undefined,
    });
    expect(res.status).toBe(200);
    expect(res.headers).toMatchObject({ 'Content-Type': 'application/json', 'Content-Length': 32 });
    expect(res.headers['Server-Timing']).toMatch(/^gateway;dur=[\d.]+$/);
    expect(res.written).toEqual(['{"id":"chatcmpl-req-1","x":null}']);
  });

  it('writes each event as it comes and waits for drain before pulling the next one', async () => {
    const frames = events('data: {"a":1}\n\ndata: {"a":2}\n\ndata: [DONE]\n\n');
    let pulled = 0;
    async function* source(): AsyncGenerator<SseEvent> {
      for (const frame of frames) {
        await Promise.resolve();
        pulled++;
        yield frame;
      }
    }
    const { relay, res, exchange } = setup(() => Promise.resolve(streamAnswer(source())));
    res.accept = false;
    const done = relay.relay('/v1/chat/completions', { body: {} }, exchange);
    for (let i = 0; i < 5; i++) await tick();
    expect(pulled).toBe(1);
    expect(res.written).toEqual(['data: {"a":1}\n\n']);
    expect(res.headersSent).toBe(true);
    res.accept = true;
    res.emit('drain');
    await done;
    expect(res.written.join('')).toBe('data: {"a":1}\n\ndata: {"a":2}\n\ndata: [DONE]\n\n');
    expect(res.ended).toBe(true);
    expect(res.headers).toMatchObject({
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache',
      'X-Accel-Buffering': 'no',
    });
  });

  it('disconnects a client that reads nothing for the idle timeout, and cancels the upstream', async () => {
    const frames = events('data: {"a":1}\n\ndata: {"a":2}\n\ndata: [DONE]\n\n');
    const cancel = jest.fn();
    const { relay, res, exchange } = setup(() => Promise.resolve(streamAnswer(sourceOf(frames), cancel)), 20);
    res.accept = false;
    const rec = recording(res);
    await relay.relay('/v1/chat/completions', { body: {}, recorder: rec.recorder }, exchange);
    expect(res.destroyed).toBe(true);
    expect(res.written).toEqual(['data: {"a":1}\n\n']);
    expect(cancel).toHaveBeenCalled();
    await settled(rec);
    expect(rec.commits.map((c) => c.outcome.status)).toEqual(['aborted']);
    expect(rec.after[0]?.status).toBe('aborted');
  });

  it('sends the headers on their own when the first event is not there yet', async () => {
    let release: () => void = () => undefined;
    const firstToken = new Promise<void>((resolve) => (release = resolve));
    async function* source(): AsyncGenerator<SseEvent> {
      await firstToken;
      yield* events('data: {"a":1}\n\ndata: [DONE]\n\n');
    }
    const { relay, res, exchange } = setup(() => Promise.resolve(streamAnswer(source())));
    const done = relay.relay('/v1/chat/completions', { body: {} }, exchange);
    for (let i = 0; i < 3; i++) await tick();
    expect(res.headersSent).toBe(true);
    expect(res.written).toEqual([]);
    release();
    await done;
    expect(res.written.join('')).toBe('data: {"a":1}\n\ndata: [DONE]\n\n');
  });

  it('writes the events of one upstream read with one write, leaving hidden events out', async () => {
    const frames = events('data: {"a":1}\n\ndata: {"usage":{}}\n\ndata: [DONE]\n\n');
    const answer = streamAnswer(sourceOf(frames));
    async function* oneRead(): AsyncGenerator<readonly SseEvent[]> {
      await Promise.resolve();
      yield frames;
    }
    answer.batches = oneRead();
    const { relay, res, exchange } = setup(() => Promise.resolve(answer));
    const rec = recording(res, (event) => event.data.includes('usage'));
    await relay.relay('/v1/chat/completions', { body: {}, recorder: rec.recorder }, exchange);
    expect(res.written).toEqual(['data: {"a":1}\n\ndata: [DONE]\n\n']);
    // The read that carries [DONE] ends the response with its bytes: no separate empty end.
    expect(res.writes).toBe(0);
    expect(res.ended).toBe(true);
    await settled(rec);
    expect(rec.after[0]?.events).toHaveLength(3);
  });

  it('commits a conversation reply before the write that carries [DONE], once', async () => {
    const frames = events('data: {"a":1}\n\ndata: {"a":2}\n\ndata: [DONE]\n\n');
    const { relay, res, exchange } = setup(() => Promise.resolve(streamAnswer(sourceOf(frames))));
    const rec = recording(res);
    await relay.relay('/v1/chat/completions', { body: {}, recorder: rec.recorder }, exchange);
    await settled(rec);
    expect(rec.commits).toHaveLength(1);
    expect(rec.commits[0]).toMatchObject({ ended: false, written: 'data: {"a":1}\n\ndata: {"a":2}\n\n' });
    expect(rec.commits[0]?.outcome.status).toBe('complete');
    expect(rec.commits[0]?.outcome.events).toHaveLength(3);
    expect(res.written.join('')).toBe('data: {"a":1}\n\ndata: {"a":2}\n\ndata: [DONE]\n\n');
  });

  it('commits a non-streamed reply before the body is written', async () => {
    const body = Buffer.from('{"id":"x"}');
    const json = jsonAnswer(body);
    const { relay, res, exchange } = setup(() => Promise.resolve(json));
    const rec = recording(res);
    await relay.relay('/v1/chat/completions', { body: {}, recorder: rec.recorder }, exchange);
    expect(rec.commits).toEqual([{ outcome: expect.objectContaining({ body }), ended: false, written: '' }]);
    expect(res.status).toBe(200);
    expect(res.written.join('')).toBe('{"id":"x"}');
  });

  it('answers 503 instead of a reply it could not store, streamed or not', async () => {
    const frames = events('data: {"a":1}\n\ndata: [DONE]\n\n');
    const stream = setup(() => Promise.resolve(streamAnswer(sourceOf(frames))));
    const rec = recording(stream.res, () => false, true);
    await stream.relay.relay('/v1/chat/completions', { body: {}, recorder: rec.recorder }, stream.exchange);
    const written = stream.res.written.join('');
    expect(written).toContain('"code":"service_unavailable"');
    expect(written.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(written.indexOf('[DONE]')).toBe(written.lastIndexOf('[DONE]'));

    const json = jsonAnswer(Buffer.from('{}'));
    const plain = setup(() => Promise.resolve(json));
    const failing = recording(plain.res, () => false, true);
    await expect(
      plain.relay.relay('/v1/chat/completions', { body: {}, recorder: failing.recorder }, plain.exchange),
    ).rejects.toMatchObject({ code: 'service_unavailable' });
    expect(plain.res.written).toEqual([]);
  });

  it('ends a broken stream with an error event and [DONE], and reports it after the response', async () => {
    async function* source(): AsyncGenerator<SseEvent> {
      yield* events('data: {"a":1}\n\n');
      await Promise.resolve();
      throw new AppError('gateway_timeout', 'vLLM sent nothing for 5 ms');
    }
    const cancel = jest.fn();
    const { relay, res, exchange } = setup(() => Promise.resolve(streamAnswer(source(), cancel)));
    const rec = recording(res);
    await relay.relay('/v1/chat/completions', { body: {}, recorder: rec.recorder }, exchange);
    expect(res.written.at(-1)).toBe(
      'data: {"error":{"message":"vLLM sent nothing for 5 ms","type":"server_error","param":null,"code":"gateway_timeout"}}\n\n' +
        'data: [DONE]\n\n',
    );
    expect(res.err).toBeInstanceOf(AppError);
    expect(cancel).toHaveBeenCalled();
    // The failed reply was committed before the error event went out; the after-response work came after it.
    expect(rec.commits.map((c) => [c.outcome.status, c.ended])).toEqual([['error', false]]);
    expect(rec.after).toHaveLength(0);
    await settled(rec);
    expect(rec.after[0]).toMatchObject({ status: 'error', upstream: 'http://u', attemptId: 'req-1' });
    expect(rec.after[0]?.events?.map((e) => e.data)).toEqual(['{"a":1}']);
  });

  it('marks a relayed vLLM error event as an error outcome, bytes untouched', async () => {
    const text =
      'data: {"error":{"message":"boom","type":"InternalServerError","param":null,"code":500}}\n\ndata: [DONE]\n\n';
    async function* source(): AsyncGenerator<SseEvent> {
      await Promise.resolve();
      yield* events(text);
    }
    const { relay, res, exchange } = setup(() => Promise.resolve(streamAnswer(source())));
    const rec = recording(res);
    await relay.relay('/v1/chat/completions', { body: {}, recorder: rec.recorder }, exchange);
    expect(res.written.join('')).toBe(text);
    expect(rec.commits[0]?.outcome).toMatchObject({ status: 'error' });
    expect(rec.commits[0]?.outcome.errorEvent?.isError).toBe(true);
  });

  it('aborts the upstream call when the response closes early, and writes nothing more', async () => {
    const { relay, res, exchange } = setup(
      (cancellation) =>
        new Promise((_resolve, reject) => {
          cancellation.on(() => reject(new UpstreamCancelledError()));
        }),
    );
    const rec = recording(res);
    const done = relay.relay('/v1/chat/completions', { body: {}, recorder: rec.recorder }, exchange);
    res.emit('close');
    await done;
    expect(res.written).toEqual([]);
    await settled(rec);
    expect(rec.commits.map((c) => c.outcome.status)).toEqual(['aborted']);
  });

  it('ends a stream that shutdown aborts with an error event and [DONE], its partial reply committed first', async () => {
    let upstream: Cancellation | undefined;
    async function* source(): AsyncGenerator<SseEvent> {
      yield* events('data: {"a":1}\n\n');
      // A stalled upstream: nothing more until the call is aborted.
      await new Promise((_resolve, reject) => upstream?.on(() => reject(new UpstreamCancelledError())));
    }
    const { relay, res, exchange, shutdown } = setup((cancellation) => {
      upstream = cancellation;
      return Promise.resolve(streamAnswer(source()));
    });
    const rec = recording(res);
    const done = relay.relay('/v1/chat/completions', { body: {}, recorder: rec.recorder }, exchange);
    while (res.written.length === 0) await tick();
    // No grace left: the relay is aborted at once, and the drain waits for its reply to be stored.
    await shutdown.drain(0);
    await done;
    const last = res.written.at(-1) ?? '';
    expect(last).toMatch(/^data: \{"error":\{"message":"The gateway is shutting down; please retry\."/);
    expect(last.endsWith('\n\ndata: [DONE]\n\n')).toBe(true);
    expect(rec.commits.map((c) => [c.outcome.status, c.ended])).toEqual([['aborted', false]]);
    expect(rec.after).toHaveLength(1);
    expect(shutdown.pending().relays).toBe(0);
  });

  it('answers 503 for a request that shutdown aborts before vLLM answered, its turn stored as aborted', async () => {
    const { relay, res, exchange, shutdown } = setup(
      (cancellation) =>
        new Promise((_resolve, reject) => {
          cancellation.on(() => reject(new UpstreamCancelledError()));
        }),
    );
    const rec = recording(res);
    const done = relay.relay('/v1/chat/completions', { body: {}, recorder: rec.recorder }, exchange);
    const drained = shutdown.drain(0);
    await expect(done).rejects.toMatchObject({ code: 'service_unavailable' });
    await drained;
    expect(res.written).toEqual([]);
    expect(rec.commits.map((c) => c.outcome.status)).toEqual(['aborted']);
  });

  it('leaves errors before the headers to the exception filter', async () => {
    const failure = new AppError('upstream_error', 'The model `x` does not exist.', { status: 404 });
    const { relay, res, exchange } = setup(() => Promise.reject(failure));
    const rec = recording(res);
    await expect(relay.relay('/v1/chat/completions', { body: {}, recorder: rec.recorder }, exchange)).rejects.toBe(
      failure,
    );
    expect(res.written).toEqual([]);
    // A conversation's failed reply is stored before the filter answers.
    expect(rec.commits.map((c) => c.outcome.status)).toEqual(['error']);
  });
});
