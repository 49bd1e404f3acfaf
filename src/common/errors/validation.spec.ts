import { describe, expect, it } from '@jest/globals';
import type { ArgumentMetadata, ValidationError } from '@nestjs/common';
import { IsString, MinLength } from 'class-validator';
import { AppError } from './app-error.js';
import { createValidationPipe, validationExceptionFactory } from './validation.js';

class NameDto {
  @IsString()
  @MinLength(1)
  name: string;
}

const bodyOf = (metatype: ArgumentMetadata['metatype']): ArgumentMetadata => ({ type: 'body', metatype });

describe('validationExceptionFactory', () => {
  it('names the first failing field as a path and lists every message', () => {
    const errors: ValidationError[] = [
      { property: 'name', constraints: { isString: 'name must be a string' }, children: [] },
      {
        property: 'messages',
        children: [
          {
            property: '0',
            children: [{ property: 'role', constraints: { isIn: 'role must be one of: user' }, children: [] }],
          },
        ],
      },
    ];

    const error = validationExceptionFactory(errors);
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({
      code: 'bad_request',
      param: 'name',
      message: 'name must be a string; role must be one of: user',
    });
    expect(validationExceptionFactory(errors.slice(1)).param).toBe('messages[0].role');
  });

  it('still answers when class-validator gives no message', () => {
    expect(validationExceptionFactory([])).toMatchObject({ message: 'Invalid request', param: null });
  });
});

describe('createValidationPipe', () => {
  const pipe = createValidationPipe();

  it('validates a class-typed body', async () => {
    await expect(pipe.transform({ name: '' }, bodyOf(NameDto))).rejects.toMatchObject({
      code: 'bad_request',
      param: 'name',
    });
    await expect(pipe.transform({ name: 'a', extra: 1 }, bodyOf(NameDto))).rejects.toMatchObject({ param: 'extra' });
    await expect(pipe.transform({ name: 'a' }, bodyOf(NameDto))).resolves.toBeInstanceOf(NameDto);
  });

  it('passes a body typed as a plain record through untouched (same object, unknown fields kept)', async () => {
    const body = { model: 'm', messages: [], top_k: 3, vllm_xargs: { a: 1 } };
    await expect(pipe.transform(body, bodyOf(Object))).resolves.toBe(body);
    await expect(pipe.transform(body, bodyOf(undefined))).resolves.toBe(body);
  });
});
