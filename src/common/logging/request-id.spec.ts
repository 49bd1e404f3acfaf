import { describe, expect, it } from '@jest/globals';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { assignRequestId } from './request-id.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function assign(header: string | string[] | undefined): { id: string; echoed: unknown } {
  const req = { headers: header === undefined ? {} : { 'x-request-id': header } } as unknown as IncomingMessage;
  let echoed: unknown;
  const res = { setHeader: (_name: string, value: unknown) => (echoed = value) } as unknown as ServerResponse;
  return { id: assignRequestId(req, res), echoed };
}

describe('assignRequestId', () => {
  it.each(['abc', '3f1c0a2e-5d1b-4c8e-9a7f-0123456789ab', 'trace.1:span-2_x', 'a'.repeat(128)])(
    'reuses the well-formed incoming id %s and echoes it',
    (incoming) => {
      expect(assign(incoming)).toEqual({ id: incoming, echoed: incoming });
    },
  );

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['too long', 'a'.repeat(129)],
    ['with spaces', 'a b'],
    ['with a newline', 'a\nb'],
    ['starting with punctuation', '-abc'],
    ['repeated header', ['a', 'b']],
  ])('generates a UUID when the incoming id is %s', (_case, incoming) => {
    const { id, echoed } = assign(incoming);
    expect(id).toMatch(UUID);
    expect(echoed).toBe(id);
  });
});
