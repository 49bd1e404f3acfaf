// A deterministic toy tokenizer. Real vocabularies are irrelevant to the gateway; what matters is that counts are
// stable, that /tokenize agrees with usage.prompt_tokens, and that token strings concatenate back to the text.

// A token is a run of word characters or a single other character, each with its leading whitespace; trailing
// whitespace is a token of its own. Every character is matched by one alternative, so the split is lossless.
const TOKEN_RE = /\s*[\p{L}\p{M}\p{N}_]+|\s*[^\s\p{L}\p{M}\p{N}_]|\s+/gu;

export const BOS = '<|begin_of_text|>';
export const IM_START = '<|im_start|>';
export const IM_END = '<|im_end|>';
const SPECIAL_TOKENS = [BOS, IM_START, IM_END] as const;
const SPECIAL_IDS = new Map<string, number>(SPECIAL_TOKENS.map((t, i) => [t, i + 1]));

// Tokens around each chat message: <|im_start|> role "\n" ... <|im_end|> "\n".
export const CHAT_MESSAGE_OVERHEAD = 5;
// The generation prompt: <|im_start|> assistant "\n".
export const CHAT_GENERATION_PROMPT_TOKENS = 3;

const FIRST_REGULAR_ID = 1000;
const ID_SPACE = 16_000_000;
// The reverse map only serves /detokenize; bounded so a long benchmark cannot grow it without limit.
const MAX_REMEMBERED_IDS = 200_000;
const idToToken = new Map<number, string>(SPECIAL_TOKENS.map((t, i) => [i + 1, t]));

export function splitTokens(text: string): string[] {
  return text.match(TOKEN_RE) ?? [];
}

export function countTokens(text: string): number {
  if (text.length === 0) return 0;
  TOKEN_RE.lastIndex = 0;
  let n = 0;
  while (TOKEN_RE.exec(text) !== null) n++;
  return n;
}

export function fnv1a(text: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

export function tokenId(token: string): number {
  const special = SPECIAL_IDS.get(token);
  if (special !== undefined) return special;
  const id = FIRST_REGULAR_ID + (fnv1a(token) % ID_SPACE);
  if (idToToken.size < MAX_REMEMBERED_IDS && !idToToken.has(id)) idToToken.set(id, token);
  return id;
}

/** The token string for an id this process has produced, or undefined. */
export function tokenForId(id: number): string | undefined {
  return idToToken.get(id);
}

export interface ChatMessageLike {
  role: string;
  text: string;
}

/** Text of a chat message's content: a string, or the text parts of a content array (other parts count as none). */
export function messageText(message: unknown): string {
  if (typeof message !== 'object' || message === null) return '';
  const { content, tool_calls: toolCalls } = message as { content?: unknown; tool_calls?: unknown };
  let text = '';
  if (typeof content === 'string') text = content;
  else if (Array.isArray(content)) {
    for (const part of content) {
      if (typeof part === 'object' && part !== null) {
        const t = (part as { text?: unknown }).text;
        if (typeof t === 'string') text += t;
      }
    }
  }
  // Assistant tool calls are rendered into the prompt by real chat templates, so they cost tokens here too.
  if (Array.isArray(toolCalls) && toolCalls.length > 0) text += JSON.stringify(toolCalls);
  return text;
}

export function messageRole(message: unknown): string {
  if (typeof message !== 'object' || message === null) return '';
  const role = (message as { role?: unknown }).role;
  return typeof role === 'string' ? role : '';
}

export interface ChatTemplateInput {
  messages: readonly unknown[];
  tools?: unknown;
  addGenerationPrompt: boolean;
}

function toolsText(tools: unknown): string {
  return Array.isArray(tools) && tools.length > 0 ? JSON.stringify(tools) : '';
}

/** Token count of the rendered chat prompt; equal to chatPromptTokens(...).length without building the array. */
export function chatPromptTokenCount(input: ChatTemplateInput): number {
  let n = 0;
  const tools = toolsText(input.tools);
  if (tools) n += CHAT_MESSAGE_OVERHEAD + countTokens(tools);
  for (const m of input.messages) n += CHAT_MESSAGE_OVERHEAD + countTokens(messageText(m));
  if (input.addGenerationPrompt) n += CHAT_GENERATION_PROMPT_TOKENS;
  return n;
}

/** Token strings of the rendered chat prompt (ChatML-like template, tools as a leading system block). */
export function chatPromptTokens(input: ChatTemplateInput): string[] {
  const out: string[] = [];
  const push = (role: string, text: string): void => {
    out.push(IM_START, role, '\n', ...splitTokens(text), IM_END, '\n');
  };
  const tools = toolsText(input.tools);
  if (tools) push('system', tools);
  for (const m of input.messages) push(messageRole(m), messageText(m));
  if (input.addGenerationPrompt) out.push(IM_START, 'assistant', '\n');
  return out;
}

/** Token count of a completion prompt; a BOS token is added like real tokenizers do by default. */
export function textPromptTokenCount(text: string, addSpecialTokens = true): number {
  return countTokens(text) + (addSpecialTokens ? 1 : 0);
}

export function textPromptTokens(text: string, addSpecialTokens = true): string[] {
  const tokens = splitTokens(text);
  if (addSpecialTokens) tokens.unshift(BOS);
  return tokens;
}
