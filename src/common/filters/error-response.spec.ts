import { describe, expect, it } from '@jest/globals';
import { BadRequestException, HttpException, HttpStatus, NotFoundException } from '@nestjs/common';
import { AppError } from '../errors/app-error.js';
import { toErrorResponse } from './error-response.js';

/** What body-parser raises (an http-errors error). */
function bodyParserError(status: number, type: string, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(`raw parser message quoting {"password":"x"}`), {
    status,
    statusCode: status,
    expose: status < 500,
    type,
    ...extra,
  });
}

describe('toErrorResponse', () => {
  it('maps an AppError through mapAppError, keeping param', () => {
    expect(toErrorResponse(new AppError('bad_request', 'messages is required', { param: 'messages' }))).toEqual({
      status: 400,
      body: {
        error: {
          message: 'messages is required',
          type: 'invalid_request_error',
          param: 'messages',
          code: 'bad_request',
        },
      },
    });
  });

  it.each([
    [new NotFoundException('Cannot GET /x'), 404, 'not_found_error', 'not_found', 'Cannot GET /x'],
    [
      new BadRequestException(['a is bad', 'b is bad']),
      400,
      'invalid_request_error',
      'bad_request',
      'a is bad; b is bad',
    ],
    [
      new HttpException('slow down', HttpStatus.TOO_MANY_REQUESTS),
      429,
      'invalid_request_error',
      'too_many_requests',
      'slow down',
    ],
    [new HttpException('no', HttpStatus.METHOD_NOT_ALLOWED), 405, 'invalid_request_error', 'method_not_allowed', 'no'],
    [new HttpException('down', HttpStatus.SERVICE_UNAVAILABLE), 503, 'server_error', 'service_unavailable', 'down'],
    [new HttpException('nope', HttpStatus.NOT_IMPLEMENTED), 501, 'server_error', 'not_implemented', 'nope'],
  ])('maps %p by its status', (exception, status, type, code, message) => {
    expect(toErrorResponse(exception)).toEqual({ status, body: { error: { message, type, param: null, code } } });
  });

  it('answers an HttpException 500 with the generic message', () => {
    const { status, body } = toErrorResponse(new HttpException('db password is wrong', 500));
    expect(status).toBe(500);
    expect(body.error.message).toBe('Internal server error');
  });

  it('does not quote the body of malformed JSON', () => {
    const { status, body } = toErrorResponse(bodyParserError(400, 'entity.parse.failed'));
    expect(status).toBe(400);
    expect(body.error).toEqual({
      message: 'We could not parse the JSON body of your request.',
      type: 'invalid_request_error',
      param: null,
      code: 'bad_request',
    });
  });

  it('names the limit of a body that is too large', () => {
    const { status, body } = toErrorResponse(bodyParserError(413, 'entity.too.large', { limit: 1024 }));
    expect(status).toBe(413);
    expect(body.error).toMatchObject({ code: 'payload_too_large', message: expect.stringContaining('1024 bytes') });
  });

  it('keeps the status and message of other client-side body-parser errors', () => {
    const { status, body } = toErrorResponse(bodyParserError(415, 'charset.unsupported'));
    expect(status).toBe(415);
    expect(body.error.code).toBe('unsupported_media_type');
  });

  it.each([
    ['an Error', new Error('connect ECONNREFUSED 10.0.0.3:5432')],
    ['a string', 'thrown string'],
    ['undefined', undefined],
    ['a server-side body-parser error', bodyParserError(500, 'stream.not.readable')],
  ])('answers %s with a generic 500', (_case, exception) => {
    expect(toErrorResponse(exception)).toEqual({
      status: 500,
      body: { error: { message: 'Internal server error', type: 'server_error', param: null, code: 'internal' } },
    });
  });
});
