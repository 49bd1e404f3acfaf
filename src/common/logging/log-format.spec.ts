import { describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { loggerOptions, scrubSecrets, serializeError } from './log-format.js';

/** A pino logger with the production options whose lines are collected, parsed. */
function capture(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { ...loggerOptions(), level: 'trace' },
    { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  return { logger, lines };
}

describe('log line format', () => {
  it('writes flat lines with an ISO timestamp, a named level, pid and msg', () => {
    const { logger, lines } = capture();
    logger.info({ status_code: 200 }, 'hello');

    expect(lines).toEqual([
      { level: 'INFO', timestamp: expect.any(String), pid: process.pid, status_code: 200, msg: 'hello' },
    ]);
    const timestamp = lines[0]?.timestamp as string;
    expect(new Date(timestamp).toISOString()).toBe(timestamp);
  });

  it('names every level', () => {
    const { logger, lines } = capture();
    logger.trace('t');
    logger.debug('d');
    logger.info('i');
    logger.warn('w');
    logger.error('e');
    logger.fatal('f');
    expect(lines.map((line) => line.level)).toEqual(['TRACE', 'DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL']);
  });

  it('redacts secrets in headers, bodies and config objects', () => {
    const { logger, lines } = capture();
    logger.info(
      {
        headers: { authorization: 'Bearer a', 'x-api-key': 'b', cookie: 'c', accept: '*/*' },
        body: { password: 'd', api_key: 'e', access_token: 'f', model: 'm' },
        config: { databaseUrl: 'postgres://u:g@h/db', apiKey: 'h', headers: { Authorization: 'i' } },
        token: 'j',
      },
      'careless',
    );
    expect(lines[0]).toMatchObject({
      headers: { authorization: '[REDACTED]', 'x-api-key': '[REDACTED]', cookie: '[REDACTED]', accept: '*/*' },
      body: { password: '[REDACTED]', api_key: '[REDACTED]', access_token: '[REDACTED]', model: 'm' },
      config: { databaseUrl: '[REDACTED]', apiKey: '[REDACTED]', headers: { Authorization: '[REDACTED]' } },
      token: '[REDACTED]',
    });
  });

  it('drops req and res objects instead of serialising them', () => {
    const { logger, lines } = capture();
    logger.child({ req: { headers: { authorization: 'x' } } }).info({ res: { statusCode: 200 } }, 'm');
    expect(lines[0]).not.toHaveProperty('req');
    expect(lines[0]).not.toHaveProperty('res');
  });

  it('serialises err with its stack only', () => {
    const { logger, lines } = capture();
    const err = Object.assign(new Error('upstream failed'), {
      code: 'ECONNRESET',
      config: { headers: { Authorization: 'Bearer upstream-secret' } },
    });
    logger.error({ err }, 'failed');

    expect(lines[0]?.err).toEqual({
      type: 'Error',
      message: 'upstream failed',
      stack: expect.stringContaining('upstream failed\n    at '),
      code: 'ECONNRESET',
    });
  });
});

describe('serializeError', () => {
  it('follows the cause chain to a bounded depth', () => {
    let err = new Error('level 0');
    for (let level = 1; level <= 5; level++) err = new Error(`level ${level}`, { cause: err });

    const serialized = serializeError(err);
    expect(serialized.message).toBe('level 5');
    expect(serialized.cause?.cause?.cause?.message).toBe('level 2');
    expect(serialized.cause?.cause?.cause?.cause).toBeUndefined();
  });

  it('describes thrown non-errors', () => {
    expect(serializeError('plain string')).toEqual({ type: 'string', message: 'plain string' });
  });

  it('scrubs secrets from the message and the stack', () => {
    const serialized = serializeError(new Error('rejected Authorization: Bearer sk-live-123456789'));
    expect(serialized.message).toBe('rejected Authorization: Bearer [REDACTED]');
    expect(serialized.stack).not.toContain('sk-live-123456789');
  });
});

describe('scrubSecrets', () => {
  it.each([
    ['Bearer abc.def-ghi', 'Bearer [REDACTED]'],
    ['basic dXNlcjpwYXNz', 'basic [REDACTED]'],
    ['jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig-nature_1', 'jwt [REDACTED_JWT]'],
    ['key sk-abcdefgh12345', 'key [REDACTED_KEY]'],
    ['connect postgres://gateway:pa55@db:5432/app failed', 'connect postgres://gateway:[REDACTED]@db:5432/app failed'],
    ['nothing secret here', 'nothing secret here'],
  ])('%s', (input, expected) => {
    expect(scrubSecrets(input)).toBe(expected);
  });
});
