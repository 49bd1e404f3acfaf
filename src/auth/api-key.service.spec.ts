import { describe, expect, it } from '@jest/globals';
import { AppError } from '../common/errors/app-error.js';
import type { AppConfig } from '../config/app-config.js';
import { ApiKeyService } from './api-key.service.js';

function service(enabled: boolean, apiKeys: string[] = []): ApiKeyService {
  return new ApiKeyService({ auth: { enabled, apiKeys } } as unknown as AppConfig);
}

function failure(run: () => void): AppError | undefined {
  try {
    run();
    return undefined;
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
}

describe('ApiKeyService', () => {
  const keys = service(true, ['key-one', 'key-two']);

  it('lets everything through when authentication is off', () => {
    expect(failure(() => service(false).check(undefined))).toBeUndefined();
    expect(failure(() => service(false).check('Bearer whatever'))).toBeUndefined();
  });

  it('accepts each configured key as a Bearer token, the scheme in any case', () => {
    expect(failure(() => keys.check('Bearer key-one'))).toBeUndefined();
    expect(failure(() => keys.check('bearer key-two'))).toBeUndefined();
    expect(failure(() => keys.check('BEARER  key-one '))).toBeUndefined();
  });

  it('answers a missing or malformed header with 401 asking for a Bearer key', () => {
    for (const header of [
      undefined,
      '',
      'Bearer',
      'Bearer ',
      'Basic a2V5LW9uZQ==',
      'key-one',
      'Bearer key-one extra',
    ]) {
      const err = failure(() => keys.check(header));
      expect(err?.code).toBe('unauthorized');
      expect(err?.message).toContain('Authorization: Bearer');
    }
  });

  it('answers an unknown key with 401 that does not repeat it', () => {
    for (const header of ['Bearer key-three', 'Bearer KEY-ONE', 'Bearer key-one2']) {
      const err = failure(() => keys.check(header));
      expect(err?.code).toBe('unauthorized');
      expect(err?.message).toBe('Invalid API key.');
    }
  });
});
