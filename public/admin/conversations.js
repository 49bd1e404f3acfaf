import { api, ApiError, query } from './api.js';
import { formatTime, h, replace } from './dom.js';
import { badge, confirmedDelete, loadFailed, table } from './ui.js';

const PAGE_SIZES = [20, 50, 100];

const STATUS_TONES = { complete: 'green', aborted: 'amber', error: 'red' };

/** Names of the LLM configs by id, for showing which config a conversation uses; empty if the list fails. */
async function configNames() {
  try {
    const list = await api('GET', '/admin/llm-configs');
    return new Map((list?.data ?? []).map((c) => [c.id, c.name]));
  } catch {
    return new Map();
  }
}

/**
 * The conversation list: search (titles and message text, on the server), page size, and cursor paging. The cursors
 * of the pages already seen are kept, so "Previous" goes back without the API needing a backwards cursor.
 * @param {HTMLElement} container
 * @param {URLSearchParams} params
 */
export function renderConversations(container, params) {
  const search = params.get('search') ?? '';
  let limit = PAGE_SIZES.includes(Number(params.get('limit'))) ? Number(params.get('limit')) : PAGE_SIZES[0];
  /** cursors[i] is the `after` that loads page i; page 0 has none. */
  const cursors = [undefined];
  let page = 0;

  const searchInput = h('input', {
    type: 'search',
    name: 'search',
    value: search,
    placeholder: 'Title or message text',
    'aria-label': 'Search conversations',
  });
  const sizeSelect = h(
    'select',
    {
      'aria-label': 'Conversations per page',
      onChange: () => {
        limit = Number(sizeSelect.value);
        cursors.length = 1;
        page = 0;
        void load();
      },
    },
    PAGE_SIZES.map((n) => h('option', { value: String(n), selected: n === limit }, `${n} per page`)),
  );
  const results = h('div', { class: 'card' }, h('p', { class: 'loading', text: 'Loading…' }));
  const prev = h('button', { type: 'button', class: 'button', onClick: () => go(page - 1) }, '← Previous');
  const next = h('button', { type: 'button', class: 'button', onClick: () => go(page + 1) }, 'Next →');
  const pageLabel = h('span', { class: 'pager-label' });

  replace(
    container,
    h(
      'div',
      { class: 'view-header' },
      h('h1', { text: 'Conversations' }),
      h(
        'form',
        {
          class: 'search',
          role: 'search',
          onSubmit: (event) => {
            event.preventDefault();
            const hash = `#/conversations${query({ search: searchInput.value.trim(), limit: limit === PAGE_SIZES[0] ? '' : limit })}`;
            // The search is in the address, so a reload or a shared link shows the same results.
            if (location.hash === hash) void load();
            else location.hash = hash;
          },
        },
        searchInput,
        h('button', { type: 'submit', class: 'button button-primary' }, 'Search'),
      ),
    ),
    results,
    h('div', { class: 'pager' }, sizeSelect, h('div', { class: 'pager-buttons' }, prev, pageLabel, next)),
  );

  function go(target) {
    if (target < 0 || target >= cursors.length) return;
    page = target;
    void load();
  }

  async function load() {
    prev.disabled = true;
    next.disabled = true;
    try {
      const [list, names] = await Promise.all([
        api('GET', `/admin/conversations${query({ search, limit, after: cursors[page] })}`),
        configNames(),
      ]);
      const rows = (list?.data ?? []).map((c) =>
        h(
          'tr',
          {
            class: 'row-link',
            // The whole row opens the conversation; the title stays a real link for the keyboard and new tabs.
            onClick: (event) => {
              if (!(event.target instanceof HTMLAnchorElement))
                location.hash = `#/conversations/${encodeURIComponent(c.id)}`;
            },
          },
          h(
            'td',
            {},
            h('a', {
              href: `#/conversations/${encodeURIComponent(c.id)}`,
              class: c.title ? null : 'untitled',
              text: c.title || 'Untitled',
            }),
          ),
          h('td', { class: 'mono muted', text: c.id }),
          h('td', { text: c.llm_config_id ? (names.get(c.llm_config_id) ?? c.llm_config_id) : '—' }),
          h('td', { class: 'nowrap', text: formatTime(c.updated_at) }),
          h('td', { class: 'nowrap', text: formatTime(c.created_at) }),
        ),
      );
      replace(
        results,
        table(
          [{ label: 'Title' }, { label: 'ID' }, { label: 'LLM config' }, { label: 'Updated' }, { label: 'Created' }],
          rows,
          search ? `No conversation matches “${search}”.` : 'No conversations yet.',
        ),
      );
      if (list?.has_more && list.next_cursor) cursors[page + 1] = list.next_cursor;
      else cursors.length = page + 1;
      prev.disabled = page === 0;
      next.disabled = page + 1 >= cursors.length;
      pageLabel.textContent = `Page ${page + 1}`;
    } catch (err) {
      loadFailed(results, err);
    }
  }

  void load();
}

