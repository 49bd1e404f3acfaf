import { AppError } from '../common/errors/app-error.js';

/** `{{name}}`, spaces inside the braces allowed; names are identifiers so they also read well as `param` paths. */
const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

export type PromptVariables = Readonly<Record<string, unknown>>;

/**
 * Fills a system prompt's `{{name}}` placeholders from the chat request's `prompt_variables`. A missing variable is
 * the client's error (400 naming it), never an empty string silently sent to the model. Strings, numbers and booleans
 * are accepted; anything else has no obvious text form and is rejected.
 */
export function renderPromptTemplate(template: string, variables: PromptVariables | undefined): string {
  if (!template.includes('{{')) return template;
  return template.replace(PLACEHOLDER, (_match, name: string) => {
    const param = `prompt_variables.${name}`;
    const value = variables !== undefined && Object.hasOwn(variables, name) ? variables[name] : undefined;
    if (value === undefined || value === null) {
      throw new AppError('bad_request', `The system prompt needs the variable '${name}': set ${param}`, { param });
    }
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    throw new AppError('bad_request', `'${param}' must be a string, a number or a boolean`, { param });
  });
}
