import { describe, expect, it } from '@jest/globals';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { IfPresent, IsIntInRange, IsNonEmptyString, IsNumberInRange } from './validation.decorator.js';

class Sample {
  @IsNonEmptyString(3) name: string;
  @IsIntInRange(1, 9) count: number;
  @IsIntInRange(1) floor: number;
  @IsNumberInRange(0, 1) share: number;
  @IfPresent() @IsNonEmptyString(3) label?: string;
}

const VALID = { name: 'abc', count: 9, floor: 1e9, share: 0.5 };

function messages(fields: Record<string, unknown>): string[] {
  return validateSync(plainToInstance(Sample, { ...VALID, ...fields })).flatMap((e) =>
    Object.values(e.constraints ?? {}),
  );
}

describe('composed validators', () => {
  it('report failures in the order the written stacks did (bottom-up), which clients see in the error message', () => {
    expect(messages({ name: 5 })).toEqual([
      'name must be shorter than or equal to 3 characters',
      'name must be longer than or equal to 1 characters',
      'name must be a string',
    ]);
    expect(messages({ count: 'x' })).toEqual([
      'count must not be greater than 9',
      'count must not be less than 1',
      'count must be an integer number',
    ]);
  });

  it('bound an integer from below only when no maximum is given', () => {
    expect(messages({ floor: 0.5 })).toEqual(['floor must not be less than 1', 'floor must be an integer number']);
    expect(messages({})).toEqual([]);
  });

  it('refuse non-finite numbers', () => {
    expect(messages({ share: Number.POSITIVE_INFINITY })).toEqual([
      'share must not be greater than 1',
      'share must be a number conforming to the specified constraints',
    ]);
  });

  it('validate a field that is there, null included, and skip one that is absent', () => {
    expect(messages({ label: undefined })).toEqual([]);
    expect(messages({ label: null })).toContain('label must be a string');
  });
});
