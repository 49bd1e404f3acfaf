import { ValidationPipe, type ValidationError } from '@nestjs/common';
import { AppError } from './app-error.js';

interface FieldFailure {
  path: string;
  messages: string[];
}

function collectFailures(errors: readonly ValidationError[], parent: string, out: FieldFailure[]): FieldFailure[] {
  for (const error of errors) {
    let path = error.property;
    if (parent !== '') path = /^\d+$/.test(error.property) ? `${parent}[${error.property}]` : `${parent}.${path}`;
    if (error.constraints !== undefined) out.push({ path, messages: Object.values(error.constraints) });
    if (error.children !== undefined) collectFailures(error.children, path, out);
  }
  return out;
}

/**
 * Turns class-validator's tree of errors into one `bad_request`: `param` is the first failing field as a path
 * (`items[0].name`), the message lists every failure.
 */
export function validationExceptionFactory(errors: ValidationError[]): AppError {
  const failures = collectFailures(errors, '', []);
  const message = failures.flatMap((failure) => failure.messages).join('; ');
  return new AppError('bad_request', message === '' ? 'Invalid request' : message, {
    param: failures[0]?.path ?? null,
  });
}

/**
 * The global pipe. It validates only parameters typed with a class: a body typed `Record<string, unknown>`, an
 * interface or `object` has `Object` as its metatype and passes through untouched (the chat completions body relies
 * on this to keep vLLM's extra fields).
 */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    exceptionFactory: validationExceptionFactory,
  });
}
