import { describe, it, expect } from '@jest/globals';
import { usageIn } from './completion-usage.js';

describe('usageIn', () => {
  it("reads vLLM's usage from a JSON answer's bytes and from a stream's usage chunk", () => {
    const body = Buffer.from(
      '{"id":"chatcmpl-1","choices":[{"message":{"content":"hi"}}],' +
        '"usage":{"prompt_tokens":12,"total_tokens":15,"completion_tokens":3,"prompt_tokens_details":null}}',
    );
    expect(usageIn(body)).toEqual({ input: 12, output: 3 });
    expect(usageIn('{"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":2}}')).toEqual({
      input: 7,
      output: 2,
    });
  });

  it('reads only the last usage object, never words in the content, and nulls what is missing', () => {
    // In content the key is escaped (\"usage\"), so it is no match.
    const content = '{"choices":[{"message":{"content":"my \\"usage\\": {\\"prompt_tokens\\": 999}"}}]}';
    expect(usageIn(content)).toEqual({ input: null, output: null });
    // Embeddings: input only.
    expect(usageIn('{"data":[],"usage":{"prompt_tokens":4,"total_tokens":4}}')).toEqual({ input: 4, output: null });
  });
});
