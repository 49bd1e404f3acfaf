/**
 * The gateway's own fields on an OpenAI chat request. vLLM would ignore them, but they are ours (conversation and
 * config resolution), so they never go upstream; an LLM config's `extra_params` may not name them either.
 */
export const EXTENSION_FIELDS = ['conversation_id', 'llm_config_id', 'prompt_variables'] as const;
