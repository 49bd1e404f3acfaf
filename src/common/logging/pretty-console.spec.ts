import { describe, expect, it } from '@jest/globals';
import type { DestinationStream } from 'pino';
import { PrettyConsole, prettyLineFormatter } from './pretty-console.js';

const ESC = '\u001b[';

const line = (fields: Record<string, unknown>): string =>
  JSON.stringify({ level: 'INFO', timestamp: '2026-12-01T09:44:49.056Z', pid: 1, msg: 'm', ...fields });

describe('pretty console lines', () => {
  const plain = prettyLineFormatter(false);

  it('shows a request end line as one sentence: level, method, path, status, duration and a short request id', () => {
    const text = plain(
      line({
        level: 'WARNING',
        request_id: '1a2b3c4d-0000-4000-8000-000000000000',
        method: 'GET',
        path: '/v1/models',
        route: '/v1/models',
        handler: 'ModelsController.list',
        status_code: 404,
        duration_ms: 3,
        model: 'qwen',
        msg: 'request completed',
      }),
    );

    expect(text).toMatch(
      /^\[\d{2}:\d{2}:\d{2}\.\d{3}\] WARNING: request completed GET \/v1\/models 404 3 ms \(req 1a2b3c4d\)/,
    );
    // What is not in the sentence follows it, on the same line; route and handler stay in app.log only.
    expect(text.trimEnd()).toMatch(/ \{"model":"qwen"\}$/);
    expect(text.trim().split('\n')).toHaveLength(1);
  });

  it('names each of our level words and puts a Nest context first', () => {
    for (const level of ['TRACE', 'DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL']) {
      expect(plain(line({ level }))).toContain(` ${level}: `);
    }
    expect(plain(line({ context: 'RoutesResolver', msg: 'Mapped' }))).toContain('INFO: [RoutesResolver] Mapped');
  });

  it('colours the level by severity when asked', () => {
    const coloured = prettyLineFormatter(true);
    const info = coloured(line({ level: 'INFO' }));
    const error = coloured(line({ level: 'ERROR' }));
    expect(info).toContain(`${ESC}32mINFO`);
    expect(error).toContain(`${ESC}31mERROR`);
    expect(plain(line({ level: 'ERROR' }))).not.toContain(ESC);
  });

  it("shows an error's stack below its line", () => {
    const text = plain(
      line({
        level: 'ERROR',
        msg: 'boom',
        err: { type: 'Error', message: 'x', stack: 'Error: x\n    at f (a.ts:1:1)' },
      }),
    );
    expect(text).toContain('ERROR: boom');
    expect(text).toContain('at f (a.ts:1:1)');
  });

  it('formats every line of a batch and writes the batch once', () => {
    const writes: string[] = [];
    const out: DestinationStream = { write: (chunk: string) => void writes.push(chunk) };
    new PrettyConsole(out, false).write(`${line({ msg: 'first' })}\n${line({ msg: 'second' })}\n`);

    expect(writes).toHaveLength(1);
    expect(writes[0]?.split('\n').filter((l) => l !== '')).toEqual([
      expect.stringMatching(/INFO: first$/),
      expect.stringMatching(/INFO: second$/),
    ]);
  });
});
