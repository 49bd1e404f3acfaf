import { describe, expect, it } from '@jest/globals';
import { AppError } from '../common/errors/app-error.js';
import { renderPromptTemplate } from './prompt-template.js';

describe('renderPromptTemplate', () => {
  it('fills every placeholder, spaces inside the braces allowed', () => {
    const text = renderPromptTemplate('You help {{ user }} with {{product}}; {{user}} pays {{price}}.', {
      user: 'Ada',
      product: 'Gateway',
      price: 12.5,
    });
    expect(text).toBe('You help Ada with Gateway; Ada pays 12.5.');
  });

  it('leaves a prompt without placeholders as it is, variables or not', () => {
    expect(renderPromptTemplate('Be brief. {not a placeholder}', undefined)).toBe('Be brief. {not a placeholder}');
  });

  it('rejects a missing variable with a 400 naming it', () => {
    let caught: unknown;
    try {
      renderPromptTemplate('Hello {{name}}', { other: 'x' });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(AppError);
    expect(caught).toMatchObject({ code: 'bad_request', param: 'prompt_variables.name' });
  });

  it('rejects a value with no text form', () => {
    expect(() => renderPromptTemplate('{{list}}', { list: ['a'] })).toThrow(
      expect.objectContaining({ param: 'prompt_variables.list' }),
    );
  });

  it('does not read inherited properties as variables', () => {
    expect(() => renderPromptTemplate('{{constructor}}', {})).toThrow(
      expect.objectContaining({ param: 'prompt_variables.constructor' }),
    );
  });
});
