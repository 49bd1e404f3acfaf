/** Most distinct model labels; vLLM deployments serve a handful of names, so a larger list is not worth a series. */
const MAX_MODELS = 32;

/** A request that names no model gets vLLM's default one; the label says so rather than guessing which. */
export const UNSPECIFIED_MODEL = 'unspecified';
/** Any name the upstreams do not serve: clients choose model names, so they cannot become label values. */
export const OTHER_MODEL = 'other';

/**
 * The bounded set of `gen_ai_request_model` values: the names the upstreams serve, learnt from the completions they
 * answered (vLLM refuses a model it does not serve, so a client cannot add a name by asking for it), at most 32,
 * plus `unspecified` and `other`. A lookup is one Set probe on the request's model.
 */
export class ModelLabels {
  private readonly known = new Set<string>();

  /** Records a model an upstream answered for; past the bound, names stay `other`. */
  learn(model: string | undefined): void {
    if (model !== undefined && this.known.size < MAX_MODELS) this.known.add(model);
  }

  label(model: string | undefined): string {
    if (model === undefined) return UNSPECIFIED_MODEL;
    return this.known.has(model) ? model : OTHER_MODEL;
  }
}
