import { api } from './api.js';
import { field, formatTime, h, timeMs } from './dom.js';
import { badge, busy, confirmedDelete, listPage, openModal, table } from './ui.js';

const SCOPES = [
  { value: 'chat', label: 'chat', hint: 'the /v1 OpenAI routes, its own conversations, reading configs' },
  { value: 'configs', label: 'configs', hint: 'also create, change and delete /v1/llm-configs' },
];

/** "60/min · 4 at once", or "none": the key's own limits, per gateway process. */
function limitsText(key) {
  const parts = [];
  if (key.rate_limit_rpm != null) parts.push(`${key.rate_limit_rpm}/min`);
  if (key.max_concurrent != null) parts.push(`${key.max_concurrent} at once`);
  return parts.length === 0 ? 'none' : parts.join(' · ');
}

/** An optional whole number of at least 1 and at most max; '' is "no limit" (undefined), anything else an error. */
function optionalLimit(input, max) {
  const raw = input.value.trim();
  if (raw === '') return { value: undefined };
  const value = Number(raw);
  return Number.isInteger(value) && value >= 1 && value <= max ? { value } : { error: true };
}

function keyState(key) {
  if (key.revoked_at) return { label: 'revoked', tone: 'red' };
  const expires = timeMs(key.expires_at);
  if (expires !== null && expires <= Date.now()) return { label: 'expired', tone: 'amber' };
  return { label: 'active', tone: 'green' };
}

/**
 * Client API keys: the list (never with secrets), create (the secret is shown once), revoke (the row stays, so the
 * key's name and last use remain visible).
 * @param {HTMLElement} container
 */
export function renderApiKeys(container) {
  const load = listPage(
    container,
    {
      title: 'API keys',
      intro: 'Keys clients send as Authorization: Bearer <key> on /v1. Only a prefix is stored in readable form.',
      createLabel: 'New API key',
      onCreate: openCreate,
    },
    async () => {
      const list = await api('GET', '/admin/api-keys');
      const rows = (list?.data ?? []).map((k) => {
        const state = keyState(k);
        return h(
          'tr',
          { dataset: { name: k.name, state: state.label } },
          h('td', {}, h('strong', { text: k.name })),
          h('td', { class: 'mono', text: k.prefix ? `${k.prefix}…` : '—' }),
          h(
            'td',
            {},
            (k.scopes ?? []).map((s) => badge(s, 'grey')),
          ),
          h('td', {}, badge(state.label, state.tone)),
          h('td', { class: 'nowrap', text: limitsText(k) }),
          h('td', { class: 'nowrap', text: formatTime(k.created_at) }),
          h('td', { class: 'nowrap', text: k.expires_at ? formatTime(k.expires_at) : 'never' }),
          h('td', { class: 'nowrap', text: k.last_used_at ? formatTime(k.last_used_at) : 'never' }),
          h(
            'td',
            { class: 'actions' },
            k.revoked_at
              ? h('span', { class: 'muted', text: `revoked ${formatTime(k.revoked_at)}` })
              : h(
                  'button',
                  {
                    type: 'button',
                    class: 'button button-small button-danger',
                    'aria-label': `Revoke ${k.name}`,
                    onClick: (event) => revoke(k, event.currentTarget),
                  },
                  'Revoke',
                ),
          ),
        );
      });
      return table(
        [
          { label: 'Name' },
          { label: 'Key' },
          { label: 'Scopes' },
          { label: 'State' },
          { label: 'Limits' },
          { label: 'Created' },
          { label: 'Expires' },
          { label: 'Last used' },
          { label: '', class: 'actions' },
        ],
        rows,
        'No API keys yet.',
      );
    },
  );

  const revoke = (key, button) =>
    confirmedDelete(
      button,
      {
        title: `Revoke “${key.name}”?`,
        message: 'Clients using this key are refused from now on. This cannot be undone.',
        confirmLabel: 'Revoke key',
        path: `/admin/api-keys/${encodeURIComponent(key.id)}`,
        done: `Key “${key.name}” revoked.`,
      },
      load,
    );
}

