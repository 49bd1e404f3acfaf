import {
  api,
  ApiError,
  clearSession,
  loadSession,
  login,
  setUnauthorizedHandler,
  storedSessionExpired,
} from './api.js';
import { renderApiKeys } from './api-keys.js';
import { renderConversation, renderConversations } from './conversations.js';
import { h, field, replace } from './dom.js';
import { renderLlmConfigs } from './llm-configs.js';
import { renderStats } from './stats.js';

const root = document.getElementById('app');
const EXPIRED_NOTICE = 'Your session has expired. Please sign in again.';

const SECTIONS = [
  { path: 'conversations', label: 'Conversations' },
  { path: 'llm-configs', label: 'LLM configs' },
  { path: 'api-keys', label: 'API keys' },
  { path: 'stats', label: 'Usage' },
];

/** Ends the session when the token's lifetime is over, even if the page sits idle. */
let expiryTimer;
/** The shell's nav links and main area while signed in. */
let shell = null;

function signOut(message) {
  clearSession();
  clearTimeout(expiryTimer);
  // An open dialog (a config being edited when the token ran out) would otherwise stay over the login page.
  for (const dialog of document.querySelectorAll('dialog')) dialog.close();
  shell = null;
  showLogin(message);
}

setUnauthorizedHandler(() => signOut(EXPIRED_NOTICE));

function showLogin(notice) {
  document.title = 'Sign in · llm-gateway admin';
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const username = h('input', { name: 'username', autocomplete: 'username', required: true, value: 'admin' });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const submit = h('button', { type: 'submit', class: 'button button-primary button-wide' }, 'Sign in');
  const form = h(
    'form',
    {
      class: 'login-card',
      'aria-labelledby': 'login-title',
      onSubmit: async (event) => {
        event.preventDefault();
        error.hidden = true;
        submit.disabled = true;
        try {
          await login(username.value.trim(), password.value);
          startSession();
        } catch (err) {
          error.textContent = err instanceof ApiError ? err.message : 'Sign-in failed.';
          error.hidden = false;
          password.select();
        } finally {
          submit.disabled = false;
        }
      },
    },
    h(
      'h1',
      { id: 'login-title', class: 'login-title' },
      'llm-gateway ',
      h('span', { class: 'brand-tag', text: 'admin' }),
    ),
    h('p', { class: 'login-subtitle', text: 'Sign in with the gateway’s admin account.' }),
    notice ? h('p', { class: 'form-notice', text: notice }) : null,
    field('Username', username),
    field('Password', password),
    error,
    submit,
  );
  replace(root, h('main', { class: 'login-page' }, form));
  (username.value === '' ? username : password).focus();
}

function armExpiryTimer(expiresAt) {
  clearTimeout(expiryTimer);
  // setTimeout takes at most 2^31-1 ms; a longer-lived token is checked again when that timer fires.
  expiryTimer = setTimeout(
    () => {
      const session = loadSession();
      if (session === null) signOut(EXPIRED_NOTICE);
      else armExpiryTimer(session.expiresAt);
    },
    Math.min(expiresAt - Date.now(), 2 ** 31 - 1),
  );
}

function startSession() {
  const session = loadSession();
  if (session === null) return showLogin();
  armExpiryTimer(session.expiresAt);
  buildShell(session.username);
  if (location.hash === '' || location.hash === '#' || location.hash === '#/') location.replace('#/conversations');
  else route();
  // The stored token is checked against the server once per page load: a restarted gateway with a new secret, or
  // a token from another deployment, sends the user back to the login page at once instead of on the first click.
  api('GET', '/admin/auth/me').then(
    (me) => {
      if (shell !== null && typeof me?.username === 'string') shell.user.textContent = me.username;
    },
    () => undefined,
  );
}

function buildShell(username) {
  const links = SECTIONS.map((s) =>
    h('a', { class: 'nav-link', href: `#/${s.path}`, dataset: { section: s.path } }, s.label),
  );
  const user = h('span', { class: 'user-name', text: username });
  const main = h('main', { class: 'content', id: 'content' });
  replace(
    root,
    h(
      'header',
      { class: 'topbar' },
      h(
        'a',
        { class: 'brand', href: '#/conversations' },
        'llm-gateway ',
        h('span', { class: 'brand-tag', text: 'admin' }),
      ),
      h('nav', { class: 'nav', 'aria-label': 'Sections' }, links),
      h(
        'div',
        { class: 'topbar-user' },
        h('span', { class: 'user-label' }, 'Signed in as ', user),
        h(
          'button',
          { type: 'button', class: 'button button-small', onClick: () => signOut('You have signed out.') },
          'Log out',
        ),
      ),
    ),
    main,
  );
  shell = { links, user, main };
}

/** Hash routes: #/conversations[?search=…], #/conversations/<id>, #/llm-configs, #/api-keys, #/stats[?days=…]. */
function route() {
  if (shell === null) return;
  const [path = '', queryText = ''] = location.hash.replace(/^#\/?/, '').split('?');
  const [section, id] = path.split('/');
  const params = new URLSearchParams(queryText);
  for (const link of shell.links) {
    if (link.dataset.section === section) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  // Each view draws into its own container: a slow answer for a view the user already left lands in a detached
  // node instead of over the current view.
  const container = h('section', { class: 'view' });
  replace(shell.main, container);
  switch (section) {
    case 'conversations':
      if (id) renderConversation(container, decodeURIComponent(id));
      else renderConversations(container, params);
      break;
    case 'llm-configs':
      renderLlmConfigs(container);
      break;
    case 'api-keys':
      renderApiKeys(container);
      break;
    case 'stats':
      renderStats(container, params);
      break;
    default:
      location.replace('#/conversations');
  }
}

window.addEventListener('hashchange', () => route());

if (storedSessionExpired()) signOut(EXPIRED_NOTICE);
else if (loadSession() === null) showLogin();
else startSession();
