/** What an API key may do: `chat` covers the /v1 OpenAI routes and the key's own conversations; `configs` adds
 * creating, updating and deleting LLM configs. */
export type ApiKeyScope = 'chat' | 'configs';

export const API_KEY_SCOPES: readonly ApiKeyScope[] = ['chat', 'configs'];

/**
 * Who a request acts for, as the global guard established it.
 * - anonymous: authentication is off; everything is shared.
 * - api-key: a client key; `owner` is the stable identity its conversations are filed under (a database key's id,
 *   or a digest prefix for a static `API_KEY`), never the key itself.
 * - admin: a valid admin JWT; sees everything.
 */
export type Principal =
  | { readonly kind: 'anonymous' }
  | {
      readonly kind: 'api-key';
      readonly keyId: string | null;
      readonly owner: string;
      readonly scopes: readonly ApiKeyScope[];
    }
  | { readonly kind: 'admin'; readonly username: string };

export const ANONYMOUS: Principal = { kind: 'anonymous' };

/**
 * The owner a principal's reads and writes of conversations are restricted to; null when it sees everything
 * (admin, or authentication off).
 */
export function ownerScope(principal: Principal | undefined): string | null {
  return principal?.kind === 'api-key' ? principal.owner : null;
}
