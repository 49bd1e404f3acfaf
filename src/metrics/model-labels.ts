/** Most distinct model labels; vLLM deployments serve a handful of names, so a larger list is not worth a series. */
const MAX_MODELS = 32;

/** A request that names no model gets vLLM's default one; the label says so rather than guessing which. */
export const UNSPECIFIED_MODEL = 'unspecified';
/** Any name the upstreams do not serve: clients choose model names, so they cannot become label values. */
export const OTHER_MODEL = 'other';

/**
 * The bounded set of `gen_ai_request_model` values: the names the upstreams serve (from their `/v1/models`), plus
 * `unspecified` and `other`. A lookup is one Set probe on the request's model.
 */
export class ModelLabels {
  private known: ReadonlySet<string> = new Set();

  replace(models: readonly string[]): void {
    this.known = new Set(models.slice(0, MAX_MODELS));
  }

  label(model: string | undefined): string {
    if (model === undefined) return UNSPECIFIED_MODEL;
    return this.known.has(model) ? model : OTHER_MODEL;
  }
}
