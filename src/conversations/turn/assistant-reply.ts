import { isJsonObject, type JsonObject } from '../../common/json.js';
import type { ChatMessage } from '../chat-message.entity.js';

/**
 * What a conversation stores of one assistant reply, from a JSON answer or from the relayed stream; `error` (vLLM's
 * in-stream error report, when the stream carried one) decides the stored status.
 */
export type AssistantReply = Pick<
  ChatMessage,
  'content' | 'reasoning' | 'finishReason' | 'promptTokens' | 'completionTokens' | 'model'
> & { toolCalls: ToolCall[] | null; error: string | null };

export interface ToolCall {
  id?: string;
  type?: string;
  function: { name?: string; arguments: string };
  [field: string]: unknown;
}

const str = (value: unknown): string | null => (typeof value === 'string' ? value : null);
const int = (value: unknown): number | null => (typeof value === 'number' && Number.isInteger(value) ? value : null);

/** Reasoning models: newer vLLM sends `reasoning`, older ones `reasoning_content`, some both (copies). */
function reasoningOf(message: JsonObject): string | null {
  return str(message['reasoning']) ?? str(message['reasoning_content']);
}

/** A non-streamed chat completion, parsed from the bytes the client received. */
export function replyFromCompletion(body: unknown): AssistantReply {
  const reply = emptyReply();
  if (!isJsonObject(body)) return reply;
  reply.model = str(body['model']);
  readUsage(reply, body['usage']);
  const choice: unknown = Array.isArray(body['choices']) ? body['choices'][0] : undefined;
  if (isJsonObject(choice)) {
    reply.finishReason = str(choice['finish_reason']);
    const message = choice['message'];
    if (isJsonObject(message)) {
      reply.content = str(message['content']) ?? '';
      reply.reasoning = reasoningOf(message);
      const calls = message['tool_calls'];
      reply.toolCalls = Array.isArray(calls) && calls.length > 0 ? (calls as ToolCall[]) : null;
    }
  }
  return reply;
}

/**
 * Rebuilds the assistant message from a relayed chat stream, one `data:` payload at a time: content and reasoning
 * deltas appended, tool-call fragments merged by index, the last finish_reason, the usage chunk. Only choice 0 is
 * kept (a conversation turn is n=1). Payloads that are not JSON, `[DONE]` included, are ignored.
 */
export class StreamAccumulator {
  private readonly reply = emptyReply();
  private readonly contentParts: string[] = [];
  private readonly reasoningParts: string[] = [];
  private readonly calls = new Map<number, ToolCall>();

  /** One event's data, as text. */
  push(data: string): void {
    if (data === '[DONE]') return;
    let chunk: unknown;
    try {
      chunk = JSON.parse(data);
    } catch {
      return;
    }
    if (!isJsonObject(chunk)) return;
    const error = chunk['error'];
    if (error !== undefined) {
      this.reply.error = (isJsonObject(error) ? str(error['message']) : str(error)) ?? 'upstream error';
      return;
    }
    this.reply.model ??= str(chunk['model']);
    readUsage(this.reply, chunk['usage']);
    const choices = chunk['choices'];
    if (!Array.isArray(choices)) return;
    for (const choice of choices as unknown[]) {
      if (!isJsonObject(choice) || (choice['index'] ?? 0) !== 0) continue;
      const finish = str(choice['finish_reason']);
      if (finish !== null) this.reply.finishReason = finish;
      const delta = choice['delta'];
      if (!isJsonObject(delta)) continue;
      const content = str(delta['content']);
      if (content !== null && content !== '') this.contentParts.push(content);
      const reasoning = reasoningOf(delta);
      if (reasoning !== null && reasoning !== '') this.reasoningParts.push(reasoning);
      if (Array.isArray(delta['tool_calls'])) this.mergeToolCalls(delta['tool_calls'] as unknown[]);
    }
  }

  result(): AssistantReply {
    const calls = [...this.calls.entries()].sort(([a], [b]) => a - b).map(([, call]) => call);
    return {
      ...this.reply,
      content: this.contentParts.join(''),
      reasoning: this.reasoningParts.length > 0 ? this.reasoningParts.join('') : null,
      toolCalls: calls.length > 0 ? calls : null,
    };
  }

  /** OpenAI streams a tool call as fragments sharing an `index`: id, type and name once, arguments in pieces. */
  private mergeToolCalls(fragments: unknown[]): void {
    for (const fragment of fragments) {
      if (!isJsonObject(fragment)) continue;
      const index = int(fragment['index']) ?? 0;
      let call = this.calls.get(index);
      if (call === undefined) {
        call = { function: { arguments: '' } };
        this.calls.set(index, call);
      }
      const id = str(fragment['id']);
      if (id !== null) call.id = id;
      const type = str(fragment['type']);
      if (type !== null) call.type = type;
      const fn = fragment['function'];
      if (isJsonObject(fn)) {
        const name = str(fn['name']);
        if (name !== null) call.function.name = (call.function.name ?? '') + name;
        const args = str(fn['arguments']);
        if (args !== null) call.function.arguments += args;
      }
    }
  }
}

function emptyReply(): AssistantReply {
  return {
    content: '',
    reasoning: null,
    toolCalls: null,
    finishReason: null,
    promptTokens: null,
    completionTokens: null,
    model: null,
    error: null,
  };
}

function readUsage(reply: AssistantReply, usage: unknown): void {
  if (!isJsonObject(usage)) return;
  reply.promptTokens = int(usage['prompt_tokens']) ?? reply.promptTokens;
  reply.completionTokens = int(usage['completion_tokens']) ?? reply.completionTokens;
}

/**
 * Whether a relayed event is the usage-only chunk (`"choices":[]` plus `usage`) that the gateway asked vLLM for on a
 * client's behalf. Checked on the text first so ordinary chunks cost a substring search, not a JSON parse.
 */
export function isUsageOnlyChunk(data: string): boolean {
  if (!data.includes('"usage"') || !/"choices"\s*:\s*\[\s*\]/.test(data)) return false;
  try {
    const parsed: unknown = JSON.parse(data);
    return (
      isJsonObject(parsed) && Array.isArray(parsed['choices']) && parsed['choices'].length === 0 && 'usage' in parsed
    );
  } catch {
    return false;
  }
}
