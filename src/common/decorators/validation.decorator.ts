import { applyDecorators } from '@nestjs/common';
import { IsInt, IsNumber, IsString, Max, MaxLength, Min, MinLength, ValidateIf } from 'class-validator';

/**
 * The decorators as if written one above the other. TypeScript applies a written stack bottom-up and
 * `applyDecorators` first to last; class-validator reports a field's failures in the order they were applied, so
 * reversing keeps the messages clients get in the order they always had.
 */
const stack = (...decorators: PropertyDecorator[]): PropertyDecorator => applyDecorators(...decorators.reverse());

/**
 * Validates the field unless it is absent. Unlike `IsOptional`, `null` is validated (and refused): for fields that
 * have a value in every row, so there is nothing to clear.
 */
export const IfPresent = (): PropertyDecorator => ValidateIf((_object: object, value: unknown) => value !== undefined);

/** A string of 1 to `maxLength` characters. */
export const IsNonEmptyString = (maxLength: number): PropertyDecorator =>
  stack(IsString(), MinLength(1), MaxLength(maxLength));

/** An integer of at least `min`, and at most `max` when there is one. */
export const IsIntInRange = (min: number, max?: number): PropertyDecorator =>
  stack(IsInt(), Min(min), ...(max === undefined ? [] : [Max(max)]));

/** A finite number from `min` to `max`. */
export const IsNumberInRange = (min: number, max: number): PropertyDecorator =>
  stack(IsNumber({ allowNaN: false, allowInfinity: false }), Min(min), Max(max));
