/** A parsed JSON object, as request bodies and vLLM's answers are handled: fields read one by one, never trusted. */
export type JsonObject = Record<string, unknown>;

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
