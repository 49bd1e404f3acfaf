const USAGE_KEY = '"usage"';
const PROMPT_TOKENS = /"prompt_tokens"\s*:\s*(\d+)/;
const COMPLETION_TOKENS = /"completion_tokens"\s*:\s*(\d+)/;

export interface TokenCounts {
  input: number | null;
  output: number | null;
}

/**
 * The token counts of vLLM's `usage` object in a JSON answer or a stream's usage chunk, read from the text after the
 * last `"usage"` key (vLLM writes usage last), without parsing the whole body. Nulls when there is none.
 */
export function usageIn(text: string | Buffer): TokenCounts {
  const at = text.lastIndexOf(USAGE_KEY);
  if (at === -1) return { input: null, output: null };
  // Only the tail becomes a string: a JSON answer's body is not copied whole.
  const tail = typeof text === 'string' ? text.slice(at) : text.toString('latin1', at);
  return { input: intMatch(PROMPT_TOKENS.exec(tail)), output: intMatch(COMPLETION_TOKENS.exec(tail)) };
}

function intMatch(match: RegExpExecArray | null): number | null {
  const value = match?.[1];
  return value === undefined ? null : Number(value);
}