/** @param {() => Promise<void>} reload */
function openCreate(reload) {
  const name = h('input', {
    name: 'name',
    required: true,
    maxlength: '128',
    autocomplete: 'off',
    placeholder: 'e.g. billing-service',
  });
  const scopeBoxes = SCOPES.map((s) => ({
    value: s.value,
    input: h('input', { type: 'checkbox', name: 'scopes', value: s.value, checked: s.value === 'chat' }),
    hint: s.hint,
  }));
  const expires = h('input', { name: 'expires_at', type: 'datetime-local' });
  const limitInput = (name, max) =>
    h('input', { name, type: 'number', min: '1', max: String(max), step: '1', inputmode: 'numeric' });
  const rpm = limitInput('rate_limit_rpm', 1_000_000);
  const concurrent = limitInput('max_concurrent', 100_000);
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit', class: 'button button-primary' }, 'Create key');
  const form = h(
    'form',
    { class: 'form', novalidate: true },
    field('Name', name),
    h(
      'fieldset',
      { class: 'field' },
      h('legend', { class: 'field-label', text: 'Scopes' }),
      scopeBoxes.map((s) =>
        h(
          'label',
          { class: 'checkbox' },
          s.input,
          ' ',
          h('span', { class: 'mono', text: s.value }),
          h('span', { class: 'field-hint', text: ` — ${s.hint}` }),
        ),
      ),
    ),
    field('Expires', expires, 'Optional; empty means the key does not expire'),
    field('Requests per minute', rpm, 'Optional; over it clients get 429 with Retry-After. Empty: no limit'),
    field('Concurrent requests', concurrent, 'Optional; streams count until they end. Empty: no limit'),
    error,
    h(
      'div',
      { class: 'modal-actions' },
      h('button', { type: 'button', class: 'button', onClick: () => modal.close() }, 'Cancel'),
      submit,
    ),
  );
  const modal = openModal('New API key', form);
  name.focus();

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.hidden = true;
    const body = { name: name.value.trim(), scopes: scopeBoxes.filter((s) => s.input.checked).map((s) => s.value) };
    const fail = (message) => {
      error.textContent = message;
      error.hidden = false;
    };
    if (body.name === '') return fail('A name is required.');
    if (body.scopes.length === 0) return fail('Choose at least one scope.');
    if (expires.value !== '') {
      const at = new Date(expires.value).getTime();
      if (Number.isNaN(at) || at <= Date.now()) return fail('The expiry must be in the future.');
      body.expires_at = Math.floor(at / 1000);
    }
    const rpmLimit = optionalLimit(rpm, 1_000_000);
    if (rpmLimit.error) return fail('Requests per minute must be a whole number from 1 to 1,000,000, or empty.');
    if (rpmLimit.value !== undefined) body.rate_limit_rpm = rpmLimit.value;
    const concurrentLimit = optionalLimit(concurrent, 100_000);
    if (concurrentLimit.error) return fail('Concurrent requests must be a whole number from 1 to 100,000, or empty.');
    if (concurrentLimit.value !== undefined) body.max_concurrent = concurrentLimit.value;
    try {
      const created = await busy(submit, () => api('POST', '/admin/api-keys', body));
      showSecret(modal, created);
      void reload();
    } catch (err) {
      fail(err.message);
    }
  });
}

/** Swaps the form for the new key: the only time its secret is ever on screen. */
function showSecret(modal, created) {
  const secret = h('input', {
    class: 'secret mono',
    readonly: true,
    value: created.key,
    'aria-label': 'Secret key',
    spellcheck: 'false',
  });
  const copied = h('span', { class: 'copied', role: 'status' });
  const copy = h(
    'button',
    {
      type: 'button',
      class: 'button button-primary',
      onClick: async () => {
        copied.textContent = (await copyText(secret))
          ? 'Copied to the clipboard.'
          : 'Select the key and copy it by hand.';
      },
    },
    'Copy',
  );
  modal.dialog.querySelector('form')?.remove();
  modal.dialog.querySelector('.modal-title').textContent = `API key “${created.name}” created`;
  modal.dialog.append(
    h('p', { class: 'warning', text: 'Copy this key now: it is not shown again. Only its prefix is kept readable.' }),
    h('div', { class: 'secret-row' }, secret, copy),
    copied,
    h(
      'div',
      { class: 'modal-actions' },
      h('button', { type: 'button', class: 'button', onClick: () => modal.close() }, 'Done'),
    ),
  );
  secret.select();
  copy.focus();
}

/** The Clipboard API needs a secure context (https or localhost); plain http elsewhere falls back to execCommand. */
async function copyText(input) {
  try {
    await navigator.clipboard.writeText(input.value);
    return true;
  } catch {
    input.select();
    return document.execCommand('copy');
  }
}
