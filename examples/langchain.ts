/**
 * LangChain's ChatOpenAI against the gateway, unchanged: the gateway speaks OpenAI's API, so only `baseURL` and the
 * key differ from calling OpenAI. Shows a plain call, a streamed one, and a stored conversation, where the gateway
 * keeps the history and each turn sends only its new message (`conversation_id`, passed through `modelKwargs`).
 *
 *   npx tsx examples/langchain.ts                                  # against `npm start` (auth off)
 *   GATEWAY_URL=https://gw.example API_KEY=sk-gw-… MODEL=qwen2.5-7b npx tsx examples/langchain.ts
 *
 * test/e2e/langchain.e2e-spec.ts runs these same functions against the gateway and the vLLM simulator.
 */
import type { AIMessage } from '@langchain/core/messages';
import { ChatOpenAI } from '@langchain/openai';
import { fileURLToPath } from 'node:url';

export interface Gateway {
  /** The gateway's origin, e.g. http://localhost:8080 (the OpenAI routes are under /v1). */
  url: string;
  /** A client key; any string when the gateway runs with ENABLE_AUTH=false. */
  apiKey: string;
  /** The model name vLLM serves (its --served-model-name). */
  model: string;
}

export interface ModelOptions {
  streaming?: boolean;
  temperature?: number;
  /** Fields ChatOpenAI does not know, sent as they are: vLLM's sampling extras, or the gateway's conversation_id. */
  modelKwargs?: Record<string, unknown>;
}

export function gatewayModel(gateway: Gateway, options: ModelOptions = {}): ChatOpenAI {
  return new ChatOpenAI({
    model: gateway.model,
    apiKey: gateway.apiKey,
    // A failed call is reported at once instead of being retried behind the caller's back.
    maxRetries: 0,
    configuration: { baseURL: `${gateway.url}/v1` },
    ...options,
  });
}

/** One request, one reply. */
export async function invokeOnce(gateway: Gateway, question: string, options: ModelOptions = {}): Promise<AIMessage> {
  return gatewayModel(gateway, options).invoke([
    ['system', 'Repeat after me.'],
    ['human', question],
  ]);
}

/** A streamed reply: `onToken` sees each piece of text as the gateway relays it. Resolves with all the pieces. */
export async function streamReply(
  gateway: Gateway,
  prompt: string,
  onToken: (text: string) => void = () => undefined,
): Promise<string[]> {
  const pieces: string[] = [];
  for await (const chunk of await gatewayModel(gateway, { streaming: true }).stream(prompt)) {
    if (typeof chunk.content === 'string' && chunk.content !== '') {
      pieces.push(chunk.content);
      onToken(chunk.content);
    }
  }
  return pieces;
}

/** Creates a stored conversation (`POST /v1/conversations`, a gateway route with no LangChain counterpart). */
export async function createConversation(gateway: Gateway, title: string): Promise<string> {
  const res = await fetch(`${gateway.url}/v1/conversations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${gateway.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ title }),
  });
  if (!res.ok) throw new Error(`POST /v1/conversations answered ${res.status}: ${await res.text()}`);
  const body = (await res.json()) as { id: string };
  return body.id;
}

/**
 * A multi-turn conversation whose history lives in the gateway: every turn sends only the new question, and the
 * gateway puts the stored turns before it. Resolves with the conversation's id and each reply's text.
 */
export async function converse(
  gateway: Gateway,
  questions: readonly string[],
): Promise<{ conversationId: string; replies: string[] }> {
  const conversationId = await createConversation(gateway, 'LangChain example');
  const model = gatewayModel(gateway, { modelKwargs: { conversation_id: conversationId } });
  const replies: string[] = [];
  for (const question of questions) {
    const reply = await model.invoke([['human', question]]);
    replies.push(reply.text);
  }
  return { conversationId, replies };
}

async function main(): Promise<void> {
  const gateway: Gateway = {
    url: process.env.GATEWAY_URL ?? 'http://localhost:8080',
    apiKey: process.env.API_KEY ?? 'not-needed-when-auth-is-off',
    model: process.env.MODEL ?? 'sim-model',
  };
  const reply = await invokeOnce(gateway, 'Hello from LangChain');
  console.log(`invoke: ${reply.text} (${reply.usage_metadata?.output_tokens ?? '?'} output tokens)`);

  process.stdout.write('stream: ');
  await streamReply(gateway, 'tokens arrive one by one', (text) => process.stdout.write(text));
  process.stdout.write('\n');

  const { conversationId, replies } = await converse(gateway, ['My name is Ada.', 'What is my name?']);
  console.log(`conversation ${conversationId}:`);
  for (const text of replies) console.log(`  ${text}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
