import { describe, expect, it, jest } from '@jest/globals';
import type { ServerResponse } from 'node:http';
import { AppError } from '../errors/app-error.js';
import { sendError } from './all-exceptions.filter.js';

/** The part of node:http's ServerResponse that `sendError` uses. */
interface FakeResponse {
  headersSent: boolean;
  writableEnded: boolean;
  err?: Error;
  writeHead: jest.Mock<(code: number, headers: Record<string, string | number>) => FakeResponse>;
  end: jest.Mock<(body?: string) => FakeResponse>;
}

function fakeResponse(headersSent = false): FakeResponse {
  const res: FakeResponse = {
    headersSent,
    writableEnded: false,
    writeHead: jest.fn(() => res),
    end: jest.fn(() => res),
  };
  return res;
}

function sentBody(res: FakeResponse): unknown {
  return JSON.parse(res.end.mock.calls[0]?.[0] ?? '');
}

describe('sendError', () => {
  it('writes the mapped status and body, and leaves a 4xx out of the error log', () => {
    const res = fakeResponse();
    sendError(new AppError('not_found', 'no such conversation'), res as unknown as ServerResponse);

    const json = res.end.mock.calls[0]?.[0] ?? '';
    expect(res.writeHead).toHaveBeenCalledWith(404, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': Buffer.byteLength(json),
    });
    expect(sentBody(res)).toEqual({
      error: { message: 'no such conversation', type: 'not_found_error', param: null, code: 'not_found' },
    });
    expect(res.err).toBeUndefined();
  });

  it('hands a 5xx exception to the end log line', () => {
    const res = fakeResponse();
    const boom = new Error('boom');
    sendError(boom, res as unknown as ServerResponse);

    expect(res.writeHead.mock.calls[0]?.[0]).toBe(500);
    expect(res.err).toBe(boom);
  });

  it('wraps a thrown non-error so the log line still has a stack', () => {
    const res = fakeResponse();
    sendError('just a string', res as unknown as ServerResponse);
    expect(res.err).toBeInstanceOf(Error);
    expect(res.err?.message).toContain('just a string');
  });

  it('only ends a response whose headers were already sent', () => {
    const res = fakeResponse(true);
    sendError(new Error('mid-stream'), res as unknown as ServerResponse);

    expect(res.writeHead).not.toHaveBeenCalled();
    expect(res.end).toHaveBeenCalledTimes(1);
    expect(res.end.mock.calls[0]).toEqual([]);
    expect(res.err?.message).toBe('mid-stream');
  });

  it('leaves an already ended response alone', () => {
    const res = fakeResponse(true);
    res.writableEnded = true;
    sendError(new Error('late'), res as unknown as ServerResponse);
    expect(res.end).not.toHaveBeenCalled();
  });
});
