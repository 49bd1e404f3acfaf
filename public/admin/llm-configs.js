import { api } from './api.js';
import { field, formatTime, h } from './dom.js';
import { badge, busy, confirmedDelete, listPage, notify, openModal, table } from './ui.js';

/**
 * LLM configs: the list, and create / edit / delete through a dialog. The body has the same fields as
 * /v1/llm-configs; an emptied field is sent as null, which clears it.
 * @param {HTMLElement} container
 */
export function renderLlmConfigs(container) {
  const load = listPage(
    container,
    {
      title: 'LLM configs',
      intro: 'Named settings a chat request selects with llm_config_id; fields the request sets itself win.',
      createLabel: 'New config',
      onCreate: (reload) => openEditor(null, reload),
    },
    async () => {
      const list = await api('GET', '/admin/llm-configs');
      const rows = (list?.data ?? []).map((c) =>
        h(
          'tr',
          { dataset: { name: c.name } },
          h('td', {}, h('strong', { text: c.name }), c.is_default ? [' ', badge('default', 'blue')] : null),
          c.model ? h('td', { class: 'mono', text: c.model }) : h('td', { class: 'muted', text: '—' }),
          h('td', { class: 'num', text: c.temperature ?? '—' }),
          h('td', { class: 'num', text: c.top_p ?? '—' }),
          h('td', { class: 'num', text: c.max_tokens ?? '—' }),
          h('td', { class: 'truncate', title: c.system_prompt ?? null, text: c.system_prompt ?? '—' }),
          h('td', { class: 'nowrap', text: formatTime(c.updated_at) }),
          h(
            'td',
            { class: 'actions' },
            h(
              'button',
              {
                type: 'button',
                class: 'button button-small',
                'aria-label': `Edit ${c.name}`,
                onClick: () => openEditor(c, load),
              },
              'Edit',
            ),
            h(
              'button',
              {
                type: 'button',
                class: 'button button-small button-danger',
                'aria-label': `Delete ${c.name}`,
                onClick: (event) => remove(c, event.currentTarget),
              },
              'Delete',
            ),
          ),
        ),
      );
      return table(
        [
          { label: 'Name' },
          { label: 'Model' },
          { label: 'Temperature', class: 'num' },
          { label: 'Top p', class: 'num' },
          { label: 'Max tokens', class: 'num' },
          { label: 'System prompt' },
          { label: 'Updated' },
          { label: '', class: 'actions' },
        ],
        rows,
        'No LLM configs yet. Create one to give chat requests shared defaults.',
      );
    },
  );

  const remove = (config, button) =>
    confirmedDelete(
      button,
      {
        title: `Delete “${config.name}”?`,
        message: 'Conversations using it keep their messages; new turns no longer get its settings.',
        confirmLabel: 'Delete',
        path: `/admin/llm-configs/${encodeURIComponent(config.id)}`,
        done: `Config “${config.name}” deleted.`,
      },
      load,
    );
}

const text = (value) => (value === null || value === undefined ? '' : String(value));

/**
 * The create / edit dialog. Editing sends only the fields that changed.
 * @param {Record<string, unknown> | null} config the config to edit, or null to create one
 * @param {() => Promise<void>} reload
 */
