import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { EventEmitter, once } from 'node:events';
import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AppError } from '../errors/app-error.js';
import {
  BodyAbortedError,
  jsonDepth,
  plainJsonLength,
  readJsonBody,
  UNPARSABLE_JSON_MESSAGE,
  valueTooDeep,
} from './json-body.js';

const LIMIT = 1000;
const DEPTH = 4;

function lengthOf(headers: IncomingHttpHeaders, limit = LIMIT): number | undefined {
  return plainJsonLength({ headers } as unknown as IncomingMessage, limit);
}

describe('plainJsonLength', () => {
  it.each([
    'application/json',
    'Application/JSON',
    'application/json; charset=utf-8',
    'application/json;charset="UTF-8"',
  ])('returns the Content-Length for %s', (contentType) => {
    expect(lengthOf({ 'content-type': contentType, 'content-length': '42' })).toBe(42);
  });

  it('accepts an identity Content-Encoding', () => {
    expect(
      lengthOf({ 'content-type': 'application/json', 'content-length': '42', 'content-encoding': 'identity' }),
    ).toBe(42);
  });

  it('accepts a length equal to the limit and refuses one byte more', () => {
    const headers = (length: number): IncomingHttpHeaders => ({
      'content-type': 'application/json',
      'content-length': String(length),
    });
    expect(lengthOf(headers(LIMIT))).toBe(LIMIT);
    expect(lengthOf(headers(LIMIT + 1))).toBeUndefined();
  });

  it.each<[string, IncomingHttpHeaders]>([
    ['no Content-Length', { 'content-type': 'application/json' }],
    ['chunked', { 'content-type': 'application/json', 'transfer-encoding': 'chunked' }],
    [
      'chunked with a Content-Length',
      { 'content-type': 'application/json', 'content-length': '42', 'transfer-encoding': 'chunked' },
    ],
    ['gzip', { 'content-type': 'application/json', 'content-length': '42', 'content-encoding': 'gzip' }],
    ['UTF-16', { 'content-type': 'application/json; charset=utf-16', 'content-length': '42' }],
    ['text/plain', { 'content-type': 'text/plain', 'content-length': '42' }],
    ['a form', { 'content-type': 'application/x-www-form-urlencoded', 'content-length': '42' }],
    ['no Content-Type', { 'content-length': '42' }],
    ['a non-numeric Content-Length', { 'content-type': 'application/json', 'content-length': 'abc' }],
    ['a negative Content-Length', { 'content-type': 'application/json', 'content-length': '-1' }],
  ])('returns undefined for %s', (_case, headers) => {
    expect(lengthOf(headers)).toBeUndefined();
  });
});

type Outcome = { value: unknown } | { error: unknown };

/** What the server saw of one request: its 'data' events and what readJsonBody settled with. */
class Probe {
  readonly events = new EventEmitter();
  chunks = 0;
  readonly outcome: Promise<Outcome>;
  settle: (outcome: Outcome) => void = () => undefined;

  constructor() {
    this.outcome = new Promise((resolve) => (this.settle = resolve));
  }
}

