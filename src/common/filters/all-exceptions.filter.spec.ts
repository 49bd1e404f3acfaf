import { describe, expect, it, jest } from '@jest/globals';
import type { Response } from 'express';
import { AppError } from '../errors/app-error.js';
import { sendError } from './all-exceptions.filter.js';

/** The part of Express' Response that `sendError` uses. */
interface FakeResponse {
  headersSent: boolean;
  writableEnded: boolean;
  err?: Error;
  status: jest.Mock<(code: number) => FakeResponse>;
  json: jest.Mock<(body: unknown) => FakeResponse>;
  end: jest.Mock<() => FakeResponse>;
}

function fakeResponse(headersSent = false): FakeResponse {
  const res: FakeResponse = {
    headersSent,
    writableEnded: false,
    status: jest.fn(() => res),
    json: jest.fn(() => res),
    end: jest.fn(() => res),
  };
  return res;
}

describe('sendError', () => {
  it('writes the mapped status and body, and leaves a 4xx out of the error log', () => {
    const res = fakeResponse();
    sendError(new AppError('not_found', 'no such conversation'), res as unknown as Response);

    expect(res.status).toHaveBeenCalledWith(404);
    expect(res.json).toHaveBeenCalledWith({
      error: { message: 'no such conversation', type: 'not_found_error', param: null, code: 'not_found' },
    });
    expect(res.err).toBeUndefined();
  });

  it('hands a 5xx exception to the end log line', () => {
    const res = fakeResponse();
    const boom = new Error('boom');
    sendError(boom, res as unknown as Response);

    expect(res.status).toHaveBeenCalledWith(500);
    expect(res.err).toBe(boom);
  });

  it('wraps a thrown non-error so the log line still has a stack', () => {
    const res = fakeResponse();
    sendError('just a string', res as unknown as Response);
    expect(res.err).toBeInstanceOf(Error);
    expect(res.err?.message).toContain('just a string');
  });

  it('only ends a response whose headers were already sent', () => {
    const res = fakeResponse(true);
    sendError(new Error('mid-stream'), res as unknown as Response);

    expect(res.status).not.toHaveBeenCalled();
    expect(res.json).not.toHaveBeenCalled();
    expect(res.end).toHaveBeenCalledTimes(1);
    expect(res.err?.message).toBe('mid-stream');
  });

  it('leaves an already ended response alone', () => {
    const res = fakeResponse(true);
    res.writableEnded = true;
    sendError(new Error('late'), res as unknown as Response);
    expect(res.end).not.toHaveBeenCalled();
  });
});