function openEditor(config, reload) {
  const inputs = {
    name: h('input', {
      name: 'name',
      required: true,
      maxlength: '128',
      value: text(config?.name),
      autocomplete: 'off',
    }),
    model: h('input', {
      name: 'model',
      value: text(config?.model),
      placeholder: 'as the request names it',
      autocomplete: 'off',
    }),
    temperature: h('input', {
      name: 'temperature',
      type: 'number',
      min: '0',
      max: '2',
      step: 'any',
      value: text(config?.temperature),
    }),
    top_p: h('input', { name: 'top_p', type: 'number', min: '0', max: '1', step: 'any', value: text(config?.top_p) }),
    max_tokens: h('input', {
      name: 'max_tokens',
      type: 'number',
      min: '1',
      step: '1',
      value: text(config?.max_tokens),
    }),
    system_prompt: h('textarea', { name: 'system_prompt', rows: '4' }),
    extra_params: h('textarea', { name: 'extra_params', rows: '2', class: 'mono', placeholder: '{"top_k": 40}' }),
    is_default: h('input', { name: 'is_default', type: 'checkbox', checked: config?.is_default === true }),
  };
  // Set as properties: a textarea's value is its content, not an attribute.
  inputs.system_prompt.value = text(config?.system_prompt);
  const extra = config?.extra_params;
  inputs.extra_params.value = extra && Object.keys(extra).length > 0 ? JSON.stringify(extra, null, 2) : '';

  const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const submit = h(
    'button',
    { type: 'submit', class: 'button button-primary' },
    config ? 'Save changes' : 'Create config',
  );
  const form = h(
    'form',
    { class: 'form', novalidate: true },
    h('div', { class: 'field-row field-row-2' }, field('Name', inputs.name), field('Model', inputs.model)),
    h(
      'div',
      { class: 'field-row' },
      field('Temperature', inputs.temperature),
      field('Top p', inputs.top_p),
      field('Max tokens', inputs.max_tokens),
    ),
    field('System prompt', inputs.system_prompt, 'May use {{name}} placeholders, filled from prompt_variables'),
    field(
      'Extra parameters (JSON)',
      inputs.extra_params,
      'Other vLLM request fields, e.g. top_k or repetition_penalty',
    ),
    h('label', { class: 'checkbox' }, inputs.is_default, ' Default config (used when a request names none)'),
    error,
    h(
      'div',
      { class: 'modal-actions' },
      h('button', { type: 'button', class: 'button', onClick: () => modal.close() }, 'Cancel'),
      submit,
    ),
  );
  const modal = openModal(config ? `Edit “${config.name}”` : 'New LLM config', form);

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.hidden = true;
    let body;
    try {
      body = readForm(inputs);
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
      return;
    }
    if (config) {
      for (const key of Object.keys(body)) {
        const before = key === 'extra_params' ? (config.extra_params ?? {}) : (config[key] ?? null);
        if (JSON.stringify(before) === JSON.stringify(body[key])) delete body[key];
      }
    } else {
      // A new config leaves out what is unset, so the server's defaults apply.
      for (const key of Object.keys(body)) {
        const value = body[key];
        if (value === null || value === false || (key === 'extra_params' && Object.keys(value).length === 0))
          delete body[key];
      }
    }
    try {
      await busy(submit, () =>
        config
          ? api('PATCH', `/admin/llm-configs/${encodeURIComponent(config.id)}`, body)
          : api('POST', '/admin/llm-configs', body),
      );
      modal.close();
      notify(config ? `Config “${body.name ?? config.name}” saved.` : `Config “${body.name}” created.`);
      await reload();
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    }
  });
  inputs.name.focus();
}

/** The form as an API body; throws with a message for the user when a field cannot be read. */
function readForm(inputs) {
  const name = inputs.name.value.trim();
  if (name === '') throw new Error('A name is required.');
  const number = (input, label) => {
    if (input.value.trim() === '') return null;
    const value = Number(input.value);
    if (!Number.isFinite(value)) throw new Error(`${label} must be a number.`);
    return value;
  };
  let extraParams = {};
  const extraText = inputs.extra_params.value.trim();
  if (extraText !== '') {
    try {
      extraParams = JSON.parse(extraText);
    } catch {
      throw new Error('Extra parameters must be valid JSON, e.g. {"top_k": 40}.');
    }
    if (extraParams === null || typeof extraParams !== 'object' || Array.isArray(extraParams)) {
      throw new Error('Extra parameters must be a JSON object.');
    }
  }
  return {
    name,
    model: inputs.model.value.trim() === '' ? null : inputs.model.value.trim(),
    temperature: number(inputs.temperature, 'Temperature'),
    top_p: number(inputs.top_p, 'Top p'),
    max_tokens: number(inputs.max_tokens, 'Max tokens'),
    system_prompt: inputs.system_prompt.value === '' ? null : inputs.system_prompt.value,
    extra_params: extraParams,
    is_default: inputs.is_default.checked,
  };
}
