import { Param, ParseUUIDPipe } from '@nestjs/common';
import { AppError } from '../common/errors/app-error.js';

/** A path id that must be a UUID: anything else is a 400 naming the parameter, before any query runs. */
export const UuidParam = (name: string): ParameterDecorator =>
  Param(
    name,
    new ParseUUIDPipe({
      exceptionFactory: () => new AppError('bad_request', `'${name}' must be a UUID`, { param: name }),
    }),
  );

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The same check for ids that arrive in a body the validation pipe does not see (the chat request). */
export function isUuid(value: string): boolean {
  return UUID_RE.test(value);
}