describe('readJsonBody', () => {
  let server: Server;
  let port: number;
  const probes = new Map<string, Probe>();
  let nextId = 0;

  beforeAll(async () => {
    server = createServer((req, res) => {
      const probe = probes.get(String(req.headers['x-probe']));
      if (probe === undefined) throw new Error('request without a probe');
      readJsonBody(req, DEPTH).then(
        ({ value }) => {
          probe.settle({ value });
          res.end();
        },
        (error: unknown) => {
          probe.settle({ error });
          res.end();
        },
      );
      req.on('data', () => {
        probe.chunks++;
        probe.events.emit('chunk');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  function open(probe: Probe, length: number): ReturnType<typeof request> {
    const id = String(nextId++);
    probes.set(id, probe);
    const req = request({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: '/',
      agent: false,
      headers: { 'content-type': 'application/json', 'content-length': length, 'x-probe': id },
    });
    req.on('response', (res) => res.resume());
    req.on('error', () => undefined);
    return req;
  }

  /** Sends each chunk only once the server has received the previous one, so the body arrives in that many pieces. */
  async function send(...chunks: (string | Buffer)[]): Promise<{ outcome: Outcome; chunks: number }> {
    const buffers = chunks.map((chunk) => Buffer.from(chunk));
    const probe = new Probe();
    const req = open(
      probe,
      buffers.reduce((sum, chunk) => sum + chunk.length, 0),
    );
    for (const chunk of buffers) {
      const arrived = once(probe.events, 'chunk');
      req.write(chunk);
      await arrived;
    }
    req.end();
    return { outcome: await probe.outcome, chunks: probe.chunks };
  }

  async function valueOf(...chunks: (string | Buffer)[]): Promise<unknown> {
    const { outcome } = await send(...chunks);
    if ('error' in outcome) throw outcome.error;
    return outcome.value;
  }

  async function errorOf(...chunks: (string | Buffer)[]): Promise<unknown> {
    const { outcome } = await send(...chunks);
    if ('value' in outcome) throw new Error(`resolved with ${JSON.stringify(outcome.value)}`);
    return outcome.error;
  }

  function expectUnparsable(error: unknown, body: string): void {
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: 'bad_request', message: UNPARSABLE_JSON_MESSAGE });
    const { message, cause, stack } = error as AppError;
    expect(`${message} ${String(cause)} ${stack}`).not.toContain(body.trim());
  }

  it('parses a body that arrives in several pieces as a whole', async () => {
    const { outcome, chunks } = await send('{"model":', '"m","messages":[{"role":', '"user"}]}');
    expect(chunks).toBe(3);
    expect(outcome).toEqual({ value: { model: 'm', messages: [{ role: 'user' }] } });
  });

  it('gives {} for an empty body', async () => {
    await expect(valueOf()).resolves.toEqual({});
  });

  it('drops a UTF-8 BOM before the object', async () => {
    await expect(valueOf(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"a":1}')]))).resolves.toEqual({
      a: 1,
    });
  });

  it('accepts JSON whitespace before the object', async () => {
    await expect(valueOf(' \t\r\n{"a":1}')).resolves.toEqual({ a: 1 });
  });

  it('accepts an array at the top level', async () => {
    await expect(valueOf('[1,{"a":2}]')).resolves.toEqual([1, { a: 2 }]);
  });

  it.each(['"secret-string"', '424242', 'true', 'null', ' \n"secret-string"'])(
    'rejects the top-level scalar %j with the body parser message, without quoting it',
    async (body) => {
      expectUnparsable(await errorOf(body), body);
    },
  );

  it('rejects malformed JSON with the body parser message, without quoting it', async () => {
    const body = '{"secret-key":';
    expectUnparsable(await errorOf(body), body);
  });

  it('decodes multi-byte UTF-8 characters split across pieces', async () => {
    const text = 'héllo 漢字 🎉';
    const body = Buffer.from(JSON.stringify({ text }));
    const inKanji = body.indexOf(Buffer.from('漢')) + 1;
    const inEmoji = body.indexOf(Buffer.from('🎉')) + 2;
    const pieces = [body.subarray(0, inKanji), body.subarray(inKanji, inEmoji), body.subarray(inEmoji)];
    // Each piece alone cuts a character in half.
    expect(pieces[0]?.toString()).toContain('\uFFFD');
    expect(pieces[1]?.toString()).toContain('\uFFFD');

    const { outcome, chunks } = await send(...pieces);
    expect(chunks).toBe(3);
    expect(outcome).toEqual({ value: { text } });
  });

  it('rejects with BodyAbortedError when the client goes away before its body has arrived', async () => {
    const probe = new Probe();
    const req = open(probe, 100);
    const arrived = once(probe.events, 'chunk');
    req.write('{"a":"1234');
    await arrived;
    req.destroy();

    const outcome = await probe.outcome;
    expect(outcome).toEqual({ error: expect.any(BodyAbortedError) });
    expect(probe.chunks).toBe(1);
  });
});

describe('JSON nesting depth', () => {
  const nested = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);

  it.each<[string, number]>([
    ['{}', 1],
    ['{"a":[1,{"b":2}],"c":{}}', 3],
    ['"no brackets"', 0],
    ['{"s":"[[[{{{"}', 1],
    ['{"s":"a \\" [[[ \\\\","t":[]}', 2],
    ['[' + '×5000', 5000],
  ])('counts %s as %i levels, skipping brackets inside strings', (label, depth) => {
    const text = label === '[×5000' ? nested(5000) : label;
    expect(jsonDepth(Buffer.from(text))).toBe(depth);
  });

  it('stops scanning once past the limit', () => {
    expect(jsonDepth(Buffer.from(nested(5000)), 64)).toBe(65);
  });

  it('walks parsed values to the same depth as the byte scan', () => {
    for (const text of ['{}', '{"a":[1,{"b":2}],"c":{}}', nested(64), nested(65), '{"a":{"b":{"c":[[]]}}}']) {
      const depth = jsonDepth(Buffer.from(text));
      expect(valueTooDeep(JSON.parse(text), depth)).toBe(false);
      expect(valueTooDeep(JSON.parse(text), depth - 1)).toBe(true);
    }
    expect(valueTooDeep('scalar', 0)).toBe(false);
  });
});

describe('readJsonBody depth limit', () => {
  it('is checked in the fast lane reader too', async () => {
    const server = createServer((req, res) => {
      readJsonBody(req, 3).then(
        () => res.end('ok'),
        (err: unknown) => res.end(err instanceof AppError ? err.message : 'other'),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const post = async (body: string): Promise<string> =>
      (await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body })).text();
    try {
      await expect(post('[[[]]]')).resolves.toBe('ok');
      await expect(post('[[[[]]]]')).resolves.toContain('nested deeper than the limit of 3 levels');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
