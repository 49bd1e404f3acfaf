import { describe, expect, it } from '@jest/globals';
import { QueryFailedError } from 'typeorm';
import { BadRequestException, HttpException, HttpStatus, NotFoundException } from '@nestjs/common';
import { AppError } from '../errors/app-error.js';
import { DATABASE_RETRY_AFTER_SECONDS, toErrorResponse } from './error-response.js';

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

  const coded = (message: string, code: string): Error => Object.assign(new Error(message), { code });
  const failedQuery = (driverError: Error): QueryFailedError => new QueryFailedError('SELECT 1', [], driverError);

  it.each([
    ['the pool cannot reach the server', coded('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED')],
    ['the socket is reset', coded('read ECONNRESET', 'ECONNRESET')],
    ['a write hits a closed socket', coded('write EPIPE', 'EPIPE')],
    ['the connect times out at the OS', coded('connect ETIMEDOUT', 'ETIMEDOUT')],
    ['the pool times out', new Error('timeout exceeded when trying to connect')],
    ['the socket closes under a query', new Error('Connection terminated unexpectedly')],
    ['pg refuses a broken client', new Error('Client has encountered a connection error and is not queryable')],
    [
      'the server shuts down (57P01)',
      failedQuery(coded('terminating connection due to administrator command', '57P01')),
    ],
    ['the server crashed (57P02)', failedQuery(coded('crash shutdown', '57P02'))],
    ['the server is starting (57P03)', failedQuery(coded('the database system is starting up', '57P03'))],
    ['too many connections (53300)', failedQuery(coded('sorry, too many clients already', '53300'))],
    ['a connection exception (class 08)', failedQuery(coded('connection failure', '08006'))],
    ['the statement timeout (57014)', failedQuery(coded('canceling statement due to statement timeout', '57014'))],
    ['a wrapped cause', new Error('outer', { cause: coded('connect ECONNREFUSED', 'ECONNREFUSED') })],
    ['several addresses refused', new AggregateError([coded('connect ECONNREFUSED ::1:5432', 'ECONNREFUSED')])],
  ])('answers 503 with Retry-After when %s', (_case, exception) => {
    expect(toErrorResponse(exception)).toEqual({
      status: 503,
      body: {
        error: {
          message: 'The database is temporarily unavailable; please retry.',
          type: 'server_error',
          param: null,
          code: 'service_unavailable',
        },
      },
      retryAfterSeconds: DATABASE_RETRY_AFTER_SECONDS,
    });
  });

  it.each([
    ['a syntax error', failedQuery(coded('syntax error', '42601'))],
    ['a unique violation', failedQuery(coded('duplicate key', '23505'))],
    ['an unrelated coded error', coded('no such file', 'ENOENT')],
  ])('keeps %s a 500', (_case, exception) => {
    expect(toErrorResponse(exception).status).toBe(500);
  });

  it('passes a rate limit’s Retry-After on', () => {
    expect(toErrorResponse(new AppError('rate_limited', 'slow down', { retryAfterSeconds: 7 }))).toMatchObject({
      status: 429,
      retryAfterSeconds: 7,
    });
  });
});