/** Message content as the client sent it: a string, or content parts (text shown as text, the rest as JSON). */
function contentNodes(content) {
  if (content === null || content === undefined) return [h('span', { class: 'muted', text: '(no content)' })];
  if (typeof content === 'string') return [content === '' ? h('span', { class: 'muted', text: '(empty)' }) : content];
  return content.map((part) =>
    part && part.type === 'text' && typeof part.text === 'string'
      ? h('div', { text: part.text })
      : h('pre', { class: 'json', text: JSON.stringify(part, null, 2) }),
  );
}

function messageMeta(m) {
  const meta = [];
  if (m.model) meta.push(m.model);
  if (m.finish_reason) meta.push(`finish: ${m.finish_reason}`);
  if (m.usage) meta.push(`tokens: ${m.usage.prompt_tokens ?? '?'} in / ${m.usage.completion_tokens ?? '?'} out`);
  if (typeof m.ttft_ms === 'number') meta.push(`TTFT ${m.ttft_ms} ms`);
  if (typeof m.duration_ms === 'number') meta.push(`${m.duration_ms} ms`);
  if (m.request_id) meta.push(`request ${m.request_id}`);
  return meta.join(' · ');
}

/**
 * One conversation: its details and its messages, oldest first, each with its status.
 * @param {HTMLElement} container
 * @param {string} id
 */
export function renderConversation(container, id) {
  replace(container, h('p', { class: 'loading', text: 'Loading…' }));
  void (async () => {
    try {
      const [c, names] = await Promise.all([
        api('GET', `/admin/conversations/${encodeURIComponent(id)}`),
        configNames(),
      ]);
      const del = h('button', { type: 'button', class: 'button button-danger' }, 'Delete conversation');
      del.addEventListener('click', () =>
        confirmedDelete(
          del,
          {
            title: 'Delete this conversation?',
            message: 'The conversation and all of its messages are deleted for good.',
            confirmLabel: 'Delete',
            path: `/admin/conversations/${encodeURIComponent(id)}`,
            done: 'Conversation deleted.',
          },
          () => {
            location.hash = '#/conversations';
          },
        ),
      );
      const messages = c.messages ?? [];
      replace(
        container,
        h('a', { class: 'back-link', href: '#/conversations' }, '← All conversations'),
        h('div', { class: 'view-header' }, h('h1', { text: c.title || 'Untitled conversation' }), del),
        h(
          'dl',
          { class: 'details card' },
          detail('ID', h('span', { class: 'mono', text: c.id })),
          detail('LLM config', c.llm_config_id ? (names.get(c.llm_config_id) ?? c.llm_config_id) : '—'),
          detail('Created', formatTime(c.created_at)),
          detail('Updated', formatTime(c.updated_at)),
          detail('Messages', String(messages.length) + (c.has_more_messages ? ' (newest shown)' : '')),
          Object.keys(c.metadata ?? {}).length > 0
            ? detail('Metadata', h('span', { class: 'mono', text: JSON.stringify(c.metadata) }))
            : null,
        ),
        c.has_more_messages
          ? h('p', { class: 'muted', text: 'Older messages exist; only the newest are shown here.' })
          : null,
        messages.length === 0
          ? h('p', { class: 'empty card', text: 'No messages yet.' })
          : h(
              'ol',
              { class: 'thread', 'aria-label': 'Messages' },
              messages.map((m) =>
                h(
                  'li',
                  { class: `message message-${m.role}`, dataset: { status: m.status } },
                  h(
                    'div',
                    { class: 'message-head' },
                    h('span', { class: 'message-role', text: m.role }),
                    badge(m.status, STATUS_TONES[m.status] ?? 'grey'),
                    h('span', { class: 'message-meta', text: messageMeta(m) }),
                    h('span', { class: 'message-time', text: `#${m.seq} · ${formatTime(m.created_at)}` }),
                  ),
                  h('div', { class: 'message-body' }, contentNodes(m.content)),
                  m.reasoning
                    ? h(
                        'details',
                        {},
                        h('summary', { text: 'Reasoning' }),
                        h('div', { class: 'message-body', text: m.reasoning }),
                      )
                    : null,
                  m.tool_calls ? h('pre', { class: 'json', text: JSON.stringify(m.tool_calls, null, 2) }) : null,
                ),
              ),
            ),
      );
    } catch (err) {
      loadFailed(container, err);
      if (!(err instanceof ApiError && err.status === 401)) {
        container.prepend(h('a', { class: 'back-link', href: '#/conversations' }, '← All conversations'));
      }
    }
  })();
}

function detail(label, value) {
  return h('div', { class: 'detail' }, h('dt', { text: label }), h('dd', {}, value));
}
