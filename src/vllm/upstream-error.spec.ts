import { describe, it, expect } from '@jest/globals';
import { mapAppError } from '../common/errors/app-error.js';
import { parseUpstreamError, upstreamError } from './upstream-error.js';

describe('parseUpstreamError', () => {
  it('reads the current nested shape', () => {
    const body =
      '{"error":{"message":"The model `foo` does not exist.","type":"NotFoundError","param":"model","code":404}}';
    expect(parseUpstreamError(404, Buffer.from(body))).toEqual({
      message: 'The model `foo` does not exist.',
      type: 'NotFoundError',
      param: 'model',
    });
  });

  it('reads the legacy flat shape', () => {
    const body = '{"object":"error","message":"too long","type":"BadRequestError","param":null,"code":400}';
    expect(parseUpstreamError(400, body)).toEqual({ message: 'too long', type: 'BadRequestError', param: null });
  });

  it('reads a plain-string error', () => {
    expect(parseUpstreamError(401, '{"error":"Unauthorized"}')).toEqual({
      message: 'Unauthorized',
      type: undefined,
      param: null,
    });
  });

  it("reads FastAPI's detail shape", () => {
    expect(parseUpstreamError(404, '{"detail":"Not Found"}').message).toBe('Not Found');
    expect(parseUpstreamError(422, '{"detail":[{"loc":["body"],"msg":"bad"}]}').message).toBe(
      'vLLM answered HTTP 422: [{"loc":["body"],"msg":"bad"}]',
    );
  });

  it('falls back to the status for an empty body and to the text for non-JSON', () => {
    expect(parseUpstreamError(500, Buffer.alloc(0))).toEqual({
      message: 'vLLM answered HTTP 500',
      type: undefined,
      param: null,
    });
    expect(parseUpstreamError(502, '<html>Bad Gateway</html>').message).toBe(
      'vLLM answered HTTP 502: <html>Bad Gateway</html>',
    );
    expect(parseUpstreamError(500, 'x'.repeat(2000)).message.length).toBeLessThan(600);
    expect(parseUpstreamError(500, '[1,2]').message).toBe('vLLM answered HTTP 500: [1,2]');
  });

  it('ignores fields of the wrong type', () => {
    expect(parseUpstreamError(400, '{"error":{"message":"m","type":5,"param":{"x":1}}}')).toEqual({
      message: 'm',
      type: undefined,
      param: null,
    });
  });
});

describe('upstreamError', () => {
  it("keeps vLLM's status, type, message and param in our error body", () => {
    const err = upstreamError(
      400,
      '{"error":{"message":"This model\'s maximum context length is 1024 tokens.","type":"BadRequestError","param":"input_tokens","code":400}}',
    );
    expect(mapAppError(err)).toEqual({
      status: 400,
      body: {
        error: {
          message: "This model's maximum context length is 1024 tokens.",
          type: 'BadRequestError',
          param: 'input_tokens',
          code: 400,
        },
      },
    });
  });

  it('defaults the type from the status when vLLM gave none', () => {
    expect(mapAppError(upstreamError(500, '')).body.error.type).toBe('server_error');
    expect(mapAppError(upstreamError(404, '{"error":"Not Found"}')).body.error).toEqual({
      message: 'Not Found',
      type: 'invalid_request_error',
      param: null,
      code: 404,
    });
  });

  it.each([401, 403])('turns vLLM refusing the gateway key (%i) into a 502 that quotes nothing', (status) => {
    const { status: answered, body } = mapAppError(upstreamError(status, '{"error":"Unauthorized: key sk-x"}'));
    expect(answered).toBe(502);
    expect(body.error.code).toBe('bad_gateway');
    expect(body.error.message).toContain('VLLM_API_KEY');
    expect(body.error.message).not.toContain('sk-x');
  });

  it('relays at most maxMessageChars of the message', () => {
    const err = upstreamError(400, JSON.stringify({ error: { message: 'x'.repeat(5000) } }), 2048);
    expect(err.message).toBe(`${'x'.repeat(2048)}…`);
  });
});
