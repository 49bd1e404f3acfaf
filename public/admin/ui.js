import { api, ApiError } from './api.js';
import { h, replace } from './dom.js';

/**
 * A short notice in the corner; errors stay until dismissed, successes fade after a few seconds.
 * @param {string} message
 * @param {'success' | 'error'} [kind]
 */
export function notify(message, kind = 'success') {
  const region = document.getElementById('toasts');
  if (region === null) return;
  const toast = h(
    'div',
    { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : null },
    h('span', { text: message }),
    h('button', { type: 'button', class: 'toast-close', 'aria-label': 'Dismiss', onClick: () => toast.remove() }, '×'),
  );
  region.append(toast);
  // Quick successive actions would otherwise stack notices up the screen; the newest few are enough.
  while (region.childElementCount > 3) region.firstElementChild?.remove();
  if (kind === 'success') setTimeout(() => toast.remove(), 4000);
}

/**
 * Opens a modal dialog; it is removed from the page when closed (Escape, a Cancel button, or `close()`).
 * @param {string} title
 * @param {...(Node | string | null | false)} content
 */
export function openModal(title, ...content) {
  const dialog = h(
    'dialog',
    { class: 'modal', 'aria-labelledby': 'modal-title' },
    h('h2', { id: 'modal-title', class: 'modal-title', text: title }),
    ...content,
  );
  dialog.addEventListener('close', () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  return { dialog, close: () => dialog.close() };
}

/**
 * Asks before a destructive action.
 * @param {{ title: string, message: string, confirmLabel: string }} options
 * @returns {Promise<boolean>}
 */
export function confirmAction({ title, message, confirmLabel }) {
  return new Promise((resolve) => {
    let confirmed = false;
    const { dialog, close } = openModal(
      title,
      h('p', { class: 'modal-text', text: message }),
      h(
        'div',
        { class: 'modal-actions' },
        h('button', { type: 'button', class: 'button', onClick: () => close() }, 'Cancel'),
        h(
          'button',
          {
            type: 'button',
            class: 'button button-danger',
            onClick: () => {
              confirmed = true;
              close();
            },
          },
          confirmLabel,
        ),
      ),
    );
    dialog.addEventListener('close', () => resolve(confirmed));
  });
}

/** A table, or a line saying there is nothing to show. */
export function table(columns, rows, emptyText) {
  if (rows.length === 0) return h('p', { class: 'empty', text: emptyText });
  return h(
    'table',
    { class: 'table' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        columns.map((c) => h('th', { scope: 'col', class: c.class ?? null, text: c.label })),
      ),
    ),
    h('tbody', {}, rows),
  );
}

/** A small coloured label, e.g. a message status or a key's state. */
export function badge(text, tone) {
  return h('span', { class: `badge badge-${tone}`, text });
}

/** Sets a button busy while `work` runs, so a double click does not send twice. */
export async function busy(button, work) {
  button.disabled = true;
  try {
    return await work();
  } finally {
    button.disabled = false;
  }
}

/** A failed load as a line in the view; after a 401 the user is already on the login page. */
export function loadFailed(container, err) {
  if (err instanceof ApiError && err.status === 401) return;
  replace(
    container,
    h('p', { class: 'load-error', role: 'alert', text: err instanceof Error ? err.message : String(err) }),
  );
}

/** A failed action as an error notice, except a 401 (the login page says why). */
export function actionFailed(err) {
  if (err instanceof ApiError && err.status === 401) return;
  notify(err instanceof Error ? err.message : String(err), 'error');
}

/**
 * Asks first, then sends the DELETE with the button busy; `then` runs once it succeeded (reload a list, leave a page).
 * @param {HTMLButtonElement} button
 * @param {{ title: string, message: string, confirmLabel: string, path: string, done: string }} action
 * @param {() => unknown} then
 */
export async function confirmedDelete(button, { title, message, confirmLabel, path, done }, then) {
  if (!(await confirmAction({ title, message, confirmLabel }))) return;
  try {
    await busy(button, () => api('DELETE', path));
    notify(done);
    await then();
  } catch (err) {
    actionFailed(err);
  }
}

/**
 * A list page: a heading with its create button, a line of explanation, and a card that `draw` fills. The returned
 * reload runs `draw` again (after a change); a failed load shows its error in the card.
 * @param {HTMLElement} container
 * @param {{ title: string, intro: string, createLabel: string, onCreate: (reload: () => Promise<void>) => void }} page
 * @param {() => Promise<Node>} draw
 * @returns {() => Promise<void>}
 */
export function listPage(container, { title, intro, createLabel, onCreate }, draw) {
  const results = h('div', { class: 'card' }, h('p', { class: 'loading', text: 'Loading…' }));
  const reload = async () => {
    try {
      replace(results, await draw());
    } catch (err) {
      loadFailed(results, err);
    }
  };
  replace(
    container,
    h(
      'div',
      { class: 'view-header' },
      h('h1', { text: title }),
      h('button', { type: 'button', class: 'button button-primary', onClick: () => onCreate(reload) }, createLabel),
    ),
    h('p', { class: 'view-intro', text: intro }),
    results,
  );
  void reload();
  return reload;
}
